// Bindings of the spatial layout operators (ZeroPadding2D, UpSampling2D and their gradients):
// validate every argument, release the GIL, call the driver (nn/resample2d/resample2d.cpp).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <utility>
#include <vector>

#include "bindings/common.h"
#include "foveal/ops.h"

namespace py = pybind11;

namespace foveal::bind {
namespace {

using Pair = std::pair<long, long>;
using Padding = std::pair<Pair, Pair>;  // ((top, bottom), (left, right))

constexpr long kMaxSize = 1L << 30;

std::string pair_str(const Pair& v) {
  return "(" + std::to_string(v.first) + ", " + std::to_string(v.second) + ")";
}

FloatArray nhwc(const py::object& obj, const char* name) {
  FloatArray a = to_f32(obj, name);
  require_ndim(a, 4, name, "N x H x W x C");
  require_nonempty(a, name);
  return a;
}

Pad2dParams pad_params(const FloatArray& a, const Padding& pad, bool crop) {
  for (long v : {pad.first.first, pad.first.second, pad.second.first, pad.second.second})
    if (v < 0 || v > kMaxSize) fail("padding must be in [0, 2**30] on every side, got " + std::to_string(v));
  const long h = a.shape(1), w = a.shape(2);
  const long ph = pad.first.first + pad.first.second, pw = pad.second.first + pad.second.second;
  if (crop && (ph >= h || pw >= w))
    fail("padding " + pair_str(pad.first) + ", " + pair_str(pad.second) +
         " leaves nothing of dy of shape " + shape_str(a));
  return {size_t(a.shape(0)), size_t(crop ? h - ph : h), size_t(crop ? w - pw : w), size_t(a.shape(3)),
          size_t(pad.first.first), size_t(pad.first.second), size_t(pad.second.first),
          size_t(pad.second.second)};
}

FloatArray zero_pad2d(const py::object& x_in, Padding padding) {
  const FloatArray x = nhwc(x_in, "x");
  const Pad2dParams p = pad_params(x, padding, false);
  auto y = new_array<float>({long(p.batch), long(p.in_h + p.pad_top + p.pad_bottom),
                             long(p.in_w + p.pad_left + p.pad_right), long(p.channels)});
  {
    py::gil_scoped_release release;
    zero_pad2d_f32_nhwc(p, x.data(), y.mutable_data());
  }
  return y;
}

FloatArray zero_pad2d_backward(const py::object& dy_in, Padding padding) {
  const FloatArray dy = nhwc(dy_in, "dy");
  const Pad2dParams p = pad_params(dy, padding, true);
  auto dx = new_array<float>({long(p.batch), long(p.in_h), long(p.in_w), long(p.channels)});
  {
    py::gil_scoped_release release;
    crop2d_f32_nhwc(p, dy.data(), dx.mutable_data());
  }
  return dx;
}

bool parse_interpolation(const std::string& s) {
  if (s == "nearest") return false;
  if (s == "bilinear") return true;
  fail("interpolation must be 'nearest' or 'bilinear', got '" + s + "'");
}

void check_size(const Pair& size) {
  if (size.first < 1 || size.second < 1 || size.first > kMaxSize || size.second > kMaxSize)
    fail("size must be in [1, 2**30], got " + pair_str(size));
}

FloatArray upsample2d(const py::object& x_in, Pair size, const std::string& interpolation) {
  const FloatArray x = nhwc(x_in, "x");
  check_size(size);
  const bool bilinear = parse_interpolation(interpolation);
  const Upsample2dParams p{size_t(x.shape(0)), size_t(x.shape(1)), size_t(x.shape(2)), size_t(x.shape(3)),
                           size_t(size.first), size_t(size.second), bilinear};
  // in_h * size_h < 2**61: new_array refuses the result before anything can overflow.
  auto y = new_array<float>({long(p.batch), long(p.in_h * p.size_h), long(p.in_w * p.size_w), long(p.channels)});
  {
    py::gil_scoped_release release;
    upsample2d_f32_nhwc(p, x.data(), y.mutable_data());
  }
  return y;
}

FloatArray upsample2d_backward(const py::object& dy_in, Pair size, const std::string& interpolation) {
  const FloatArray dy = nhwc(dy_in, "dy");
  check_size(size);
  const bool bilinear = parse_interpolation(interpolation);
  if (dy.shape(1) % size.first != 0 || dy.shape(2) % size.second != 0)
    fail("dy must have a height and width that are multiples of size " + pair_str(size) + ", got shape " +
         shape_str(dy));
  const Upsample2dParams p{size_t(dy.shape(0)), size_t(dy.shape(1) / size.first),
                           size_t(dy.shape(2) / size.second), size_t(dy.shape(3)),
                           size_t(size.first), size_t(size.second), bilinear};
  auto dx = new_array<float>({long(p.batch), long(p.in_h), long(p.in_w), long(p.channels)});
  {
    py::gil_scoped_release release;
    upsample2d_backward_f32_nhwc(p, dy.data(), dx.mutable_data());
  }
  return dx;
}

}  // namespace

void init_resample2d(py::module_& m) {
  m.def("zero_pad2d", &zero_pad2d, py::arg("x"), py::arg("padding"),
        "NHWC zero padding by ((top, bottom), (left, right)).");
  m.def("zero_pad2d_backward", &zero_pad2d_backward, py::arg("dy"), py::arg("padding"),
        "Gradient of zero_pad2d: the interior of dy.");
  m.def("upsample2d", &upsample2d, py::arg("x"), py::arg("size"), py::arg("interpolation"),
        "NHWC upsampling by integer factors, 'nearest' (repeat) or 'bilinear' (half-pixel centres).");
  m.def("upsample2d_backward", &upsample2d_backward, py::arg("dy"), py::arg("size"),
        py::arg("interpolation"), "Gradient of upsample2d with respect to its input.");
}

}  // namespace foveal::bind
