// Depthwise convolution of one NHWC output row, vectorized over channels. One body for every
// ISA: each dwconv2d_f32__<isa>.cpp instantiates it with its vector type.
//
// The row splits into a left border, an interior where every tap lies inside the image, and a
// right border. The interior runs without bounds checks, with the tap loop unrolled for the
// common kernel widths; the borders clip the taps per pixel.
#pragma once

#include <cstddef>
#include <cstdint>

#include "foveal/kernels.h"

namespace foveal {
namespace {

// The activations the row kernels apply themselves, as the activation kernel computes them:
// ReLU max(x, 0), ReLU6 min(max(x, 0), 6). The others are a pass over the row afterwards.
struct DwClamp {
  bool relu, relu6;
  explicit DwClamp(Activation a) : relu(a == Activation::relu || a == Activation::relu6),
                                   relu6(a == Activation::relu6) {}
  template <class V>
  typename V::T apply(typename V::T x) const {
    if (relu) x = V::max(x, V::zero());
    if (relu6) x = V::min(x, V::set1(6.0f));
    return x;
  }
};

// Output columns [lo, hi) whose window (kw taps, dilation d, stride s, padding pl) lies inside
// [0, width).
struct ColumnRange { size_t lo, hi; };
inline ColumnRange interior_columns(size_t out_width, size_t width, size_t kw, size_t s, size_t d,
                                    size_t pl) {
  const size_t span = (kw - 1) * d + 1;
  const size_t lo = (pl + s - 1) / s;
  const size_t hi = width + pl >= span ? (width + pl - span) / s + 1 : 0;
  const size_t h = hi < out_width ? hi : out_width;
  return {lo < h ? lo : h, h};
}

// NV vectors of channels from c; the last one holds `last` lanes. Taps [s_lo, s_hi) of each row;
// KW > 0 fixes the tap count at compile time (interior), KW == 0 reads it from s_lo/s_hi.
template <class V, int NV, int KW>
inline void dw_block(const float* const* rows, size_t nrows, const float* w, size_t kw, size_t C,
                     size_t dC, ptrdiff_t in_off, size_t s_lo, size_t s_hi, size_t c, size_t last,
                     const float* bias, DwClamp clamp, float* out) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  T acc[NV];
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) {
    const size_t n = j == NV - 1 ? last : W;
    acc[j] = bias ? V::load_n(bias + c + j * W, n) : V::zero();
  }
  const size_t taps = KW > 0 ? static_cast<size_t>(KW) : s_hi - s_lo;
  for (size_t r = 0; r < nrows; ++r) {
    const float* ip = rows[r] + in_off + static_cast<ptrdiff_t>(s_lo * dC + c);
    const float* wp = w + (r * kw + s_lo) * C + c;
#pragma GCC unroll 8
    for (size_t s = 0; s < taps; ++s) {
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        const size_t n = j == NV - 1 ? last : W;
        acc[j] = V::fma(V::load_n(ip + s * dC + j * W, n), V::load_n(wp + s * C + j * W, n), acc[j]);
      }
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) {
    V::store_n(out + c + j * W, clamp.apply<V>(acc[j]), j == NV - 1 ? last : W);
  }
}

// All channels of one output pixel.
template <class V, int KW>
inline void dw_pixel(const DwConvRowParams& p, const float* const* rows, size_t nrows,
                     const float* w, const float* bias, ptrdiff_t iw0, size_t s_lo, size_t s_hi,
                     float* out) {
  constexpr size_t W = V::width;
  const size_t C = p.channels, dC = p.dilation_w * C;
  const ptrdiff_t in_off = iw0 * static_cast<ptrdiff_t>(C);
  const DwClamp clamp(p.activation);
  size_t c = 0;
  for (; c + 4 * W <= C; c += 4 * W)
    dw_block<V, 4, KW>(rows, nrows, w, p.kw, C, dC, in_off, s_lo, s_hi, c, W, bias, clamp, out);
  for (; c + W <= C; c += W)
    dw_block<V, 1, KW>(rows, nrows, w, p.kw, C, dC, in_off, s_lo, s_hi, c, W, bias, clamp, out);
  if (c < C)
    dw_block<V, 1, KW>(rows, nrows, w, p.kw, C, dC, in_off, s_lo, s_hi, c, C - c, bias, clamp, out);
}

template <class V, int KW>
inline void dw_interior(const DwConvRowParams& p, const float* const* rows, size_t nrows,
                        const float* w, const float* bias, ColumnRange cols, float* out) {
  for (size_t ow = cols.lo; ow < cols.hi; ++ow) {
    const ptrdiff_t iw0 = static_cast<ptrdiff_t>(ow * p.stride_w) - static_cast<ptrdiff_t>(p.pad_left);
    dw_pixel<V, KW>(p, rows, nrows, w, bias, iw0, 0, p.kw, out + ow * p.channels);
  }
}

// 3-wide kernels, the common depthwise case: four output pixels at once per channel block, the
// block's weight vectors loaded once for the four. Without dilation the four pixels share their
// input loads: STRIDE 1 reads 6 input vectors per kernel row for 12 FMAs, STRIDE 2 reads 9 (the
// windows overlap by one column); STRIDE 0 is any other stride or a dilation, each tap loaded.
// Pixels outer, channels inner, so the input and output stream through memory in order. NROWS
// (1 to 3) kernel rows lie inside the image. PX pixels (4, or 1 for the remainder) from output
// column ow.
template <class V, int NROWS, int PX, int STRIDE>
inline void dw3_pixels(const DwConvRowParams& p, const float* const* rows, const float* w,
                       const float* bias, size_t ow, float* out) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  const size_t C = p.channels;
  const ptrdiff_t sC = static_cast<ptrdiff_t>(p.stride_w * C), dC = static_cast<ptrdiff_t>(p.dilation_w * C);
  const ptrdiff_t off = static_cast<ptrdiff_t>(ow * p.stride_w) * static_cast<ptrdiff_t>(C) -
                        static_cast<ptrdiff_t>(p.pad_left * C);
  const DwClamp clamp(p.activation);
  // The last kernel rows are the ones read for the first time (the rows above them were read
  // for the output rows before; one new row at stride 1, two at stride 2): their values two
  // blocks of pixels ahead are fetched into the cache now, so that the loads do not wait on
  // memory (a layer's input streamed from memory ran at a third of the FMA rate, stalled on
  // those loads).
  // (addresses as integers: near the row's end they lie past it, where no pointer may point;
  // a prefetch of any address is harmless)
  const uintptr_t ahead = static_cast<uintptr_t>(off + static_cast<ptrdiff_t>(2 * PX) * sC) * sizeof(float);
  const uintptr_t last = reinterpret_cast<uintptr_t>(rows[NROWS - 1]) + ahead;
  const uintptr_t second = reinterpret_cast<uintptr_t>(rows[NROWS > 1 ? NROWS - 2 : 0]) + ahead;
  for (size_t c = 0; c < C; c += W) {
    const size_t n = C - c < W ? C - c : W;
    __builtin_prefetch(reinterpret_cast<const void*>(last + c * sizeof(float)));
    if (NROWS > 1) __builtin_prefetch(reinterpret_cast<const void*>(second + c * sizeof(float)));
    const T b = bias ? V::load_n(bias + c, n) : V::zero();
    T acc[PX];
#pragma GCC unroll 4
    for (int px = 0; px < PX; ++px) acc[px] = b;
#pragma GCC unroll 4
    for (int r = 0; r < NROWS; ++r) {
      const float* ip = rows[r] + off + static_cast<ptrdiff_t>(c);
      T wr[3];
#pragma GCC unroll 4
      for (int s = 0; s < 3; ++s) wr[s] = V::load_n(w + (r * 3 + s) * C + c, n);
      if (STRIDE > 0) {
        T xv[STRIDE * (PX - 1) + 3];
#pragma GCC unroll 12
        for (int q = 0; q < STRIDE * (PX - 1) + 3; ++q)
          xv[q] = V::load_n(ip + q * static_cast<ptrdiff_t>(C), n);
#pragma GCC unroll 4
        for (int px = 0; px < PX; ++px)
#pragma GCC unroll 4
          for (int s = 0; s < 3; ++s) acc[px] = V::fma(xv[STRIDE * px + s], wr[s], acc[px]);
      } else {
#pragma GCC unroll 4
        for (int px = 0; px < PX; ++px)
#pragma GCC unroll 4
          for (int s = 0; s < 3; ++s)
            acc[px] = V::fma(V::load_n(ip + px * sC + s * dC, n), wr[s], acc[px]);
      }
    }
#pragma GCC unroll 4
    for (int px = 0; px < PX; ++px) {
      float* dst = out + (ow + px) * C + c;
      if (p.stream_out && n == W && reinterpret_cast<uintptr_t>(dst) % (W * sizeof(float)) == 0)
        V::stream(dst, clamp.apply<V>(acc[px]));
      else
        V::store_n(dst, clamp.apply<V>(acc[px]), n);
    }
  }
}

template <class V, int NROWS, int STRIDE>
inline void dw3_interior(const DwConvRowParams& p, const float* const* rows, const float* w,
                         const float* bias, ColumnRange cols, float* out) {
  size_t ow = cols.lo;
  for (; ow + 4 <= cols.hi; ow += 4) dw3_pixels<V, NROWS, 4, STRIDE>(p, rows, w, bias, ow, out);
  for (; ow < cols.hi; ++ow) dw3_pixels<V, NROWS, 1, STRIDE>(p, rows, w, bias, ow, out);
}

template <class V, int NROWS>
inline void dw3_interior(const DwConvRowParams& p, const float* const* rows, const float* w,
                         const float* bias, ColumnRange cols, float* out) {
  if (p.dilation_w == 1 && p.stride_w == 1) dw3_interior<V, NROWS, 1>(p, rows, w, bias, cols, out);
  else if (p.dilation_w == 1 && p.stride_w == 2) dw3_interior<V, NROWS, 2>(p, rows, w, bias, cols, out);
  else dw3_interior<V, NROWS, 0>(p, rows, w, bias, cols, out);
}

template <class V>
void dwconv_row(const DwConvRowParams& p, const float* const* rows, size_t nrows, const float* w,
                const float* bias, float* out) {
  const ColumnRange inner = interior_columns(p.out_width, p.in_width, p.kw, p.stride_w,
                                             p.dilation_w, p.pad_left);
  // Borders: clip the taps to the image per pixel.
  for (size_t ow = 0; ow < p.out_width; ++ow) {
    if (ow == inner.lo) ow = inner.hi;
    if (ow >= p.out_width) break;
    const ptrdiff_t iw0 = static_cast<ptrdiff_t>(ow * p.stride_w) - static_cast<ptrdiff_t>(p.pad_left);
    const ptrdiff_t d = static_cast<ptrdiff_t>(p.dilation_w), width = static_cast<ptrdiff_t>(p.in_width);
    size_t lo = 0, hi = p.kw;
    while (lo < hi && iw0 + static_cast<ptrdiff_t>(lo) * d < 0) ++lo;
    while (hi > lo && iw0 + static_cast<ptrdiff_t>(hi - 1) * d >= width) --hi;
    dw_pixel<V, 0>(p, rows, nrows, w, bias, iw0, lo, hi, out + ow * p.channels);
  }
  if (p.kw == 3 && nrows >= 1 && nrows <= 3) {
    if (nrows == 3) dw3_interior<V, 3>(p, rows, w, bias, inner, out);
    else if (nrows == 2) dw3_interior<V, 2>(p, rows, w, bias, inner, out);
    else dw3_interior<V, 1>(p, rows, w, bias, inner, out);
    if (p.stream_out) V::stream_fence();
    return;
  }
  switch (p.kw) {
    case 5: dw_interior<V, 5>(p, rows, nrows, w, bias, inner, out); break;
    case 7: dw_interior<V, 7>(p, rows, nrows, w, bias, inner, out); break;
    default: dw_interior<V, 0>(p, rows, nrows, w, bias, inner, out); break;
  }
}

}  // namespace
}  // namespace foveal
