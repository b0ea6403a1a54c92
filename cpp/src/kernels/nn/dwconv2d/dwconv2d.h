#pragma once

#include "foveal/ops.h"

namespace foveal {

// Whether the row kernel (dwconv_row) applies activation a itself: none, ReLU and ReLU6; the
// others are a pass over each output row afterwards.
inline bool dw_row_fuses(Activation a) {
  return a == Activation::none || a == Activation::relu || a == Activation::relu6;
}

// Depthwise convolution with channel multiplier 1 (groups == in_c == out_c); kernel kh x kw x C.
void depthwise_conv2d_f32_nhwc(const Conv2dParams& p, const float* x, const float* kernel,
                               const float* bias, float* y);
// The same (p.activation none) with the per-channel moments of the output (mean and M2 over all
// pixels, in double), each output row's taken right after it is written and merged in row order.
void depthwise_conv2d_moments_f32_nhwc(const Conv2dParams& p, const float* x, const float* kernel,
                                       const float* bias, float* y, double* mean, double* m2);
// Its gradients, as conv2d_backward_f32_nhwc's (dx nullptr: no input gradient; dkernel nullptr:
// no kernel or bias gradient, dbias not written; dbias may be nullptr).
void depthwise_conv2d_backward_f32_nhwc(const Conv2dParams& p, const float* x, const float* kernel,
                                        const float* dy, float* dx, float* dkernel, float* dbias);

}  // namespace foveal
