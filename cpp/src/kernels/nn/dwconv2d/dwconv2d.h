#pragma once

#include "foveal/ops.h"

namespace foveal {

// Depthwise convolution with channel multiplier 1 (groups == in_c == out_c); kernel kh x kw x C.
void depthwise_conv2d_f32_nhwc(const Conv2dParams& p, const float* x, const float* kernel,
                               const float* bias, float* y);

}  // namespace foveal
