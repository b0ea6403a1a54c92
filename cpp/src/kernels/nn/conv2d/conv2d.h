// Pieces of the conv2d driver shared by the forward and backward passes: how the indirect GEMM
// addresses its A rows (one pointer per tap per output pixel into the NHWC input).
#pragma once

#include <cstddef>
#include <cstdint>

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

// Where fill_pointers is in the output: pixel (image n, row oh, column ow), whose input rows
// row_cache holds. A strip that starts where the last one ended continues from it (no
// divisions to find its first pixel, no rows looked up again).
struct PixelCursor {
  size_t n = 0, oh = 0, ow = 0;
  size_t next = SIZE_MAX;   // the output pixel index it stands at (SIZE_MAX: nowhere yet)
};

// Writes ptrs[t*mr + i] for output pixels m0..m0+mr-1 of group g. Row taps that straddle the
// left or right border are assembled (with zeros) in span, which holds mr*kh*kw*C floats.
// row_cache (kh pointers) holds the input rows of the current output row (nullptr in the
// padding); they are looked up once per output row, not once per pixel. cursor (with the same
// row_cache from call to call) is left at pixel m0 + mr.
void fill_pointers(const Conv2dParams& p, const ConvTaps& taps, const float* x, size_t g,
                   const float* zeros, size_t m0, size_t mr, const float** ptrs, float* span,
                   const float** row_cache, PixelCursor& cursor);

// Winograd F(2x2, 3x3) (conv2d_winograd.cpp): used for 3x3, stride 1, undilated, ungrouped
// convolutions with at least 8 input and 16 output channels and no activation or ReLU, unless
// FOVEAL_WINOGRAD=0.
bool conv2d_uses_winograd(const Conv2dParams& p);
// With pool (where conv2d_winograd_pools: the tile side a multiple of its window sizes), each
// output tile is pooled as it is made and y is the pooled output (conv2d_pool_f32_nhwc); with
// keep too, the convolution's output is also written there.
bool conv2d_winograd_pools(const Conv2dParams& p, const ConvPool& q);
void conv2d_winograd_f32(const Conv2dParams& p, const float* x, const float* kernel, const float* bias,
                         float* y, const ConvPool* pool = nullptr, float* keep = nullptr);
// The kernel gradient by the same algorithm (conv2d_winograd.cpp): for 3x3 stride-1 undilated
// ungrouped layers with Cin + Cout <= 256 and at least 64 output pixels, unless FOVEAL_WINOGRAD=0.
bool conv2d_kgrad_uses_winograd(const Conv2dParams& p);
void conv2d_winograd_kgrad_f32(const Conv2dParams& p, const float* x, const float* dy, float* dkernel);

// The input gradient problem q (input_grad_problem) on the indirect-GEMM driver, B read from
// the forward kernel turned and transposed as it is packed (no flipped copy); false (nothing
// done) where q would take another path (Winograd, groups).
bool conv2d_input_grad_gemm(const Conv2dParams& q, const float* dy, const float* kernel, float* dx);

// A stride-1 convolution's input gradient as a convolution: dy correlated with the kernel turned
// 180 degrees, padded by (k - 1) * dilation - pad on the top and left, giving the input's size
// (channels swapped). False when a pad exceeds the kernel's reach (q then unset).
inline bool input_grad_problem(const Conv2dParams& p, Conv2dParams* q) {
  const size_t reach_h = (p.kh - 1) * p.dilation_h, reach_w = (p.kw - 1) * p.dilation_w;
  if (p.stride_h != 1 || p.stride_w != 1 || p.pad_top > reach_h || p.pad_left > reach_w) return false;
  *q = p;
  q->in_h = p.out_h;
  q->in_w = p.out_w;
  q->in_c = p.out_c;
  q->out_h = p.in_h;
  q->out_w = p.in_w;
  q->out_c = p.in_c;
  q->pad_top = reach_h - p.pad_top;
  q->pad_left = reach_w - p.pad_left;
  q->activation = Activation::none;
  return true;
}

}  // namespace foveal
