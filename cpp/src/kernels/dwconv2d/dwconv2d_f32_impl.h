// Depthwise convolution of one NHWC output row, vectorized over channels. One body for every
// ISA: each dwconv2d_f32__<isa>.cpp instantiates it with its vector type.
#pragma once

#include <cstddef>

#include "foveal/kernels.h"

namespace foveal {
namespace {

// Taps s in [lo, hi) whose input column iw0 + s*dilation lies in [0, width).
struct TapRange { size_t lo, hi; };
inline TapRange valid_taps(ptrdiff_t iw0, size_t taps, size_t dilation, size_t width) {
  TapRange t{0, taps};
  const ptrdiff_t d = static_cast<ptrdiff_t>(dilation), w = static_cast<ptrdiff_t>(width);
  while (t.lo < t.hi && iw0 + static_cast<ptrdiff_t>(t.lo) * d < 0) ++t.lo;
  while (t.hi > t.lo && iw0 + static_cast<ptrdiff_t>(t.hi - 1) * d >= w) --t.hi;
  return t;
}

// NV vectors of channels starting at c; the last one holds `last` valid lanes.
template <class V, int NV>
inline void dwconv_block(const DwConvRowParams& p, const float* const* rows, const float* w,
                         const float* bias, float* out, ptrdiff_t iw0, TapRange taps, size_t c,
                         size_t last) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  const size_t C = p.channels;
  T acc[NV];
  for (int j = 0; j < NV; ++j) {
    const size_t n = j == NV - 1 ? last : W;
    acc[j] = bias ? V::load_n(bias + c + j * W, n) : V::zero();
  }
  for (size_t r = 0; r < p.kh; ++r) {
    if (rows[r] == nullptr) continue;
    for (size_t s = taps.lo; s < taps.hi; ++s) {
      const float* in = rows[r] + (iw0 + static_cast<ptrdiff_t>(s * p.dilation_w)) * static_cast<ptrdiff_t>(C) + c;
      const float* wk = w + (r * p.kw + s) * C + c;
      for (int j = 0; j < NV; ++j) {
        const size_t n = j == NV - 1 ? last : W;
        acc[j] = V::fma(V::load_n(in + j * W, n), V::load_n(wk + j * W, n), acc[j]);
      }
    }
  }
  for (int j = 0; j < NV; ++j) {
    if (p.activation == Activation::relu) acc[j] = V::max(acc[j], V::zero());
    V::store_n(out + c + j * W, acc[j], j == NV - 1 ? last : W);
  }
}

template <class V>
void dwconv_row(const DwConvRowParams& p, const float* const* rows, const float* w,
                const float* bias, float* out) {
  constexpr size_t W = V::width;
  const size_t C = p.channels;
  for (size_t ow = 0; ow < p.out_width; ++ow, out += C) {
    const ptrdiff_t iw0 = static_cast<ptrdiff_t>(ow * p.stride_w) - static_cast<ptrdiff_t>(p.pad_left);
    const TapRange taps = valid_taps(iw0, p.kw, p.dilation_w, p.in_width);
    size_t c = 0;
    for (; c + 4 * W <= C; c += 4 * W) dwconv_block<V, 4>(p, rows, w, bias, out, iw0, taps, c, W);
    for (; c + W <= C; c += W) dwconv_block<V, 1>(p, rows, w, bias, out, iw0, taps, c, W);
    if (c < C) dwconv_block<V, 1>(p, rows, w, bias, out, iw0, taps, c, C - c);
  }
}

}  // namespace
}  // namespace foveal
