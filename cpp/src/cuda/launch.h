// The CUDA build's operator launchers (foveal._cuda), on raw pointers and the CPU kernels' params
// structs (foveal/ops.h, foveal/image_ops.h). Where::device: pointers are device memory and the
// call returns once the work is queued on the legacy default stream; Where::host: pointers are
// host memory and the same kernel bodies run as loops on the host (tests without a GPU).
// Every float32 array is C-contiguous NHWC (or rows x columns); the bindings check the sizes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/common.cuh"
#include "foveal/image_ops.h"
#include "foveal/ops.h"

namespace foveal::cuda {

// tf32: the matrix products may round their operands to TF32 (tensor cores); otherwise exact
// float32 products and sums.
void conv2d_f32_nhwc(Where w, const Conv2dParams& p, const float* x, const float* kernel, const float* bias,
                     float* y, bool tf32);
// dx, dkernel, dbias each nullptr when not wanted (p.activation ignored, as the CPU's).
void conv2d_backward_f32_nhwc(Where w, const Conv2dParams& p, const float* x, const float* kernel,
                              const float* dy, float* dx, float* dkernel, float* dbias, bool tf32);

// y[m x n] = act(x[m x k] kernel[k x n] + bias); its gradients as foveal::dense_backward_f32.
void dense_f32(Where w, size_t m, size_t k, size_t n, const float* x, const float* kernel, const float* bias,
               float* y, Activation act, bool tf32);
void dense_backward_f32(Where w, size_t m, size_t k, size_t n, const float* x, const float* kernel,
                        const float* dy, float* dx, float* dkernel, float* dbias, bool tf32);
// dbias[c] = sum over rows of dy[rows x c].
void column_sums_f32(Where w, size_t rows, size_t c, const float* dy, float* out);

void max_pool2d_f32_nhwc(Where w, const Pool2dParams& p, const float* x, float* y);
void avg_pool2d_f32_nhwc(Where w, const Pool2dParams& p, const float* x, float* y);
void max_pool2d_backward_f32_nhwc(Where w, const Pool2dParams& p, const float* x, const float* dy, float* dx,
                                  bool through_relu);
void avg_pool2d_backward_f32_nhwc(Where w, const Pool2dParams& p, const float* dy, float* dx);
void global_avg_pool2d_f32(Where w, size_t batch, size_t hw, size_t c, const float* x, float* y);
void global_max_pool2d_f32(Where w, size_t batch, size_t hw, size_t c, const float* x, float* y);
void global_avg_pool2d_backward_f32(Where w, size_t batch, size_t hw, size_t c, const float* dy, float* dx);
// dy[n, c] to the first maximum of channel c of image n (x: N x HW x C), zero elsewhere.
void global_max_pool2d_backward_f32(Where w, size_t batch, size_t hw, size_t c, const float* x, const float* dy,
                                    float* dx);

// y = act(x + bias[i % c]) over n values (bias nullptr: none; c the channel count).
void bias_activation_f32(Where w, size_t n, size_t c, const float* x, const float* bias, float* y,
                         Activation act);
void activation_backward_f32(Where w, size_t n, const float* dy, const float* src, float* dx, Activation act);
void softmax_f32(Where w, size_t rows, size_t cols, const float* x, float* y);
// Softmax over the middle axis of an outer x c x inner array (any axis, no transposes).
void softmax_axis_f32(Where w, size_t outer, size_t c, size_t inner, const float* x, float* y);

void sgd_step_f32(Where w, size_t n, float* weights, const float* g, float* m, const SgdParams& p);
void adam_step_f32(Where w, size_t n, float* weights, const float* g, float* m, float* v, const AdamParams& p);
// v: velocity; m: momentum or nullptr; a: average gradient (centered) or nullptr.
void rmsprop_step_f32(Where w, size_t n, float* weights, const float* g, float* v, float* m, float* a,
                      const RmspropParams& p);

// ---- training (rows x c matrices, channels last), as foveal/ops.h: the same statistics, in the
// same order (deterministic, no atomics; scratch memory stream-ordered on the device).
// xhat may be nullptr; act none, relu or relu6 applied to y.
void batch_norm_train_f32(Where w, size_t rows, size_t c, const float* x, const float* gamma, const float* beta,
                          float epsilon, float* y, float* xhat, float* mean, float* var, float* inv_std,
                          Activation act);
void batch_norm_backward_f32(Where w, size_t rows, size_t c, const float* dy, const float* xhat,
                             const float* gamma, const float* inv_std, float* dx, float* dgamma, float* dbeta);
void batch_norm_backward_from_input_f32(Where w, size_t rows, size_t c, const float* dy, const float* x,
                                        const BnBackwardParams& p, float* dx, float* dgamma, float* dbeta);
// Fixed statistics: inv_std = 1/sqrt(var + epsilon) (double), y = (x - mean) * (gamma * inv_std) + beta.
void batch_norm_inference_f32(Where w, size_t rows, size_t c, const float* x, const float* gamma,
                              const float* beta, const float* mean, const float* var, double epsilon, float* y,
                              float* inv_std);
// dbeta = sum dy, dgamma = sum(dy * (x - mean)) * inv_std (sums in double), dx = dy * (gamma * inv_std).
void batch_norm_inference_backward_f32(Where w, size_t rows, size_t c, const float* dy, const float* x,
                                       const float* gamma, const float* mean, const float* inv_std, float* dx,
                                       float* dgamma, float* dbeta);
// In place: moving = moving * momentum + batch * one_minus_momentum (Keras's momentum).
void batch_norm_update_moving_f32(Where w, size_t c, float* moving_mean, float* moving_var, const float* mean,
                                  const float* var, float momentum, float one_minus_momentum);
// Inverted dropout of the values first .. first + n - 1 of an array (the CPU's draw of (key, index));
// the backward recomputes the mask: dx = dy * mask.
void dropout_f32(Where w, size_t n, const float* x, float* y, float* mask, uint64_t key, float keep,
                 uint64_t first = 0);
void dropout_backward_f32(Where w, size_t n, const float* dy, float* dx, uint64_t key, float keep,
                          uint64_t first = 0);
// Categorical cross-entropy per row and its gradient divided by the row count (foveal/ops.h);
// the sparse form takes one class index per row (outside [0, c): NaN loss and gradient).
void softmax_cross_entropy_f32(Where w, size_t rows, size_t c, const float* p, const float* y, bool from_logits,
                               float epsilon, float* values, float* grad, uint8_t* clipped);
void sparse_softmax_cross_entropy_f32(Where w, size_t rows, size_t c, const float* p, const int64_t* labels,
                                      bool from_logits, float epsilon, float* values, float* grad,
                                      uint8_t* clipped);

// ---- spatial layout (ZeroPadding2D, UpSampling2D), as foveal/ops.h.
void zero_pad2d_f32_nhwc(Where w, const Pad2dParams& p, const float* x, float* y);
void crop2d_f32_nhwc(Where w, const Pad2dParams& p, const float* y, float* x);
void upsample2d_f32_nhwc(Where w, const Upsample2dParams& p, const float* x, float* y);
void upsample2d_backward_f32_nhwc(Where w, const Upsample2dParams& p, const float* dy, float* dx);

// Nearest, bilinear or bicubic (p.interp) with any Border, uint8 or float32, as the CPU's
// warp_affine_* (p.matrix maps source to destination; it is inverted here as the CPU driver
// inverts it).
void warp_affine_u8(Where w, const WarpParams& p, const uint8_t* src, uint8_t* dst);
void warp_affine_f32(Where w, const WarpParams& p, const float* src, float* dst);
// Every interpolation of the CPU's resize_* (nearest, bilinear, bicubic, area): its tap tables,
// made on the host and uploaded (Where::device: stream-ordered scratch memory).
void resize_u8(Where w, const ResizeParams& p, const uint8_t* src, uint8_t* dst);
void resize_f32(Where w, const ResizeParams& p, const float* src, float* dst);
// The CPU's filter2d_* / sep_filter2d_* (kernel: kh x kw; kx: kw, ky: kh; device memory), and the
// float32 result of a uint8 image (the CPU's float filter of the image converted to float32).
void filter2d(Where w, const FilterParams& p, const uint8_t* src, const float* kernel, uint8_t* dst);
void filter2d(Where w, const FilterParams& p, const float* src, const float* kernel, float* dst);
void filter2d(Where w, const FilterParams& p, const uint8_t* src, const float* kernel, float* dst);
void sep_filter2d(Where w, const FilterParams& p, const uint8_t* src, const float* kx, const float* ky,
                  uint8_t* dst);
void sep_filter2d(Where w, const FilterParams& p, const float* src, const float* kx, const float* ky, float* dst);
void sep_filter2d(Where w, const FilterParams& p, const uint8_t* src, const float* kx, const float* ky,
                  float* dst);
// The CPU's augment_batch_f32 / augment_batch_u8 (foveal/image_ops.h): matrices (N x 2 x 3
// doubles, source -> destination), shift, scale and add (N each, or nullptr) in device memory;
// any channel count. The shift's per-image range is reduced in the CPU's order (no atomics).
void augment_batch_f32(Where w, const AugmentParams& p, const double* matrices, const float* shift,
                       const float* scale, const float* src, float* dst);
void augment_batch_u8(Where w, const AugmentParams& p, const double* matrices, const float* add, float lo,
                      float hi, bool clip, const uint8_t* src, float* dst);

}  // namespace foveal::cuda
