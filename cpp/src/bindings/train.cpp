// Bindings of the training kernels: batch normalization, dropout, softmax cross-entropy and the
// optimizer steps. Matrices are rows x channels (callers flatten NHWC batches); the optimizer
// steps update float32 arrays in place.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings/common.h"
#include "foveal/ops.h"

namespace py = pybind11;

namespace foveal::bind {
namespace {

using MutableArray = py::array_t<float>;  // no forcecast: updated in place

void require_vector(const py::array& v, long c, const char* name) {
  if (v.ndim() != 1 || v.shape(0) != c)
    fail(std::string(name) + " must have shape (" + std::to_string(c) + ",), got " + shape_str(v));
}

void require_same_shape(const py::array& a, const py::array& b, const char* name, const char* ref) {
  bool same = a.ndim() == b.ndim();
  for (py::ssize_t i = 0; same && i < a.ndim(); ++i) same = a.shape(i) == b.shape(i);
  if (!same) fail(std::string(name) + " must have the shape of " + ref + " " + shape_str(b) + ", got " + shape_str(a));
}

// An array the step writes into: float32, C-contiguous, writeable, of g's shape.
float* inplace(const py::array& a, const py::array& g, const char* name) {
  if (!py::isinstance<MutableArray>(a) || !a.dtype().is(py::dtype::of<float>()))
    throw py::type_error(std::string(name) + " must be a float32 array (updated in place), got dtype " +
                         std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style)) fail(std::string(name) + " must be C-contiguous (updated in place)");
  if (!a.writeable()) fail(std::string(name) + " must be writeable (updated in place)");
  require_same_shape(a, g, name, "g");
  return static_cast<float*>(const_cast<void*>(a.data()));
}

// The steps write w and the slots while reading g and each other: shared memory would make the
// result depend on the vector width and the thread split, so it is refused.
void require_disjoint(const std::vector<std::pair<const py::array*, const char*>>& arrays) {
  for (size_t i = 0; i < arrays.size(); ++i) {
    for (size_t j = i + 1; j < arrays.size(); ++j) {
      const py::array* a = arrays[i].first;
      const py::array* b = arrays[j].first;
      if (a == nullptr || b == nullptr || a->nbytes() == 0 || b->nbytes() == 0) continue;
      const char* a0 = static_cast<const char*>(a->data());
      const char* b0 = static_cast<const char*>(b->data());
      if (a0 < b0 + b->nbytes() && b0 < a0 + a->nbytes())
        fail(std::string(arrays[i].second) + " and " + arrays[j].second + " must not share memory");
    }
  }
}

const py::array* opt_ptr(const std::optional<py::array>& a) { return a ? &*a : nullptr; }

float* optional_inplace(const std::optional<py::array>& a, const py::array& g, const char* name) {
  return a ? inplace(*a, g, name) : nullptr;
}

// Training batch normalization, the activation (none, relu, relu6) in the same pass; with_xhat:
// also return xhat (batch_norm_train), else not written (the backward from x recomputes it).
py::tuple bn_train(const py::object& x_in, const py::object& gamma_in, const py::object& beta_in,
                   double epsilon, Activation act, bool with_xhat) {
  const FloatArray x = to_f32(x_in, "x"), gamma = to_f32(gamma_in, "gamma"), beta = to_f32(beta_in, "beta");
  require_ndim(x, 2, "x", "rows x channels");
  require_nonempty(x, "x");
  const long rows = x.shape(0), c = x.shape(1);
  require_vector(gamma, c, "gamma");
  require_vector(beta, c, "beta");
  require_finite_f32(epsilon, "epsilon");
  // The kernel adds epsilon as a float32: one that rounds to 0 there (1e-300) would divide by 0.
  if (!(static_cast<float>(epsilon) > 0.0f))
    fail("epsilon must be > 0 (and not round to 0 as a float32), got " + num_str(epsilon));
  auto y = new_array<float>({rows, c});
  auto xhat = new_array<float>({with_xhat ? rows : 0, c});
  auto mean = new_array<float>({c});
  auto var = new_array<float>({c});
  auto inv_std = new_array<float>({c});
  {
    py::gil_scoped_release release;
    batch_norm_train_f32(size_t(rows), size_t(c), x.data(), gamma.data(), beta.data(), float(epsilon),
                         y.mutable_data(), with_xhat ? xhat.mutable_data() : nullptr, mean.mutable_data(),
                         var.mutable_data(), inv_std.mutable_data(), act);
  }
  if (with_xhat) return py::make_tuple(y, mean, var, inv_std, xhat);
  return py::make_tuple(y, mean, var, inv_std);
}

py::tuple batch_norm_train(const py::object& x_in, const py::object& gamma_in, const py::object& beta_in,
                           double epsilon) {
  return bn_train(x_in, gamma_in, beta_in, epsilon, Activation::none, true);
}

// The activations a training batch normalization may apply in its own pass.
Activation bn_activation(const std::string& name) {
  if (name == "none" || name == "linear") return Activation::none;
  if (name == "relu") return Activation::relu;
  if (name == "relu6") return Activation::relu6;
  fail("activation must be 'none', 'relu' or 'relu6' for a batch normalization, got '" + name + "'");
}

// batch_norm_train without xhat (the backward recomputes it from x), with the activation fused.
py::tuple batch_norm_act_train(const py::object& x_in, const py::object& gamma_in, const py::object& beta_in,
                               double epsilon, const std::string& activation) {
  return bn_train(x_in, gamma_in, beta_in, epsilon, bn_activation(activation), false);
}

// batch_norm_act_train from statistics already computed (conv2d_moments): mean and M2 in float64.
py::tuple batch_norm_act_from_moments(const py::object& x_in, const py::object& mean_in,
                                      const py::object& m2_in, const py::object& gamma_in,
                                      const py::object& beta_in, double epsilon, const std::string& activation) {
  const Activation act = bn_activation(activation);
  const FloatArray x = to_f32(x_in, "x"), gamma = to_f32(gamma_in, "gamma"), beta = to_f32(beta_in, "beta");
  const CArray<double> mean = to_array<double>(mean_in, "mean"), m2 = to_array<double>(m2_in, "m2");
  require_ndim(x, 2, "x", "rows x channels");
  require_nonempty(x, "x");
  const long rows = x.shape(0), c = x.shape(1);
  require_vector(mean, c, "mean");
  require_vector(m2, c, "m2");
  require_vector(gamma, c, "gamma");
  require_vector(beta, c, "beta");
  for (long j = 0; j < c; ++j)
    if (!(m2.data()[j] >= 0.0)) fail("m2 must be >= 0 (a sum of squared deviations), got " + num_str(m2.data()[j]));
  require_finite_f32(epsilon, "epsilon");
  if (!(static_cast<float>(epsilon) > 0.0f))
    fail("epsilon must be > 0 (and not round to 0 as a float32), got " + num_str(epsilon));
  auto y = new_array<float>({rows, c});
  auto mean_out = new_array<float>({c});
  auto var = new_array<float>({c});
  auto inv_std = new_array<float>({c});
  {
    py::gil_scoped_release release;
    batch_norm_train_from_moments_f32(size_t(rows), size_t(c), x.data(), mean.data(), m2.data(), gamma.data(),
                                      beta.data(), float(epsilon), y.mutable_data(), nullptr,
                                      mean_out.mutable_data(), var.mutable_data(), inv_std.mutable_data(), act);
  }
  return py::make_tuple(y, mean_out, var, inv_std);
}

py::tuple batch_norm_act_backward(const py::object& dy_in, const py::object& x_in, const py::object& mean_in,
                                  const py::object& inv_std_in, const py::object& gamma_in,
                                  const py::object& beta_in, const std::string& activation) {
  const Activation act = bn_activation(activation);
  const FloatArray dy = to_f32(dy_in, "dy"), x = to_f32(x_in, "x");
  const FloatArray mean = to_f32(mean_in, "mean"), inv_std = to_f32(inv_std_in, "inv_std");
  const FloatArray gamma = to_f32(gamma_in, "gamma"), beta = to_f32(beta_in, "beta");
  require_ndim(x, 2, "x", "rows x channels");
  require_nonempty(x, "x");
  require_same_shape(dy, x, "dy", "x");
  const long rows = x.shape(0), c = x.shape(1);
  require_vector(mean, c, "mean");
  require_vector(inv_std, c, "inv_std");
  require_vector(gamma, c, "gamma");
  require_vector(beta, c, "beta");
  auto dx = new_array<float>({rows, c});
  auto dgamma = new_array<float>({c});
  auto dbeta = new_array<float>({c});
  {
    py::gil_scoped_release release;
    const BnBackwardParams p{mean.data(), inv_std.data(), gamma.data(), beta.data(), act};
    batch_norm_backward_from_input_f32(size_t(rows), size_t(c), dy.data(), x.data(), p, dx.mutable_data(),
                                       dgamma.mutable_data(), dbeta.mutable_data());
  }
  return py::make_tuple(dx, dgamma, dbeta);
}

py::tuple batch_norm_backward(const py::object& dy_in, const py::object& xhat_in, const py::object& gamma_in,
                              const py::object& inv_std_in) {
  const FloatArray dy = to_f32(dy_in, "dy"), xhat = to_f32(xhat_in, "xhat");
  const FloatArray gamma = to_f32(gamma_in, "gamma"), inv_std = to_f32(inv_std_in, "inv_std");
  require_ndim(xhat, 2, "xhat", "rows x channels");
  require_nonempty(xhat, "xhat");
  require_same_shape(dy, xhat, "dy", "xhat");
  const long rows = xhat.shape(0), c = xhat.shape(1);
  require_vector(gamma, c, "gamma");
  require_vector(inv_std, c, "inv_std");
  auto dx = new_array<float>({rows, c});
  auto dgamma = new_array<float>({c});
  auto dbeta = new_array<float>({c});
  {
    py::gil_scoped_release release;
    batch_norm_backward_f32(size_t(rows), size_t(c), dy.data(), xhat.data(), gamma.data(), inv_std.data(),
                            dx.mutable_data(), dgamma.mutable_data(), dbeta.mutable_data());
  }
  return py::make_tuple(dx, dgamma, dbeta);
}

FloatArray channel_affine(const py::object& x_in, const py::object& shift_in, const py::object& scale_in,
                          const py::object& mul_in, const py::object& add_in) {
  const FloatArray x = to_f32(x_in, "x"), shift = to_f32(shift_in, "shift"), scale = to_f32(scale_in, "scale");
  const std::optional<FloatArray> mul = to_f32_opt(mul_in, "mul");
  const FloatArray add = to_f32(add_in, "add");
  require_ndim(x, 2, "x", "rows x channels");
  const long rows = x.shape(0), c = x.shape(1);
  require_vector(shift, c, "shift");
  require_vector(scale, c, "scale");
  if (mul) require_vector(*mul, c, "mul");
  require_vector(add, c, "add");
  auto y = new_array<float>({rows, c});
  if (x.size() == 0) return y;
  const ChannelAffine p{shift.data(), scale.data(), mul ? mul->data() : nullptr, add.data()};
  {
    py::gil_scoped_release release;
    channel_affine_f32(size_t(rows), size_t(c), x.data(), p, y.mutable_data());
  }
  return y;
}

py::tuple dropout(const py::object& x_in, double keep, uint64_t key) {
  const FloatArray x = to_f32(x_in, "x");
  if (!(keep > 0.0 && keep <= 1.0)) fail("keep must be in (0, 1], got " + num_str(keep));
  std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
  auto y = new_array<float>(shape);
  auto mask = new_array<float>(shape);
  if (x.size() == 0) return py::make_tuple(y, mask);
  {
    py::gil_scoped_release release;
    dropout_f32(size_t(x.size()), x.data(), y.mutable_data(), mask.mutable_data(), key, float(keep));
  }
  return py::make_tuple(y, mask);
}

py::tuple softmax_cross_entropy(const py::object& p_in, const py::object& y_in, bool from_logits, double epsilon) {
  const FloatArray p = to_f32(p_in, "p"), y = to_f32(y_in, "y");
  require_ndim(p, 2, "p", "rows x classes");
  require_nonempty(p, "p");
  require_same_shape(y, p, "y", "p");
  require_finite(epsilon, "epsilon");
  if (!(epsilon >= 0 && epsilon < 0.5)) fail("epsilon must be in [0, 0.5), got " + num_str(epsilon));
  const long rows = p.shape(0), c = p.shape(1);
  auto values = new_array<float>({rows});
  auto grad = new_array<float>({rows, c});
  py::array_t<bool> clipped(rows);
  {
    py::gil_scoped_release release;
    softmax_cross_entropy_f32(size_t(rows), size_t(c), p.data(), y.data(), from_logits, float(epsilon),
                              values.mutable_data(), grad.mutable_data(),
                              reinterpret_cast<uint8_t*>(clipped.mutable_data()));
  }
  return py::make_tuple(values, grad, clipped);
}

void sgd_step(const py::array& w, const py::object& g_in, const std::optional<py::array>& m, double lr,
              double momentum, bool nesterov) {
  const FloatArray g = to_f32(g_in, "g");
  float* wp = inplace(w, g, "w");
  float* mp = optional_inplace(m, g, "m");
  require_disjoint({{&w, "w"}, {opt_ptr(m), "m"}, {&g, "g"}});
  require_finite_f32(lr, "learning_rate");
  require_finite_f32(momentum, "momentum");
  const SgdParams p{float(lr), float(momentum), nesterov};
  py::gil_scoped_release release;
  sgd_step_f32(size_t(g.size()), wp, g.data(), mp, p);
}

void adam_step(const py::array& w, const py::object& g_in, const py::array& m, const py::array& v, double alpha,
               double beta_1, double beta_2, double epsilon) {
  const FloatArray g = to_f32(g_in, "g");
  float* wp = inplace(w, g, "w");
  float* mp = inplace(m, g, "m");
  float* vp = inplace(v, g, "v");
  require_disjoint({{&w, "w"}, {&m, "m"}, {&v, "v"}, {&g, "g"}});
  for (auto [val, name] : {std::pair{alpha, "alpha"}, {beta_1, "beta_1"}, {beta_2, "beta_2"}, {epsilon, "epsilon"}})
    require_finite_f32(val, name);
  const AdamParams p{float(alpha), float(1.0 - beta_1), float(1.0 - beta_2), float(epsilon)};
  py::gil_scoped_release release;
  adam_step_f32(size_t(g.size()), wp, g.data(), mp, vp, p);
}

void rmsprop_step(const py::array& w, const py::object& g_in, const py::array& v, const std::optional<py::array>& m,
                  const std::optional<py::array>& a, double lr, double rho, double momentum, double epsilon) {
  const FloatArray g = to_f32(g_in, "g");
  float* wp = inplace(w, g, "w");
  float* vp = inplace(v, g, "v");
  float* mp = optional_inplace(m, g, "m");
  float* ap = optional_inplace(a, g, "a");
  require_disjoint({{&w, "w"}, {&v, "v"}, {opt_ptr(m), "m"}, {opt_ptr(a), "a"}, {&g, "g"}});
  for (auto [val, name] : {std::pair{lr, "learning_rate"}, {rho, "rho"}, {momentum, "momentum"}, {epsilon, "epsilon"}})
    require_finite_f32(val, name);
  const RmspropParams p{float(lr), float(rho), float(1.0 - rho), float(momentum), float(epsilon)};
  py::gil_scoped_release release;
  rmsprop_step_f32(size_t(g.size()), wp, g.data(), vp, mp, ap, p);
}

}  // namespace

void init_train(py::module_& m) {
  m.def("batch_norm_train", &batch_norm_train, py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("epsilon"));
  m.def("batch_norm_backward", &batch_norm_backward, py::arg("dy"), py::arg("xhat"), py::arg("gamma"),
        py::arg("inv_std"));
  m.def("batch_norm_act_from_moments", &batch_norm_act_from_moments, py::arg("x"), py::arg("mean"),
        py::arg("m2"), py::arg("gamma"), py::arg("beta"), py::arg("epsilon"), py::arg("activation"),
        "batch_norm_act_train with the batch statistics given: mean and m2 (the sum of squared "
        "deviations, float64), as conv2d_moments returns them.");
  m.def("batch_norm_act_train", &batch_norm_act_train, py::arg("x"), py::arg("gamma"), py::arg("beta"),
        py::arg("epsilon"), py::arg("activation"));
  m.def("batch_norm_act_backward", &batch_norm_act_backward, py::arg("dy"), py::arg("x"), py::arg("mean"),
        py::arg("inv_std"), py::arg("gamma"), py::arg("beta"), py::arg("activation"));
  m.def("channel_affine", &channel_affine, py::arg("x"), py::arg("shift"), py::arg("scale"), py::arg("mul"),
        py::arg("add"));
  m.def("dropout", &dropout, py::arg("x"), py::arg("keep"), py::arg("key"));
  m.def("softmax_cross_entropy", &softmax_cross_entropy, py::arg("p"), py::arg("y"), py::arg("from_logits"),
        py::arg("epsilon"));
  m.def("sgd_step", &sgd_step, py::arg("w"), py::arg("g"), py::arg("m"), py::arg("learning_rate"),
        py::arg("momentum"), py::arg("nesterov"));
  m.def("adam_step", &adam_step, py::arg("w"), py::arg("g"), py::arg("m"), py::arg("v"), py::arg("alpha"),
        py::arg("beta_1"), py::arg("beta_2"), py::arg("epsilon"));
  m.def("rmsprop_step", &rmsprop_step, py::arg("w"), py::arg("g"), py::arg("v"), py::arg("m"), py::arg("a"),
        py::arg("learning_rate"), py::arg("rho"), py::arg("momentum"), py::arg("epsilon"));
}

}  // namespace foveal::bind
