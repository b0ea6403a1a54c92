// foveal._cuda: the CUDA build's extension module (private; foveal/_cuda_ops.py is its one user).
// Operators take raw addresses (ints) of C-contiguous buffers that the Python layer allocated and
// sized, the sizes as tuples in the order of the CPU's params structs, and `host`: False runs on
// the GPU (device addresses), True runs the same kernel bodies on the host (host addresses; the
// tests without a GPU). No shape checks here: the Python layer validates before calling.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <string>

#include "cuda/launch.h"
#include "cuda/runtime.h"

namespace py = pybind11;
using foveal::Activation;
using foveal::cuda::Where;
using Ptr = std::uintptr_t;

namespace {

template <class T>
T* ptr(Ptr p) { return reinterpret_cast<T*>(p); }
Where where(bool host) { return host ? Where::host : Where::device; }

Activation activation(const std::string& name) {
  static const std::pair<const char*, Activation> kNames[] = {
      {"linear", Activation::none}, {"none", Activation::none}, {"relu", Activation::relu},
      {"sigmoid", Activation::sigmoid}, {"tanh", Activation::tanh}, {"relu6", Activation::relu6},
      {"hard_sigmoid", Activation::hard_sigmoid}, {"hard_silu", Activation::hard_silu},
      {"silu", Activation::silu}, {"gelu", Activation::gelu}, {"leaky_relu", Activation::leaky_relu},
      {"elu", Activation::elu}, {"softplus", Activation::softplus}};
  for (const auto& [n, a] : kNames)
    if (name == n) return a;
  throw py::value_error("unknown activation " + name);
}

template <size_t N>
std::array<size_t, N> sizes(const std::vector<size_t>& v, const char* what) {
  if (v.size() != N) throw py::value_error(std::string(what) + ": expected " + std::to_string(N) + " sizes");
  std::array<size_t, N> a{};
  for (size_t i = 0; i < N; ++i) a[i] = v[i];
  return a;
}

// (batch, in_h, in_w, in_c, out_h, out_w, out_c, kh, kw, groups, stride_h, stride_w,
//  dilation_h, dilation_w, pad_top, pad_left)
foveal::Conv2dParams conv_params(const std::vector<size_t>& v, const std::string& act) {
  const auto a = sizes<16>(v, "conv2d");
  return {a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15],
          activation(act)};
}
// (batch, in_h, in_w, channels, out_h, out_w, kh, kw, stride_h, stride_w, pad_top, pad_left)
foveal::Pool2dParams pool_params(const std::vector<size_t>& v) {
  const auto a = sizes<12>(v, "pool2d");
  return {a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]};
}
foveal::ImageShape image_shape(const std::vector<size_t>& v) {
  const auto a = sizes<4>(v, "image shape");
  return {a[0], a[1], a[2], a[3]};
}
foveal::Interp interp(const std::string& s) {
  if (s == "nearest") return foveal::Interp::nearest;
  if (s == "bilinear") return foveal::Interp::bilinear;
  if (s == "bicubic") return foveal::Interp::bicubic;
  if (s == "area") return foveal::Interp::area;
  throw py::value_error("unknown interpolation " + s);
}
foveal::Border border(const std::string& s) {
  if (s == "constant") return foveal::Border::constant;
  if (s == "replicate" || s == "nearest") return foveal::Border::replicate;
  if (s == "reflect") return foveal::Border::reflect;
  if (s == "reflect101") return foveal::Border::reflect101;
  if (s == "wrap") return foveal::Border::wrap;
  throw py::value_error("unknown border " + s);
}

py::dict build_info() {
  const auto s = foveal::cuda::device_status();
  py::dict d;
  d["cuda_compiled"] = true;
  d["cuda_available"] = s.devices > 0;
  d["cuda_devices"] = s.devices;
  d["cuda_runtime_version"] = s.runtime_version;
  d["cuda_driver_version"] = s.driver_version;
  d["cuda_architectures"] = FOVEAL_CUDA_ARCHITECTURES;
  if (s.devices > 0) {
    d["cuda_device_name"] = s.name;
    d["cuda_capability"] = s.capability;
  }
  if (!s.error.empty()) d["cuda_error"] = s.error;
  return d;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  namespace fc = foveal::cuda;
  m.doc() = "foveal's CUDA kernels (private: use foveal.set_device('cuda') and foveal.nn.functional)";
  m.def("build_info", &build_info);
  m.def("device_count", [] { return foveal::cuda::device_status().devices; });

  py::class_<fc::DeviceBuffer>(m, "DeviceBuffer")
      .def(py::init<size_t>(), py::arg("nbytes"))
      .def_property_readonly("ptr", [](const fc::DeviceBuffer& b) { return reinterpret_cast<Ptr>(b.ptr()); })
      .def_property_readonly("nbytes", &fc::DeviceBuffer::nbytes);
  m.def("copy_to_device", [](Ptr dst, Ptr src, size_t n) {
    py::gil_scoped_release r;
    fc::copy_to_device(ptr<void>(dst), ptr<const void>(src), n);
  });
  m.def("copy_to_host", [](Ptr dst, Ptr src, size_t n) {
    py::gil_scoped_release r;
    fc::copy_to_host(ptr<void>(dst), ptr<const void>(src), n);
  });
  m.def("copy_on_device", [](Ptr dst, Ptr src, size_t n) { fc::copy_on_device(ptr<void>(dst), ptr<const void>(src), n); });
  m.def("synchronize", [] {
    py::gil_scoped_release r;
    fc::synchronize();
  });

  m.def("conv2d", [](Ptr x, Ptr k, Ptr b, Ptr y, const std::vector<size_t>& dims, const std::string& act,
                     bool tf32, bool host) {
    const auto p = conv_params(dims, act);
    py::gil_scoped_release r;
    fc::conv2d_f32_nhwc(where(host), p, ptr<const float>(x), ptr<const float>(k), ptr<const float>(b),
                        ptr<float>(y), tf32);
  });
  m.def("conv2d_backward", [](Ptr x, Ptr k, Ptr dy, Ptr dx, Ptr dk, Ptr db, const std::vector<size_t>& dims,
                              bool tf32, bool host) {
    const auto p = conv_params(dims, "linear");
    py::gil_scoped_release r;
    fc::conv2d_backward_f32_nhwc(where(host), p, ptr<const float>(x), ptr<const float>(k), ptr<const float>(dy),
                                 ptr<float>(dx), ptr<float>(dk), ptr<float>(db), tf32);
  });
  m.def("dense", [](Ptr x, Ptr k, Ptr b, Ptr y, size_t m_, size_t k_, size_t n_, const std::string& act,
                    bool tf32, bool host) {
    const Activation a = activation(act);
    py::gil_scoped_release r;
    fc::dense_f32(where(host), m_, k_, n_, ptr<const float>(x), ptr<const float>(k), ptr<const float>(b),
                  ptr<float>(y), a, tf32);
  });
  m.def("dense_backward", [](Ptr x, Ptr k, Ptr dy, Ptr dx, Ptr dk, Ptr db, size_t m_, size_t k_, size_t n_,
                             bool tf32, bool host) {
    py::gil_scoped_release r;
    fc::dense_backward_f32(where(host), m_, k_, n_, ptr<const float>(x), ptr<const float>(k),
                           ptr<const float>(dy), ptr<float>(dx), ptr<float>(dk), ptr<float>(db), tf32);
  });
  m.def("softmax", [](Ptr x, Ptr y, size_t rows, size_t cols, bool host) {
    py::gil_scoped_release r;
    fc::softmax_f32(where(host), rows, cols, ptr<const float>(x), ptr<float>(y));
  });
  m.def("pool2d", [](const std::string& mode, Ptr x, Ptr y, const std::vector<size_t>& dims, bool host) {
    const auto p = pool_params(dims);
    const bool max = mode == "max";
    py::gil_scoped_release r;
    if (max) fc::max_pool2d_f32_nhwc(where(host), p, ptr<const float>(x), ptr<float>(y));
    else fc::avg_pool2d_f32_nhwc(where(host), p, ptr<const float>(x), ptr<float>(y));
  });
  m.def("pool2d_backward", [](const std::string& mode, Ptr x, Ptr dy, Ptr dx, const std::vector<size_t>& dims,
                              bool through_relu, bool host) {
    const auto p = pool_params(dims);
    const bool max = mode == "max";
    py::gil_scoped_release r;
    if (max) fc::max_pool2d_backward_f32_nhwc(where(host), p, ptr<const float>(x), ptr<const float>(dy), ptr<float>(dx), through_relu);
    else fc::avg_pool2d_backward_f32_nhwc(where(host), p, ptr<const float>(dy), ptr<float>(dx));
  });
  m.def("global_pool2d", [](const std::string& mode, Ptr x, Ptr y, size_t n, size_t hw, size_t c, bool host) {
    const bool max = mode == "max";
    py::gil_scoped_release r;
    if (max) fc::global_max_pool2d_f32(where(host), n, hw, c, ptr<const float>(x), ptr<float>(y));
    else fc::global_avg_pool2d_f32(where(host), n, hw, c, ptr<const float>(x), ptr<float>(y));
  });
  m.def("global_avg_pool2d_backward", [](Ptr dy, Ptr dx, size_t n, size_t hw, size_t c, bool host) {
    py::gil_scoped_release r;
    fc::global_avg_pool2d_backward_f32(where(host), n, hw, c, ptr<const float>(dy), ptr<float>(dx));
  });
  m.def("bias_activation", [](Ptr x, Ptr b, Ptr y, size_t n, size_t c, const std::string& act, bool host) {
    const Activation a = activation(act);
    py::gil_scoped_release r;
    fc::bias_activation_f32(where(host), n, c, ptr<const float>(x), ptr<const float>(b), ptr<float>(y), a);
  });
  m.def("activation_backward", [](Ptr dy, Ptr src, Ptr dx, size_t n, const std::string& act, bool host) {
    const Activation a = activation(act);
    py::gil_scoped_release r;
    fc::activation_backward_f32(where(host), n, ptr<const float>(dy), ptr<const float>(src), ptr<float>(dx), a);
  });
  m.def("sgd_step", [](Ptr w, Ptr g, Ptr mom, size_t n, float lr, float momentum, bool nesterov, bool host) {
    py::gil_scoped_release r;
    fc::sgd_step_f32(where(host), n, ptr<float>(w), ptr<const float>(g), ptr<float>(mom),
                     foveal::SgdParams{lr, momentum, nesterov});
  });
  m.def("adam_step", [](Ptr w, Ptr g, Ptr mom, Ptr vel, size_t n, float alpha, float one_minus_beta1,
                        float one_minus_beta2, float epsilon, bool host) {
    py::gil_scoped_release r;
    fc::adam_step_f32(where(host), n, ptr<float>(w), ptr<const float>(g), ptr<float>(mom), ptr<float>(vel),
                      foveal::AdamParams{alpha, one_minus_beta1, one_minus_beta2, epsilon});
  });
  m.def("rmsprop_step", [](Ptr w, Ptr g, Ptr vel, Ptr mom, Ptr avg, size_t n, float lr, float rho,
                           float one_minus_rho, float momentum, float epsilon, bool host) {
    py::gil_scoped_release r;
    fc::rmsprop_step_f32(where(host), n, ptr<float>(w), ptr<const float>(g), ptr<float>(vel), ptr<float>(mom),
                         ptr<float>(avg), foveal::RmspropParams{lr, rho, one_minus_rho, momentum, epsilon});
  });
  m.def("global_max_pool2d_backward", [](Ptr x, Ptr dy, Ptr dx, size_t n, size_t hw, size_t c, bool host) {
    py::gil_scoped_release r;
    fc::global_max_pool2d_backward_f32(where(host), n, hw, c, ptr<const float>(x), ptr<const float>(dy),
                                       ptr<float>(dx));
  });
  m.def("softmax_axis", [](Ptr x, Ptr y, size_t outer, size_t c, size_t inner, bool host) {
    py::gil_scoped_release r;
    fc::softmax_axis_f32(where(host), outer, c, inner, ptr<const float>(x), ptr<float>(y));
  });

  // Training: rows x c matrices (Python flattens and checks the shapes).
  m.def("batch_norm_train", [](Ptr x, Ptr gamma, Ptr beta, Ptr y, Ptr xhat, Ptr mean, Ptr var, Ptr inv_std,
                               size_t rows, size_t c, float epsilon, const std::string& act, bool host) {
    const Activation a = activation(act);
    py::gil_scoped_release r;
    fc::batch_norm_train_f32(where(host), rows, c, ptr<const float>(x), ptr<const float>(gamma),
                             ptr<const float>(beta), epsilon, ptr<float>(y), ptr<float>(xhat), ptr<float>(mean),
                             ptr<float>(var), ptr<float>(inv_std), a);
  });
  m.def("batch_norm_backward", [](Ptr dy, Ptr xhat, Ptr gamma, Ptr inv_std, Ptr dx, Ptr dgamma, Ptr dbeta,
                                  size_t rows, size_t c, bool host) {
    py::gil_scoped_release r;
    fc::batch_norm_backward_f32(where(host), rows, c, ptr<const float>(dy), ptr<const float>(xhat),
                                ptr<const float>(gamma), ptr<const float>(inv_std), ptr<float>(dx),
                                ptr<float>(dgamma), ptr<float>(dbeta));
  });
  m.def("batch_norm_backward_from_input", [](Ptr dy, Ptr x, Ptr mean, Ptr inv_std, Ptr gamma, Ptr beta, Ptr dx,
                                             Ptr dgamma, Ptr dbeta, size_t rows, size_t c, const std::string& act,
                                             bool host) {
    const foveal::BnBackwardParams p{ptr<const float>(mean), ptr<const float>(inv_std), ptr<const float>(gamma),
                                     ptr<const float>(beta), activation(act)};
    py::gil_scoped_release r;
    fc::batch_norm_backward_from_input_f32(where(host), rows, c, ptr<const float>(dy), ptr<const float>(x), p,
                                           ptr<float>(dx), ptr<float>(dgamma), ptr<float>(dbeta));
  });
  m.def("batch_norm_inference", [](Ptr x, Ptr gamma, Ptr beta, Ptr mean, Ptr var, Ptr y, Ptr inv_std, size_t rows,
                                   size_t c, double epsilon, bool host) {
    py::gil_scoped_release r;
    fc::batch_norm_inference_f32(where(host), rows, c, ptr<const float>(x), ptr<const float>(gamma),
                                 ptr<const float>(beta), ptr<const float>(mean), ptr<const float>(var), epsilon,
                                 ptr<float>(y), ptr<float>(inv_std));
  });
  m.def("batch_norm_inference_backward", [](Ptr dy, Ptr x, Ptr gamma, Ptr mean, Ptr inv_std, Ptr dx, Ptr dgamma,
                                            Ptr dbeta, size_t rows, size_t c, bool host) {
    py::gil_scoped_release r;
    fc::batch_norm_inference_backward_f32(where(host), rows, c, ptr<const float>(dy), ptr<const float>(x),
                                          ptr<const float>(gamma), ptr<const float>(mean),
                                          ptr<const float>(inv_std), ptr<float>(dx), ptr<float>(dgamma),
                                          ptr<float>(dbeta));
  });
  m.def("batch_norm_update_moving", [](Ptr moving_mean, Ptr moving_var, Ptr mean, Ptr var, size_t c, float momentum,
                                       float one_minus, bool host) {
    py::gil_scoped_release r;
    fc::batch_norm_update_moving_f32(where(host), c, ptr<float>(moving_mean), ptr<float>(moving_var),
                                     ptr<const float>(mean), ptr<const float>(var), momentum, one_minus);
  });
  m.def("dropout", [](Ptr x, Ptr y, Ptr mask, size_t n, uint64_t key, float keep, uint64_t first, bool host) {
    py::gil_scoped_release r;
    fc::dropout_f32(where(host), n, ptr<const float>(x), ptr<float>(y), ptr<float>(mask), key, keep, first);
  });
  m.def("dropout_backward", [](Ptr dy, Ptr dx, size_t n, uint64_t key, float keep, uint64_t first, bool host) {
    py::gil_scoped_release r;
    fc::dropout_backward_f32(where(host), n, ptr<const float>(dy), ptr<float>(dx), key, keep, first);
  });
  // y: the dense targets (rows x c float32) or, sparse, one int64 class index per row.
  m.def("softmax_cross_entropy", [](Ptr p, Ptr y, Ptr values, Ptr grad, Ptr clipped, size_t rows, size_t c,
                                    bool from_logits, float epsilon, bool sparse, bool host) {
    py::gil_scoped_release r;
    if (sparse)
      fc::sparse_softmax_cross_entropy_f32(where(host), rows, c, ptr<const float>(p), ptr<const int64_t>(y),
                                           from_logits, epsilon, ptr<float>(values), ptr<float>(grad),
                                           ptr<uint8_t>(clipped));
    else
      fc::softmax_cross_entropy_f32(where(host), rows, c, ptr<const float>(p), ptr<const float>(y), from_logits,
                                    epsilon, ptr<float>(values), ptr<float>(grad), ptr<uint8_t>(clipped));
  });

  // Spatial layout: (batch, in_h, in_w, channels, pad_top, pad_bottom, pad_left, pad_right) and
  // (batch, in_h, in_w, channels, size_h, size_w).
  m.def("zero_pad2d", [](Ptr src, Ptr dst, const std::vector<size_t>& dims, bool crop, bool host) {
    const auto a = sizes<8>(dims, "zero_pad2d");
    const foveal::Pad2dParams p{a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]};
    py::gil_scoped_release r;
    if (crop) fc::crop2d_f32_nhwc(where(host), p, ptr<const float>(src), ptr<float>(dst));
    else fc::zero_pad2d_f32_nhwc(where(host), p, ptr<const float>(src), ptr<float>(dst));
  });
  m.def("upsample2d", [](Ptr src, Ptr dst, const std::vector<size_t>& dims, bool bilinear, bool backward,
                         bool host) {
    const auto a = sizes<6>(dims, "upsample2d");
    const foveal::Upsample2dParams p{a[0], a[1], a[2], a[3], a[4], a[5], bilinear};
    py::gil_scoped_release r;
    if (backward) fc::upsample2d_backward_f32_nhwc(where(host), p, ptr<const float>(src), ptr<float>(dst));
    else fc::upsample2d_f32_nhwc(where(host), p, ptr<const float>(src), ptr<float>(dst));
  });
  m.def("warp_affine", [](Ptr src, Ptr dst, bool u8, const std::vector<size_t>& shape, size_t out_h, size_t out_w,
                          const std::array<double, 6>& matrix, const std::string& interp_, const std::string& border_,
                          float cval, bool host) {
    foveal::WarpParams p{image_shape(shape), out_h, out_w, {}, interp(interp_), border(border_), cval};
    for (int i = 0; i < 6; ++i) p.matrix[i] = matrix[i];
    py::gil_scoped_release r;
    if (u8) fc::warp_affine_u8(where(host), p, ptr<const uint8_t>(src), ptr<uint8_t>(dst));
    else fc::warp_affine_f32(where(host), p, ptr<const float>(src), ptr<float>(dst));
  });
  m.def("resize", [](Ptr src, Ptr dst, bool u8, const std::vector<size_t>& shape, size_t out_h, size_t out_w,
                     const std::string& interp_, bool host) {
    const foveal::ResizeParams p{image_shape(shape), out_h, out_w, interp(interp_)};
    py::gil_scoped_release r;
    if (u8) fc::resize_u8(where(host), p, ptr<const uint8_t>(src), ptr<uint8_t>(dst));
    else fc::resize_f32(where(host), p, ptr<const float>(src), ptr<float>(dst));
  });
  // filter2d (ky == 0: kx is the kh x kw kernel) or sep_filter2d (kx: kw taps, ky: kh taps);
  // in_u8/out_u8: the pixel types (uint8 -> uint8, float32 -> float32, uint8 -> float32).
  m.def("filter2d", [](Ptr src, Ptr dst, bool in_u8, bool out_u8, const std::vector<size_t>& shape, Ptr kx, Ptr ky,
                       size_t kh, size_t kw, size_t anchor_y, size_t anchor_x, const std::string& border_, float cval,
                       bool host) {
    if (out_u8 && !in_u8) throw py::value_error("filter2d: a float32 image gives a float32 result");
    const foveal::FilterParams p{image_shape(shape), kh, kw, anchor_y, anchor_x, border(border_), cval};
    const float *k = ptr<const float>(kx), *k2 = ptr<const float>(ky);
    py::gil_scoped_release r;
    if (in_u8 && out_u8) {
      if (ky) fc::sep_filter2d(where(host), p, ptr<const uint8_t>(src), k, k2, ptr<uint8_t>(dst));
      else fc::filter2d(where(host), p, ptr<const uint8_t>(src), k, ptr<uint8_t>(dst));
    } else if (in_u8) {
      if (ky) fc::sep_filter2d(where(host), p, ptr<const uint8_t>(src), k, k2, ptr<float>(dst));
      else fc::filter2d(where(host), p, ptr<const uint8_t>(src), k, ptr<float>(dst));
    } else {
      if (ky) fc::sep_filter2d(where(host), p, ptr<const float>(src), k, k2, ptr<float>(dst));
      else fc::filter2d(where(host), p, ptr<const float>(src), k, ptr<float>(dst));
    }
  });
  // The fused augmentation: matrices (N x 2 x 3 float64), shift/scale (float32 x) or add/clip
  // (uint8 x); absent arrays are 0. The result is float32.
  m.def("augment_batch", [](Ptr src, Ptr dst, bool u8, const std::vector<size_t>& shape, Ptr matrices,
                            const std::string& interp_, const std::string& border_, float cval, Ptr shift, Ptr scale,
                            Ptr add, float lo, float hi, bool clip, bool host) {
    const foveal::AugmentParams p{image_shape(shape), interp(interp_), border(border_), cval};
    if (p.interp != foveal::Interp::nearest && p.interp != foveal::Interp::bilinear)
      throw py::value_error("augment_batch: interpolation must be nearest or bilinear");
    py::gil_scoped_release r;
    if (u8)
      fc::augment_batch_u8(where(host), p, ptr<const double>(matrices), ptr<const float>(add), lo, hi, clip,
                           ptr<const uint8_t>(src), ptr<float>(dst));
    else
      fc::augment_batch_f32(where(host), p, ptr<const double>(matrices), ptr<const float>(shift),
                            ptr<const float>(scale), ptr<const float>(src), ptr<float>(dst));
  });
}
