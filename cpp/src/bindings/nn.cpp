// Bindings of the neural-network operators: validate every argument, release the GIL, call the
// driver. Argument normalization (padding rules, pairs) lives in python/foveal/nn/functional.py.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <utility>
#include <vector>

#include "bindings/common.h"
#include "foveal/ops.h"

namespace py = pybind11;

namespace foveal::bind {
namespace {

using Pair = std::pair<long, long>;
using Padding = std::pair<Pair, Pair>;  // ((top, bottom), (left, right))

// The Keras 3 names (and their aliases: "none", "swish" = "silu", "hard_swish" = "hard_silu").
Activation parse_activation(const std::string& name) {
  static const std::pair<const char*, Activation> names[] = {
      {"linear", Activation::none},         {"none", Activation::none},
      {"relu", Activation::relu},           {"sigmoid", Activation::sigmoid},
      {"tanh", Activation::tanh},           {"relu6", Activation::relu6},
      {"hard_sigmoid", Activation::hard_sigmoid}, {"hard_silu", Activation::hard_silu},
      {"hard_swish", Activation::hard_silu}, {"silu", Activation::silu},
      {"swish", Activation::silu},          {"gelu", Activation::gelu},
      {"leaky_relu", Activation::leaky_relu}, {"elu", Activation::elu},
      {"softplus", Activation::softplus}};
  for (const auto& [n, a] : names)
    if (name == n) return a;
  fail("activation must be one of None, 'linear', 'relu', 'sigmoid', 'tanh', 'relu6', 'hard_sigmoid', "
       "'hard_silu', 'hard_swish', 'silu', 'swish', 'gelu', 'leaky_relu', 'elu', 'softplus', got '" +
       name + "'");
}

// parse_activation for an argument named other than "activation": the message names it.
Activation parse_activation_arg(const std::string& name, const char* arg) {
  try {
    return parse_activation(name);
  } catch (const py::value_error& e) {
    fail(std::string(arg) + ": " + e.what());
  }
}

// Sizes, strides, rates and pads above this are rejected, so no size arithmetic can overflow.
constexpr long kMaxSize = 1L << 30;

void check_pair_positive(const Pair& v, const char* name) {
  if (v.first > kMaxSize || v.second > kMaxSize)
    fail(std::string(name) + " must be <= 2**30, got (" + std::to_string(v.first) + ", " + std::to_string(v.second) + ")");
  if (v.first < 1 || v.second < 1)
    fail(std::string(name) + " must be >= 1, got (" + std::to_string(v.first) + ", " + std::to_string(v.second) + ")");
}

void check_padding(const Padding& pad) {
  for (long v : {pad.first.first, pad.first.second, pad.second.first, pad.second.second})
    if (v < 0 || v > kMaxSize) fail("padding must be in [0, 2**30] on every side, got " + std::to_string(v));
}

// Output extent of a window of `window` (effective) cells sliding with `stride` over in + pads.
long out_extent(long in, long pad0, long pad1, long window, long stride, const char* what) {
  const long padded = in + pad0 + pad1;
  if (window > padded)
    fail(std::string(what) + " (" + std::to_string(window) + ") is larger than the padded input (" +
         std::to_string(padded) + ")");
  return (padded - window) / stride + 1;
}

std::optional<FloatArray> checked_bias(const std::optional<FloatArray>& bias, long n) {
  if (!bias) return bias;
  if (bias->ndim() != 1 || bias->shape(0) != n)
    fail("bias must have shape (" + std::to_string(n) + ",), got " + shape_str(*bias));
  return bias;
}

// Validated parameters of a convolution of x with kernel (shared by conv2d and its backward).
Conv2dParams conv_params(const FloatArray& x, const FloatArray& kernel, Pair strides, Padding padding,
                         Pair dilation, long groups, Activation act) {
  require_ndim(x, 4, "x", "N x H x W x C");
  require_nonempty(x, "x");
  require_ndim(kernel, 4, "kernel", "kh x kw x Cin/groups x Cout");
  require_nonempty(kernel, "kernel");
  check_pair_positive(strides, "strides");
  check_pair_positive(dilation, "dilation_rate");
  check_padding(padding);
  require_positive(groups, "groups");
  if (groups > kMaxSize) fail("groups must be <= 2**30, got " + std::to_string(groups));
  const long n = x.shape(0), h = x.shape(1), w = x.shape(2), c = x.shape(3);
  const long kh = kernel.shape(0), kw = kernel.shape(1), kc = kernel.shape(2), co = kernel.shape(3);
  if (c % groups != 0) fail("groups (" + std::to_string(groups) + ") must divide the input channels (" + std::to_string(c) + ")");
  if (co % groups != 0) fail("groups (" + std::to_string(groups) + ") must divide the kernel's output channels (" + std::to_string(co) + ")");
  if (kc != c / groups)
    fail("kernel must have Cin/groups = " + std::to_string(c / groups) + " input channels (axis 2), got shape " + shape_str(kernel));
  const long oh = out_extent(h, padding.first.first, padding.first.second, dilation.first * (kh - 1) + 1, strides.first, "kernel height");
  const long ow = out_extent(w, padding.second.first, padding.second.second, dilation.second * (kw - 1) + 1, strides.second, "kernel width");
  return {size_t(n), size_t(h), size_t(w), size_t(c), size_t(oh), size_t(ow), size_t(co),
          size_t(kh), size_t(kw), size_t(groups), size_t(strides.first), size_t(strides.second),
          size_t(dilation.first), size_t(dilation.second), size_t(padding.first.first),
          size_t(padding.second.first), act};
}

// dy must have the shape the forward pass produced.
void require_shape(const FloatArray& dy, std::vector<long> shape, const char* what,
                   const char* name = "dy") {
  bool same = dy.ndim() == static_cast<py::ssize_t>(shape.size());
  for (size_t i = 0; same && i < shape.size(); ++i) same = dy.shape(i) == shape[i];
  if (!same) {
    std::string want = "(";
    for (size_t i = 0; i < shape.size(); ++i) want += (i ? ", " : "") + std::to_string(shape[i]);
    fail(std::string(name) + " must have the shape of " + std::string(what) + " " + want + (shape.size() == 1 ? ",)" : ")") +
         ", got " + shape_str(dy));
  }
}

FloatArray conv2d(const py::object& x_in, const py::object& kernel_in, const py::object& bias_in,
                  Pair strides, Padding padding, Pair dilation, long groups,
                  const std::string& activation, const py::object& residual_in) {
  const FloatArray x = to_f32(x_in, "x"), kernel = to_f32(kernel_in, "kernel");
  const std::optional<FloatArray> bias = to_f32_opt(bias_in, "bias");
  const std::optional<FloatArray> residual = to_f32_opt(residual_in, "residual");
  const Conv2dParams p = conv_params(x, kernel, strides, padding, dilation, groups, parse_activation(activation));
  const auto b = checked_bias(bias, long(p.out_c));
  const std::vector<long> out_shape{long(p.batch), long(p.out_h), long(p.out_w), long(p.out_c)};
  if (residual) require_shape(*residual, out_shape, "the convolution's output", "residual");
  auto y = new_array<float>(out_shape);
  const float* bp = b ? b->data() : nullptr;
  const float* rp = residual ? residual->data() : nullptr;
  {
    py::gil_scoped_release release;
    conv2d_f32_nhwc(p, x.data(), kernel.data(), bp, y.mutable_data(), rp);
  }
  return y;
}

// conv2d then pooling of its output in one pass (pool_size windows, strides equal to them, no
// padding); pool is "max" or "average".
py::object conv2d_pool(const py::object& x_in, const py::object& kernel_in, const py::object& bias_in,
                       Pair strides, Padding padding, Pair dilation, long groups,
                       const std::string& activation, Pair pool_size, const std::string& pool, bool keep) {
  const FloatArray x = to_f32(x_in, "x"), kernel = to_f32(kernel_in, "kernel");
  const std::optional<FloatArray> bias = to_f32_opt(bias_in, "bias");
  const Conv2dParams p = conv_params(x, kernel, strides, padding, dilation, groups, parse_activation(activation));
  const auto b = checked_bias(bias, long(p.out_c));
  check_pair_positive(pool_size, "pool_size");
  if (pool_size.first > kMaxSize || pool_size.second > kMaxSize)
    fail("pool_size must be <= 2**30, got (" + std::to_string(pool_size.first) + ", " +
         std::to_string(pool_size.second) + ")");
  if (pool != "max" && pool != "average") fail("pool must be 'max' or 'average', got '" + pool + "'");
  const ConvPool q{size_t(pool_size.first), size_t(pool_size.second), pool == "average"};
  if (p.out_h < q.pool_h || p.out_w < q.pool_w)
    fail("pool_size (" + std::to_string(q.pool_h) + ", " + std::to_string(q.pool_w) +
         ") is larger than the convolution's output (" + std::to_string(p.out_h) + ", " +
         std::to_string(p.out_w) + ")");
  auto y = new_array<float>({long(p.batch), long(p.out_h / q.pool_h), long(p.out_w / q.pool_w), long(p.out_c)});
  std::optional<FloatArray> z;
  if (keep) z = new_array<float>({long(p.batch), long(p.out_h), long(p.out_w), long(p.out_c)});
  const float* bp = b ? b->data() : nullptr;
  float* zp = z ? z->mutable_data() : nullptr;
  {
    py::gil_scoped_release release;
    conv2d_pool_f32_nhwc(p, q, x.data(), kernel.data(), bp, y.mutable_data(), zp);
  }
  if (keep) return py::make_tuple(*z, y);
  return std::move(y);
}

// A 4-D kernel of the given shape (-1: any extent), named for the message.
void require_kernel(const FloatArray& k, std::vector<long> shape, const char* name, const char* layout) {
  bool ok = k.ndim() == 4;
  for (size_t i = 0; ok && i < 4; ++i) ok = shape[i] < 0 ? k.shape(i) >= 1 : k.shape(i) == shape[i];
  if (!ok) fail(std::string(name) + " must be " + layout + ", got shape " + shape_str(k));
}

// MobileNetV2's inverted-residual block in one pass (inference): Keras kernel layouts.
FloatArray inverted_residual(const py::object& x_in, const py::object& expand_kernel_in,
                             const py::object& expand_bias_in, const py::object& dw_kernel_in,
                             const py::object& dw_bias_in, const py::object& project_kernel_in,
                             const py::object& project_bias_in, Pair strides, Padding padding,
                             const std::string& expand_activation, const std::string& dw_activation,
                             const py::object& residual_in, const py::object& expand_scale_in,
                             const py::object& dw_scale_in, const py::object& project_scale_in) {
  const FloatArray x = to_f32(x_in, "x");
  const std::optional<FloatArray> ek = to_f32_opt(expand_kernel_in, "expand_kernel");
  const std::optional<FloatArray> eb = to_f32_opt(expand_bias_in, "expand_bias");
  const FloatArray dk = to_f32(dw_kernel_in, "dw_kernel"), pk = to_f32(project_kernel_in, "project_kernel");
  const std::optional<FloatArray> db = to_f32_opt(dw_bias_in, "dw_bias");
  const std::optional<FloatArray> pb = to_f32_opt(project_bias_in, "project_bias");
  const std::optional<FloatArray> residual = to_f32_opt(residual_in, "residual");
  const std::optional<FloatArray> es = to_f32_opt(expand_scale_in, "expand_scale");
  const std::optional<FloatArray> ds = to_f32_opt(dw_scale_in, "dw_scale");
  const std::optional<FloatArray> ps = to_f32_opt(project_scale_in, "project_scale");
  require_ndim(x, 4, "x", "N x H x W x C");
  require_nonempty(x, "x");
  check_pair_positive(strides, "strides");
  check_padding(padding);
  const long cin = x.shape(3);
  long ch = cin;
  if (ek) {
    require_kernel(*ek, {1, 1, cin, -1}, "expand_kernel", "1 x 1 x Cin x hidden (Cin: x's channels)");
    ch = ek->shape(3);
  } else if (eb) {
    fail("expand_bias must be None without an expand_kernel");
  } else if (es) {
    fail("expand_scale must be None without an expand_kernel");
  }
  require_kernel(dk, {-1, -1, ch, 1}, "dw_kernel", "kh x kw x hidden x 1 (a depthwise kernel of the hidden channels)");
  require_kernel(pk, {1, 1, ch, -1}, "project_kernel", "1 x 1 x hidden x Cout");
  const long co = pk.shape(3);
  // the per-channel vectors: one float per channel of the kernel they belong to, or None
  auto check_vector = [](const std::optional<FloatArray>& v, long size, const char* name) {
    if (v && (v->ndim() != 1 || v->shape(0) != size))
      fail(std::string(name) + " must have shape (" + std::to_string(size) + ",), got " + shape_str(*v));
  };
  check_vector(eb, ch, "expand_bias");
  check_vector(db, ch, "dw_bias");
  check_vector(pb, co, "project_bias");
  check_vector(es, ch, "expand_scale");
  check_vector(ds, ch, "dw_scale");
  check_vector(ps, co, "project_scale");
  const long kh = dk.shape(0), kw = dk.shape(1);
  const long oh = out_extent(x.shape(1), padding.first.first, padding.first.second, kh, strides.first, "dw_kernel height");
  const long ow = out_extent(x.shape(2), padding.second.first, padding.second.second, kw, strides.second, "dw_kernel width");
  const std::vector<long> out_shape{long(x.shape(0)), oh, ow, co};
  if (residual) require_shape(*residual, out_shape, "the block's output", "residual");
  const InvertedResidualParams p{size_t(x.shape(0)), size_t(x.shape(1)), size_t(x.shape(2)), size_t(cin),
                                 size_t(ch), size_t(oh), size_t(ow), size_t(co), size_t(kh), size_t(kw),
                                 size_t(strides.first), size_t(strides.second), size_t(padding.first.first),
                                 size_t(padding.second.first),
                                 parse_activation_arg(expand_activation, "expand_activation"),
                                 parse_activation_arg(dw_activation, "dw_activation")};
  auto y = new_array<float>(out_shape);
  auto ptr = [](const std::optional<FloatArray>& a) { return a ? a->data() : nullptr; };
  {
    py::gil_scoped_release release;
    inverted_residual_f32_nhwc(p, x.data(), ptr(ek), ptr(eb), dk.data(), ptr(db), pk.data(), ptr(pb),
                               ptr(residual), y.mutable_data(), {ptr(es), ptr(ds), ptr(ps)});
  }
  return y;
}

// conv2d without an activation that also returns the per-channel moments (mean and M2, float64)
// of its output, for the batch normalization that follows it in training.
py::tuple conv2d_moments(const py::object& x_in, const py::object& kernel_in, const py::object& bias_in,
                         Pair strides, Padding padding, Pair dilation, long groups) {
  const FloatArray x = to_f32(x_in, "x"), kernel = to_f32(kernel_in, "kernel");
  const std::optional<FloatArray> bias = to_f32_opt(bias_in, "bias");
  const Conv2dParams p = conv_params(x, kernel, strides, padding, dilation, groups, Activation::none);
  const auto b = checked_bias(bias, long(p.out_c));
  auto y = new_array<float>({long(p.batch), long(p.out_h), long(p.out_w), long(p.out_c)});
  auto mean = new_array<double>({long(p.out_c)});
  auto m2 = new_array<double>({long(p.out_c)});
  const float* bp = b ? b->data() : nullptr;
  {
    py::gil_scoped_release release;
    conv2d_moments_f32_nhwc(p, x.data(), kernel.data(), bp, y.mutable_data(), mean.mutable_data(),
                            m2.mutable_data());
  }
  return py::make_tuple(y, mean, m2);
}

// The (dx, dkernel, dbias) tuple of a backward binding: None for what was not asked for.
py::tuple grads_tuple(const std::optional<FloatArray>& dx, const std::optional<FloatArray>& dk,
                      const std::optional<FloatArray>& db) {
  auto obj = [](const std::optional<FloatArray>& a) { return a ? py::object(*a) : py::object(py::none()); };
  return py::make_tuple(obj(dx), obj(dk), obj(db));
}

// need_dx / need_dkernel false: that gradient is not computed (None). Both false: the arguments
// are still checked, then (None, None, None) with no work.
py::tuple conv2d_backward(const py::object& dy_in, const py::object& x_in, const py::object& kernel_in,
                          Pair strides, Padding padding, Pair dilation, long groups, bool need_dx,
                          bool need_dkernel, bool need_dbias) {
  const FloatArray dy = to_f32(dy_in, "dy"), x = to_f32(x_in, "x"), kernel = to_f32(kernel_in, "kernel");
  const Conv2dParams p = conv_params(x, kernel, strides, padding, dilation, groups, Activation::none);
  require_shape(dy, {long(p.batch), long(p.out_h), long(p.out_w), long(p.out_c)}, "the conv2d output");
  std::optional<FloatArray> dx, dk, db;
  if (need_dx) dx.emplace(new_array<float>(std::vector<py::ssize_t>(x.shape(), x.shape() + 4)));
  if (need_dkernel) {
    dk.emplace(new_array<float>(std::vector<py::ssize_t>(kernel.shape(), kernel.shape() + 4)));
    if (need_dbias) db.emplace(new_array<float>({long(p.out_c)}));
  }
  if (!need_dx && !need_dkernel) return grads_tuple(dx, dk, db);
  float* dxp = dx ? dx->mutable_data() : nullptr;
  float* dkp = dk ? dk->mutable_data() : nullptr;
  float* dbp = db ? db->mutable_data() : nullptr;
  {
    py::gil_scoped_release release;
    conv2d_backward_f32_nhwc(p, x.data(), kernel.data(), dy.data(), dxp, dkp, dbp);
  }
  return grads_tuple(dx, dk, db);
}

Pool2dParams pool_params(const FloatArray& x, Pair pool, Pair strides, Padding padding) {
  require_ndim(x, 4, "x", "N x H x W x C");
  require_nonempty(x, "x");
  check_pair_positive(pool, "pool_size");
  check_pair_positive(strides, "strides");
  check_padding(padding);
  if (padding.first.first >= pool.first || padding.first.second >= pool.first ||
      padding.second.first >= pool.second || padding.second.second >= pool.second)
    fail("padding must be smaller than pool_size on every side");
  const long h = x.shape(1), w = x.shape(2);
  const long oh = out_extent(h, padding.first.first, padding.first.second, pool.first, strides.first, "pool_size height");
  const long ow = out_extent(w, padding.second.first, padding.second.second, pool.second, strides.second, "pool_size width");
  return {size_t(x.shape(0)), size_t(h), size_t(w), size_t(x.shape(3)), size_t(oh), size_t(ow),
          size_t(pool.first), size_t(pool.second), size_t(strides.first), size_t(strides.second),
          size_t(padding.first.first), size_t(padding.second.first)};
}

template <void (*Driver)(const Pool2dParams&, const float*, float*)>
FloatArray pool2d(const py::object& x_in, Pair pool, Pair strides, Padding padding) {
  const FloatArray x = to_f32(x_in, "x");
  const Pool2dParams p = pool_params(x, pool, strides, padding);
  auto y = new_array<float>({long(p.batch), long(p.out_h), long(p.out_w), long(p.channels)});
  {
    py::gil_scoped_release release;
    Driver(p, x.data(), y.mutable_data());
  }
  return y;
}

FloatArray max_pool2d_backward(const py::object& dy_in, const py::object& x_in, Pair pool, Pair strides,
                               Padding padding, bool through_relu) {
  const FloatArray dy = to_f32(dy_in, "dy"), x = to_f32(x_in, "x");
  const Pool2dParams p = pool_params(x, pool, strides, padding);
  require_shape(dy, {long(p.batch), long(p.out_h), long(p.out_w), long(p.channels)}, "the pooling output");
  auto dx = new_array<float>(std::vector<py::ssize_t>(x.shape(), x.shape() + 4));
  {
    py::gil_scoped_release release;
    max_pool2d_backward_f32_nhwc(p, x.data(), dy.data(), dx.mutable_data(), through_relu);
  }
  return dx;
}

FloatArray avg_pool2d_backward(const py::object& dy_in, const py::object& x_in, Pair pool, Pair strides,
                               Padding padding) {
  const FloatArray dy = to_f32(dy_in, "dy"), x = to_f32(x_in, "x");
  const Pool2dParams p = pool_params(x, pool, strides, padding);
  require_shape(dy, {long(p.batch), long(p.out_h), long(p.out_w), long(p.channels)}, "the pooling output");
  auto dx = new_array<float>(std::vector<py::ssize_t>(x.shape(), x.shape() + 4));
  {
    py::gil_scoped_release release;
    avg_pool2d_backward_f32_nhwc(p, dy.data(), dx.mutable_data());
  }
  return dx;
}

FloatArray global_pool_backward(const py::object& dy_in, const py::object& x_in, bool is_max) {
  const FloatArray dy = to_f32(dy_in, "dy"), x = to_f32(x_in, "x");
  require_ndim(x, 4, "x", "N x H x W x C");
  require_nonempty(x, "x");
  const size_t n = x.shape(0), hw = x.shape(1) * x.shape(2), c = x.shape(3);
  require_shape(dy, {long(n), long(c)}, "the global pooling output");
  auto dx = new_array<float>(std::vector<py::ssize_t>(x.shape(), x.shape() + 4));
  {
    py::gil_scoped_release release;
    if (is_max) global_max_pool2d_backward_f32(n, hw, c, x.data(), dy.data(), dx.mutable_data());
    else global_avg_pool2d_backward_f32(n, hw, c, dy.data(), dx.mutable_data());
  }
  return dx;
}

template <void (*Driver)(size_t, size_t, size_t, const float*, float*)>
FloatArray global_pool(const py::object& x_in) {
  const FloatArray x = to_f32(x_in, "x");
  require_ndim(x, 4, "x", "N x H x W x C");
  require_nonempty(x, "x");
  const size_t n = x.shape(0), hw = x.shape(1) * x.shape(2), c = x.shape(3);
  auto y = new_array<float>({long(n), long(c)});
  {
    py::gil_scoped_release release;
    Driver(n, hw, c, x.data(), y.mutable_data());
  }
  return y;
}

FloatArray dense(const py::object& x_in, const py::object& kernel_in, const py::object& bias_in,
                 const std::string& activation) {
  const FloatArray x = to_f32(x_in, "x"), kernel = to_f32(kernel_in, "kernel");
  const std::optional<FloatArray> bias = to_f32_opt(bias_in, "bias");
  require_ndim(x, 2, "x", "batch x features");
  require_nonempty(x, "x");
  require_ndim(kernel, 2, "kernel", "in x out");
  require_nonempty(kernel, "kernel");
  const Activation act = parse_activation(activation);
  if (kernel.shape(0) != x.shape(1))
    fail("kernel must have " + std::to_string(x.shape(1)) + " rows (the input features), got shape " + shape_str(kernel));
  const auto b = checked_bias(bias, kernel.shape(1));
  const size_t m = x.shape(0), k = x.shape(1), n = kernel.shape(1);
  auto y = new_array<float>({long(m), long(n)});
  const float* bp = b ? b->data() : nullptr;
  {
    py::gil_scoped_release release;
    dense_f32(m, k, n, x.data(), kernel.data(), bp, y.mutable_data(), act);
  }
  return y;
}

// As conv2d_backward: need_dx / need_dkernel false gives None for that gradient (both: no work).
py::tuple dense_backward(const py::object& dy_in, const py::object& x_in, const py::object& kernel_in, bool need_dx,
                         bool need_dkernel) {
  const FloatArray dy = to_f32(dy_in, "dy"), x = to_f32(x_in, "x"), kernel = to_f32(kernel_in, "kernel");
  require_ndim(x, 2, "x", "batch x features");
  require_nonempty(x, "x");
  require_ndim(kernel, 2, "kernel", "in x out");
  require_nonempty(kernel, "kernel");
  if (kernel.shape(0) != x.shape(1))
    fail("kernel must have " + std::to_string(x.shape(1)) + " rows (the input features), got shape " + shape_str(kernel));
  const size_t m = x.shape(0), k = x.shape(1), n = kernel.shape(1);
  require_shape(dy, {long(m), long(n)}, "the dense output");
  std::optional<FloatArray> dx, dk, db;
  if (need_dx) dx.emplace(new_array<float>({long(m), long(k)}));
  if (need_dkernel) {
    dk.emplace(new_array<float>({long(k), long(n)}));
    db.emplace(new_array<float>({long(n)}));
  }
  if (!need_dx && !need_dkernel) return grads_tuple(dx, dk, db);
  float* dxp = dx ? dx->mutable_data() : nullptr;
  float* dkp = dk ? dk->mutable_data() : nullptr;
  float* dbp = db ? db->mutable_data() : nullptr;
  {
    py::gil_scoped_release release;
    dense_backward_f32(m, k, n, x.data(), kernel.data(), dy.data(), dxp, dkp, dbp);
  }
  return grads_tuple(dx, dk, db);
}

// dy * f'(x): from the forward input x for silu, hard_silu and gelu (x required, y may be None),
// from the forward output y for the others (y required, x may be None). Whichever of y and x is
// given must have dy's shape.
FloatArray activation_backward(const py::object& dy_in, const py::object& y_in, const std::string& name,
                               const py::object& x_in) {
  const FloatArray dy = to_f32(dy_in, "dy");
  const std::optional<FloatArray> y = to_f32_opt(y_in, "y"), x = to_f32_opt(x_in, "x");
  const Activation act = parse_activation(name);
  const bool from_x = activation_grad_from_input(act);
  if (from_x && !x) fail("x (the activation's input) is required for activation '" + name + "'");
  if (!from_x && !y) fail("y (the activation's output) is required for activation '" + name + "'");
  for (const auto& [arr, what] : {std::pair{&y, "y"}, std::pair{&x, "x"}}) {
    if (!*arr) continue;
    require_shape(dy, std::vector<long>((*arr)->shape(), (*arr)->shape() + (*arr)->ndim()), what);
  }
  const FloatArray& src = from_x ? *x : *y;
  auto dx = new_array<float>(std::vector<py::ssize_t>(src.shape(), src.shape() + src.ndim()));
  {
    py::gil_scoped_release release;
    activation_backward_f32(size_t(src.size()), dy.data(), src.data(), dx.mutable_data(), act);
  }
  return dx;
}

FloatArray activation(const py::object& x_in, const std::string& name) {
  const FloatArray x = to_f32(x_in, "x");
  const Activation act = parse_activation(name);
  auto y = new_array<float>(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  {
    py::gil_scoped_release release;
    activation_f32(size_t(x.size()), x.data(), y.mutable_data(), act);
  }
  return y;
}

FloatArray add(const py::object& a_in, const py::object& b_in, const std::string& name) {
  const FloatArray a = to_f32(a_in, "a"), b = to_f32(b_in, "b");
  const Activation act = parse_activation(name);
  const std::vector<long> shape(a.shape(), a.shape() + a.ndim());
  require_shape(b, shape, "a", "b");
  auto y = new_array<float>(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
  {
    py::gil_scoped_release release;
    add_f32(size_t(a.size()), a.data(), b.data(), y.mutable_data(), act);
  }
  return y;
}

FloatArray softmax(const py::object& x_in) {
  const FloatArray x = to_f32(x_in, "x");
  require_ndim(x, 2, "x", "rows x classes");
  auto y = new_array<float>({x.shape(0), x.shape(1)});
  if (x.size() == 0) return y;
  {
    py::gil_scoped_release release;
    softmax_f32(size_t(x.shape(0)), size_t(x.shape(1)), x.data(), y.mutable_data());
  }
  return y;
}

}  // namespace

void init_nn(py::module_& m) {
  m.def("add", &add, py::arg("a"), py::arg("b"), py::arg("activation") = "linear",
        "activation(a + b) for two float32 arrays of one shape, on the threads.");
  m.def("conv2d", &conv2d, py::arg("x"), py::arg("kernel"), py::arg("bias"), py::arg("strides"),
        py::arg("padding"), py::arg("dilation_rate"), py::arg("groups"), py::arg("activation"),
        py::arg("residual") = py::none(),
        "NHWC conv2d with explicit ((top, bottom), (left, right)) padding; residual (like the "
        "output, or None) is added before the activation.");
  m.def("conv2d_pool", &conv2d_pool, py::arg("x"), py::arg("kernel"), py::arg("bias"), py::arg("strides"),
        py::arg("padding"), py::arg("dilation_rate"), py::arg("groups"), py::arg("activation"),
        py::arg("pool_size"), py::arg("pool"), py::arg("keep") = false,
        "conv2d (as _core.conv2d, no residual) and the 'max' or 'average' pooling of its output "
        "(pool_size windows, strides equal to them, no padding) in one pass; with keep, "
        "(convolution output, pooled output).");
  m.def("inverted_residual", &inverted_residual, py::arg("x"), py::arg("expand_kernel"),
        py::arg("expand_bias"), py::arg("dw_kernel"), py::arg("dw_bias"), py::arg("project_kernel"),
        py::arg("project_bias"), py::arg("strides"), py::arg("padding"),
        py::arg("expand_activation"), py::arg("dw_activation"), py::arg("residual") = py::none(),
        py::arg("expand_scale") = py::none(), py::arg("dw_scale") = py::none(),
        py::arg("project_scale") = py::none(),
        "MobileNetV2's inverted-residual block (1x1 expansion or None, depthwise, linear 1x1 "
        "projection, residual added) in one pass per band of rows; Keras kernel layouts, "
        "explicit ((top, bottom), (left, right)) padding of the depthwise convolution. Each "
        "*_scale (one float32 per output channel of that kernel, or None) multiplies its kernel's "
        "output channels before use, as kernel * scale would (a folded batch normalization).");
  m.def("conv2d_moments", &conv2d_moments, py::arg("x"), py::arg("kernel"), py::arg("bias"),
        py::arg("strides"), py::arg("padding"), py::arg("dilation_rate"), py::arg("groups"),
        "(y, mean, m2): conv2d without an activation, and the per-channel mean and sum of squared "
        "deviations (float64) of y over every pixel, taken while its rows are in cache.");
  m.def("conv2d_backward", &conv2d_backward, py::arg("dy"), py::arg("x"), py::arg("kernel"),
        py::arg("strides"), py::arg("padding"), py::arg("dilation_rate"), py::arg("groups"),
        py::arg("need_dx"), py::arg("need_dkernel") = true, py::arg("need_dbias") = true,
        "Gradients (dx, dkernel, dbias) of conv2d; None for dx without need_dx, for dkernel and "
        "dbias without need_dkernel, for dbias without need_dbias (a convolution without a bias: "
        "the pass summing dy is skipped).");
  m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("dy"), py::arg("x"), py::arg("pool_size"),
        py::arg("strides"), py::arg("padding"), py::arg("through_relu") = false);
  m.def("avg_pool2d_backward", &avg_pool2d_backward, py::arg("dy"), py::arg("x"), py::arg("pool_size"),
        py::arg("strides"), py::arg("padding"));
  m.def("global_max_pool2d_backward", [](const py::object& dy, const py::object& x) { return global_pool_backward(dy, x, true); },
        py::arg("dy"), py::arg("x"));
  m.def("global_avg_pool2d_backward", [](const py::object& dy, const py::object& x) { return global_pool_backward(dy, x, false); },
        py::arg("dy"), py::arg("x"));
  m.def("dense_backward", &dense_backward, py::arg("dy"), py::arg("x"), py::arg("kernel"), py::arg("need_dx"),
        py::arg("need_dkernel") = true,
        "Gradients (dx, dkernel, dbias) of dense; None as conv2d_backward's.");
  m.def("_weight_grad_macs", [] { return weight_grad_macs(); },
        "Test hook: multiply-adds the weight-gradient passes of conv2d_backward and dense_backward "
        "have run since the last reset (nominal counts, process-wide).");
  m.def("_weight_grad_reset", &reset_weight_grad_macs, "Test hook: sets _weight_grad_macs() to 0.");
  m.def("activation_backward", &activation_backward, py::arg("dy"), py::arg("y"), py::arg("activation"),
        py::arg("x") = py::none());
  m.def("max_pool2d", &pool2d<max_pool2d_f32_nhwc>, py::arg("x"), py::arg("pool_size"),
        py::arg("strides"), py::arg("padding"));
  m.def("avg_pool2d", &pool2d<avg_pool2d_f32_nhwc>, py::arg("x"), py::arg("pool_size"),
        py::arg("strides"), py::arg("padding"));
  m.def("global_max_pool2d", &global_pool<global_max_pool2d_f32>, py::arg("x"));
  m.def("global_avg_pool2d", &global_pool<global_avg_pool2d_f32>, py::arg("x"));
  m.def("dense", &dense, py::arg("x"), py::arg("kernel"), py::arg("bias"), py::arg("activation"));
  m.def("activation", &activation, py::arg("x"), py::arg("activation"));
  m.def("softmax", &softmax, py::arg("x"));
}

}  // namespace foveal::bind
