// Pieces of the conv2d driver shared by the forward and backward passes: how the indirect GEMM
// addresses its A rows (one pointer per tap per output pixel into the NHWC input).
#pragma once

#include <cstddef>

#include "foveal/ops.h"

namespace foveal {

// How A rows are addressed. With one group and no horizontal dilation, a whole kernel row
// (kw pixels x C channels) is contiguous in the input and forms one tap of kw*C floats;
// otherwise each kernel position is a tap of Cin/groups floats. Either way the taps of a row
// concatenated are the kernel's (r, s, ci) order.
struct ConvTaps {
  bool merged_rows;
  size_t ntaps, kc;
};

ConvTaps conv_taps(const Conv2dParams& p);

// Writes ptrs[t*mr + i] for output pixels m0..m0+mr-1 of group g. Row taps that straddle the
// left or right border are assembled (with zeros) in span, which holds mr*kh*kw*C floats.
// row_cache (kh pointers) holds the input rows of the current output row (nullptr in the
// padding); they are looked up once per output row, not once per pixel.
void fill_pointers(const Conv2dParams& p, const ConvTaps& taps, const float* x, size_t g,
                   const float* zeros, size_t m0, size_t mr, const float** ptrs, float* span,
                   const float** row_cache);

// Winograd F(2x2, 3x3) (conv2d_winograd.cpp): used for 3x3, stride 1, undilated, ungrouped
// convolutions with at least 8 input and 16 output channels and no activation or ReLU, unless
// FOVEAL_WINOGRAD=0.
bool conv2d_uses_winograd(const Conv2dParams& p);
void conv2d_winograd_f32(const Conv2dParams& p, const float* x, const float* kernel, const float* bias,
                         float* y);

}  // namespace foveal
