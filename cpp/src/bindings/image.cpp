// Bindings of the image operators: validate every argument, release the GIL, call the driver.
// Images arrive as C-contiguous uint8 or float32 arrays of N x H x W x C (python/foveal/image
// reshapes gray and single images to that and back).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "bindings/common.h"
#include "foveal/image_ops.h"

namespace py = pybind11;

namespace foveal::bind {
namespace {

enum class PixelType { u8, f32 };

PixelType pixel_type(const py::array& a, const char* name) {
  if (!(a.flags() & py::array::c_style)) fail(std::string(name) + " must be C-contiguous");
  if (a.dtype().is(py::dtype::of<uint8_t>())) return PixelType::u8;
  if (a.dtype().is(py::dtype::of<float>())) return PixelType::f32;
  throw py::type_error(std::string(name) + " must be uint8 or float32, got " + std::string(py::str(a.dtype())));
}

ImageShape image_shape(const py::array& img, const char* name) {
  require_ndim(img, 4, name, "N x H x W x C");
  require_nonempty(img, name);
  return {size_t(img.shape(0)), size_t(img.shape(1)), size_t(img.shape(2)), size_t(img.shape(3))};
}

py::array empty_like_shape(PixelType t, std::vector<py::ssize_t> shape) {
  if (t == PixelType::u8) return new_array<uint8_t>(shape);
  return new_array<float>(shape);
}

template <class T> const T* cptr(const py::array& a) { return static_cast<const T*>(a.data()); }
template <class T> T* mptr(py::array& a) { return static_cast<T*>(a.mutable_data()); }

Border parse_border(const std::string& s) {
  if (s == "constant") return Border::constant;
  if (s == "replicate" || s == "nearest") return Border::replicate;
  if (s == "reflect") return Border::reflect;
  if (s == "reflect101") return Border::reflect101;
  if (s == "wrap") return Border::wrap;
  fail("border must be one of 'constant', 'replicate' (or 'nearest'), 'reflect', 'reflect101', 'wrap', got '" + s + "'");
}

Interp parse_interp(const std::string& s, bool allow_area) {
  if (s == "nearest") return Interp::nearest;
  if (s == "bilinear") return Interp::bilinear;
  if (s == "bicubic") return Interp::bicubic;
  if (s == "area" && allow_area) return Interp::area;
  fail(std::string("interpolation must be one of 'nearest', 'bilinear', 'bicubic'") +
       (allow_area ? ", 'area'" : "") + ", got '" + s + "'");
}

PointwiseOp parse_op(const std::string& s) {
  if (s == "add") return PointwiseOp::add;
  if (s == "subtract") return PointwiseOp::subtract;
  if (s == "blend") return PointwiseOp::blend;
  if (s == "scale") return PointwiseOp::scale;
  if (s == "threshold") return PointwiseOp::threshold;
  fail("op must be one of add, subtract, blend, scale, threshold, got '" + s + "'");
}

py::array pointwise(const std::string& op_name, const py::array& x, const std::optional<py::array>& y,
                    double a, double b, double c) {
  const PointwiseOp op = parse_op(op_name);
  const PixelType t = pixel_type(x, "a");
  const bool binary = op == PointwiseOp::add || op == PointwiseOp::subtract || op == PointwiseOp::blend;
  if (binary) {
    if (!y) fail("b is required");
    if (pixel_type(*y, "b") != t) throw py::type_error("a and b must have the same dtype");
    if (y->ndim() != x.ndim() || !std::equal(x.shape(), x.shape() + x.ndim(), y->shape()))
      fail("a and b must have the same shape, got " + shape_str(x) + " and " + shape_str(*y));
  }
  require_finite_f32(a, "a");
  require_finite_f32(b, "b");
  require_finite_f32(c, "c");
  py::array out = empty_like_shape(t, std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const size_t n = size_t(x.size());
  const PointwiseParams p{float(a), float(b), float(c)};
  const void* yp = binary ? y->data() : nullptr;
  {
    py::gil_scoped_release release;
    if (t == PixelType::u8) pointwise_u8(op, n, cptr<uint8_t>(x), static_cast<const uint8_t*>(yp), p, mptr<uint8_t>(out));
    else pointwise_f32(op, n, cptr<float>(x), static_cast<const float*>(yp), p, mptr<float>(out));
  }
  return out;
}

py::array to_float(const py::array& x, double scale, const py::object& out_arg, bool stream) {
  if (pixel_type(x, "img") != PixelType::u8) throw py::type_error("img must be uint8");
  require_finite_f32(scale, "scale");
  py::array out;
  if (out_arg.is_none()) {
    out = empty_like_shape(PixelType::f32, std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  } else {  // write into the caller's float32 array (a slot of a batch), same shape, C-contiguous
    out = py::reinterpret_borrow<py::array>(out_arg);
    if (!py::isinstance<py::array_t<float>>(out_arg) || !(out.flags() & py::array::c_style) ||
        !out.writeable())
      throw py::type_error("out must be a writable C-contiguous float32 array");
    if (out.ndim() != x.ndim() || !std::equal(x.shape(), x.shape() + x.ndim(), out.shape()))
      fail("out must have img's shape");
  }
  {
    py::gil_scoped_release release;
    u8_to_f32(size_t(x.size()), cptr<uint8_t>(x), float(scale), mptr<float>(out), stream);
  }
  return out;
}

py::array rgb_to_gray(const py::array& img) {
  const PixelType t = pixel_type(img, "img");
  const ImageShape s = image_shape(img, "img");
  if (s.channels != 3 && s.channels != 4) fail("img must have 3 or 4 channels, got " + std::to_string(s.channels));
  py::array out = empty_like_shape(t, {py::ssize_t(s.batch), py::ssize_t(s.height), py::ssize_t(s.width)});
  const size_t pixels = s.batch * s.height * s.width;
  {
    py::gil_scoped_release release;
    if (t == PixelType::u8) rgb_to_gray_u8(pixels, s.channels, cptr<uint8_t>(img), mptr<uint8_t>(out));
    else rgb_to_gray_f32(pixels, s.channels, cptr<float>(img), mptr<float>(out));
  }
  return out;
}

py::array flip(const py::array& img, bool horizontal, bool vertical) {
  const PixelType t = pixel_type(img, "img");
  const ImageShape s = image_shape(img, "img");
  py::array out = empty_like_shape(t, std::vector<py::ssize_t>(img.shape(), img.shape() + 4));
  const size_t pixel_bytes = s.channels * size_t(img.itemsize());
  {
    py::gil_scoped_release release;
    flip_images(s.batch, s.height, s.width, pixel_bytes, horizontal, vertical,
                static_cast<const uint8_t*>(img.data()), static_cast<uint8_t*>(out.mutable_data()));
  }
  return out;
}

// The border value as the image holds it: OpenCV saturates it to uint8 (rounded half to even)
// for uint8 images; float images take it as a float32, so it must be finite there.
float border_value(PixelType t, double cval) {
  require_finite_f32(cval, "cval");
  if (t == PixelType::u8) return static_cast<float>(std::nearbyint(std::min(255.0, std::max(0.0, cval))));
  return static_cast<float>(cval);
}

// The kernels sample at inverse-mapped float32 coordinates m0*x + m1*y + m2: with inverse
// entries beyond 1e30 (a nearly singular matrix, or a translation of 1e300) those overflow to
// inf and 0*inf to NaN, so nothing sensible could come out. A singular matrix (determinant 0)
// stays accepted: its inverse is 0, as OpenCV's invertAffineTransform gives.
void require_invertible(const double* M, const char* name) {
  double D = M[0] * M[4] - M[1] * M[3];
  D = D != 0.0 ? 1.0 / D : 0.0;
  const double a = M[4] * D, b = M[1] * -D, c = M[3] * -D, d = M[0] * D;
  const double inv[6] = {a, b, -a * M[2] - b * M[5], c, d, -c * M[2] - d * M[5]};
  for (double v : inv)
    if (!std::isfinite(v) || std::fabs(v) > 1e30) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", v);
      fail(std::string(name) + " is too close to singular (or translates too far): its inverse has an entry of " +
           buf + ", beyond +-1e30");
    }
}

FilterParams filter_params(const py::array& img, PixelType t, long kh, long kw, long ay, long ax,
                           const std::string& border, double cval) {
  const ImageShape s = image_shape(img, "img");
  if (ay < 0 || ay >= kh || ax < 0 || ax >= kw)
    fail("anchor_y and anchor_x must lie inside the kernel, got (" + std::to_string(ay) + ", " + std::to_string(ax) +
         ") for a " + std::to_string(kh) + " x " + std::to_string(kw) + " kernel");
  const float cv = border_value(t, cval);
  return {s, size_t(kh), size_t(kw), size_t(ay), size_t(ax), parse_border(border), cv};
}

void require_kernel(const FloatArray& k, const char* name, long max_size) {
  require_nonempty(k, name);
  for (py::ssize_t i = 0; i < k.ndim(); ++i)
    if (k.shape(i) > max_size) fail(std::string(name) + " is too large, got shape " + shape_str(k));
  for (py::ssize_t i = 0; i < k.size(); ++i)
    if (!std::isfinite(k.data()[i])) fail(std::string(name) + " must be finite (within the float32 range)");
}

constexpr long kMaxKernel = 1 << 12;

py::array filter2d(const py::array& img, const py::object& kernel_in, long ay, long ax,
                   const std::string& border, double cval) {
  const FloatArray kernel = to_f32(kernel_in, "kernel");
  const PixelType t = pixel_type(img, "img");
  require_ndim(kernel, 2, "kernel", "kh x kw");
  require_kernel(kernel, "kernel", kMaxKernel);
  const FilterParams p = filter_params(img, t, kernel.shape(0), kernel.shape(1), ay, ax, border, cval);
  py::array out = empty_like_shape(t, std::vector<py::ssize_t>(img.shape(), img.shape() + 4));
  {
    py::gil_scoped_release release;
    if (t == PixelType::u8) filter2d_u8(p, cptr<uint8_t>(img), kernel.data(), mptr<uint8_t>(out));
    else filter2d_f32(p, cptr<float>(img), kernel.data(), mptr<float>(out));
  }
  return out;
}

py::array sep_filter2d(const py::array& img, const py::object& kx_in, const py::object& ky_in, long ay, long ax,
                       const std::string& border, double cval) {
  const FloatArray kx = to_f32(kx_in, "kx"), ky = to_f32(ky_in, "ky");
  const PixelType t = pixel_type(img, "img");
  require_ndim(kx, 1, "kx", "kw");
  require_ndim(ky, 1, "ky", "kh");
  require_kernel(kx, "kx", kMaxKernel);
  require_kernel(ky, "ky", kMaxKernel);
  const FilterParams p = filter_params(img, t, ky.shape(0), kx.shape(0), ay, ax, border, cval);
  py::array out = empty_like_shape(t, std::vector<py::ssize_t>(img.shape(), img.shape() + 4));
  {
    py::gil_scoped_release release;
    if (t == PixelType::u8) sep_filter2d_u8(p, cptr<uint8_t>(img), kx.data(), ky.data(), mptr<uint8_t>(out));
    else sep_filter2d_f32(p, cptr<float>(img), kx.data(), ky.data(), mptr<float>(out));
  }
  return out;
}

constexpr long kMaxSide = 1L << 20;

py::array warp_affine(const py::array& img, const py::object& matrix_in, long out_h, long out_w,
                      const std::string& interpolation, const std::string& border, double cval) {
  const CArray<double> matrix = to_array<double>(matrix_in, "matrix");
  const PixelType t = pixel_type(img, "img");
  const ImageShape s = image_shape(img, "img");
  if (matrix.ndim() != 2 || matrix.shape(0) != 2 || matrix.shape(1) != 3)
    fail("matrix must have shape (2, 3), got " + shape_str(matrix));
  WarpParams p{s, 0, 0, {}, parse_interp(interpolation, false), parse_border(border), border_value(t, cval)};
  for (int i = 0; i < 6; ++i) {
    p.matrix[i] = matrix.data()[i];
    require_finite(p.matrix[i], "matrix");
  }
  require_invertible(p.matrix, "matrix");
  if (out_h < 1 || out_w < 1 || out_h > kMaxSide || out_w > kMaxSide)
    fail("out_h and out_w (output_shape) must be positive (and at most 2**20), got (" + std::to_string(out_h) + ", " + std::to_string(out_w) + ")");
  p.out_h = size_t(out_h);
  p.out_w = size_t(out_w);
  py::array out = empty_like_shape(t, {py::ssize_t(s.batch), out_h, out_w, py::ssize_t(s.channels)});
  {
    py::gil_scoped_release release;
    if (t == PixelType::u8) warp_affine_u8(p, cptr<uint8_t>(img), mptr<uint8_t>(out));
    else warp_affine_f32(p, cptr<float>(img), mptr<float>(out));
  }
  return out;
}

FloatArray augment_batch(const py::object& x_in, const py::object& matrices_in,
                         const std::string& interpolation, const std::string& border, double cval,
                         const py::object& shift_in, const py::object& scale_in, const py::object& add_in,
                         const py::object& clip_in, const py::object& index_in) {
  // A uint8 batch is read as it is (warped to float32 in one pass); anything else as float32.
  const bool u8 = py::isinstance<py::array>(x_in) && py::array(py::reinterpret_borrow<py::array>(x_in)).dtype().is(py::dtype::of<uint8_t>());
  py::array_t<uint8_t, py::array::c_style | py::array::forcecast> xu;
  FloatArray x;
  if (u8) xu = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(x_in);
  else x = to_f32(x_in, "x");
  const py::array& xa = u8 ? static_cast<const py::array&>(xu) : static_cast<const py::array&>(x);
  const std::optional<FloatArray> add = to_f32_opt(add_in, "add");
  std::optional<std::pair<double, double>> clip;
  if (!clip_in.is_none()) {
    const auto c = clip_in.cast<std::vector<double>>();
    if (c.size() != 2 || !(c[0] <= c[1])) fail("clip must be a pair (low, high) with low <= high");
    require_finite(c[0], "clip");
    require_finite(c[1], "clip");
    clip = std::make_pair(c[0], c[1]);
  }
  const CArray<double> matrices = to_array<double>(matrices_in, "matrices");
  const std::optional<FloatArray> shift = to_f32_opt(shift_in, "shift"), scale = to_f32_opt(scale_in, "scale");
  ImageShape s = image_shape(xa, "x");
  if (s.channels > 4) fail("x must have 1 to 4 channels, got shape " + shape_str(xa));
  // index: the batch is x[index] (images of x, any order, repeats allowed), read in place
  std::optional<py::array_t<int64_t, py::array::c_style>> index;
  if (!index_in.is_none()) {
    if (u8) fail("index needs a float32 x");
    if (!py::isinstance<py::array>(index_in) || !py::array(py::reinterpret_borrow<py::array>(index_in)).dtype().is(py::dtype::of<int64_t>()))
      throw py::type_error("index must be an int64 array");
    index = py::array_t<int64_t, py::array::c_style>::ensure(index_in);
    if (!index || index->ndim() != 1 || index->shape(0) < 1)
      fail("index must be a non-empty 1-D int64 array");
    for (py::ssize_t i = 0; i < index->shape(0); ++i)
      if (index->data()[i] < 0 || size_t(index->data()[i]) >= s.batch)
        fail("index values must lie in [0, " + std::to_string(s.batch) + "), got " + std::to_string(index->data()[i]));
    s.batch = size_t(index->shape(0));
  }
  if (matrices.ndim() != 3 || size_t(matrices.shape(0)) != s.batch || matrices.shape(1) != 2 || matrices.shape(2) != 3)
    fail("matrices must have shape (" + std::to_string(s.batch) + ", 2, 3), got " + shape_str(matrices));
  for (py::ssize_t i = 0; i < matrices.size(); ++i) require_finite(matrices.data()[i], "matrices");
  for (size_t n = 0; n < s.batch; ++n) require_invertible(matrices.data() + 6 * n, "matrices");
  const AugmentParams p{s, parse_interp(interpolation, false), parse_border(border), border_value(PixelType::f32, cval)};
  if (p.interp == Interp::bicubic) fail("interpolation must be 'nearest' or 'bilinear', got 'bicubic'");
  for (const auto* v : {&shift, &scale}) {
    if (!*v) continue;
    const char* name = v == &shift ? "shift" : "scale";
    if ((*v)->ndim() != 1 || size_t((*v)->shape(0)) != s.batch)
      fail(std::string(name) + " must have shape (" + std::to_string(s.batch) + ",), got " + shape_str(**v));
    for (py::ssize_t i = 0; i < (*v)->size(); ++i) require_finite((*v)->data()[i], name);
  }
  if (add && ((add->ndim() != 1 || size_t(add->shape(0)) != s.batch)))
    fail("add must have shape (" + std::to_string(s.batch) + ",), got " + shape_str(*add));
  if (add)
    for (py::ssize_t i = 0; i < add->size(); ++i) require_finite(add->data()[i], "add");
  if ((add || clip) && !u8) fail("add and clip need a uint8 x");
  if (u8 && (shift || scale)) fail("shift and scale need a float32 x");
  auto out = new_array<float>({py::ssize_t(s.batch), xa.shape(1), xa.shape(2), xa.shape(3)});
  {
    py::gil_scoped_release release;
    if (u8)
      augment_batch_u8(p, matrices.data(), add ? add->data() : nullptr, clip ? float(clip->first) : 0.0f,
                       clip ? float(clip->second) : 0.0f, clip.has_value(), xu.data(), out.mutable_data());
    else
      augment_batch_f32(p, matrices.data(), shift ? shift->data() : nullptr, scale ? scale->data() : nullptr,
                        x.data(), out.mutable_data(), index ? index->data() : nullptr);
  }
  return out;
}

py::array resize(const py::array& img, long out_h, long out_w, const std::string& interpolation) {
  const PixelType t = pixel_type(img, "img");
  const ImageShape s = image_shape(img, "img");
  if (out_h < 1 || out_w < 1 || out_h > kMaxSide || out_w > kMaxSide)
    fail("out_h and out_w (size) must be positive (and at most 2**20), got (" + std::to_string(out_h) + ", " + std::to_string(out_w) + ")");
  const ResizeParams p{s, size_t(out_h), size_t(out_w), parse_interp(interpolation, true)};
  py::array out = empty_like_shape(t, {py::ssize_t(s.batch), out_h, out_w, py::ssize_t(s.channels)});
  {
    py::gil_scoped_release release;
    if (t == PixelType::u8) resize_u8(p, cptr<uint8_t>(img), mptr<uint8_t>(out));
    else resize_f32(p, cptr<float>(img), mptr<float>(out));
  }
  return out;
}

}  // namespace

void init_image(py::module_& m) {
  py::module_ im = m.def_submodule("image", "Native image kernels (see foveal.image).");
  im.def("pointwise", &pointwise, py::arg("op"), py::arg("x"), py::arg("y"), py::arg("a"), py::arg("b"), py::arg("c"));
  im.def("to_float", &to_float, py::arg("img"), py::arg("scale"), py::arg("out") = py::none(),
         py::arg("stream") = false);
  im.def("rgb_to_gray", &rgb_to_gray, py::arg("img"));
  im.def("flip", &flip, py::arg("img"), py::arg("horizontal"), py::arg("vertical"));
  im.def("filter2d", &filter2d, py::arg("img"), py::arg("kernel"), py::arg("anchor_y"), py::arg("anchor_x"),
         py::arg("border"), py::arg("cval"));
  im.def("sep_filter2d", &sep_filter2d, py::arg("img"), py::arg("kx"), py::arg("ky"), py::arg("anchor_y"),
         py::arg("anchor_x"), py::arg("border"), py::arg("cval"));
  im.def("warp_affine", &warp_affine, py::arg("img"), py::arg("matrix"), py::arg("out_h"), py::arg("out_w"),
         py::arg("interpolation"), py::arg("border"), py::arg("cval"));
  im.def("augment_batch", &augment_batch, py::arg("x"), py::arg("matrices"), py::arg("interpolation"),
         py::arg("border"), py::arg("cval"), py::arg("shift"), py::arg("scale"), py::arg("add") = py::none(),
         py::arg("clip") = py::none(), py::arg("index") = py::none());
  im.def("resize", &resize, py::arg("img"), py::arg("out_h"), py::arg("out_w"), py::arg("interpolation"));
}

}  // namespace foveal::bind
