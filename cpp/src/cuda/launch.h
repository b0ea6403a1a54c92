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

// y = act(x + bias[i % c]) over n values (bias nullptr: none; c the channel count).
void bias_activation_f32(Where w, size_t n, size_t c, const float* x, const float* bias, float* y,
                         Activation act);
void activation_backward_f32(Where w, size_t n, const float* dy, const float* src, float* dx, Activation act);
void softmax_f32(Where w, size_t rows, size_t cols, const float* x, float* y);

void sgd_step_f32(Where w, size_t n, float* weights, const float* g, float* m, const SgdParams& p);
void adam_step_f32(Where w, size_t n, float* weights, const float* g, float* m, float* v, const AdamParams& p);

// Bilinear or nearest (p.interp) with any Border, uint8 or float32, as the CPU's warp_affine_*
// (p.matrix maps source to destination; it is inverted here as the CPU driver inverts it).
void warp_affine_u8(Where w, const WarpParams& p, const uint8_t* src, uint8_t* dst);
void warp_affine_f32(Where w, const WarpParams& p, const float* src, float* dst);
// Bilinear only (p.interp == Interp::bilinear), as the CPU's resize_*.
void resize_bilinear_u8(Where w, const ResizeParams& p, const uint8_t* src, uint8_t* dst);
void resize_bilinear_f32(Where w, const ResizeParams& p, const float* src, float* dst);

}  // namespace foveal::cuda
