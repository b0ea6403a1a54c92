// Max / average pooling of one NHWC output row and global pooling of one image, vectorized over
// channels. One body for every ISA: each pool2d_f32__<isa>.cpp instantiates it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "foveal/kernels.h"

namespace foveal {
namespace {

struct PoolMax {
  template <class V> static typename V::T init() { return V::set1(-__builtin_inff()); }
  template <class V> static typename V::T step(typename V::T a, typename V::T x) { return V::max(a, x); }
};
struct PoolSum {
  template <class V> static typename V::T init() { return V::zero(); }
  template <class V> static typename V::T step(typename V::T a, typename V::T x) { return V::add(a, x); }
};

// NV vectors of channels from c over window columns [col, col + cols); the last vector holds
// `last` lanes. KW > 0 fixes the column count at compile time. scale multiplies the result
// (1 for max, 1/count for average).
template <class V, class Op, int NV, int KW>
inline void pool_block(const float* const* rows, size_t nrows, size_t C, size_t col, size_t cols,
                       size_t c, size_t last, float scale, bool stream, float* out) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  const size_t n_cols = KW > 0 ? static_cast<size_t>(KW) : cols;
  T acc[NV];
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) acc[j] = Op::template init<V>();
  for (size_t r = 0; r < nrows; ++r) {
    const float* in = rows[r] + col * C + c;
#pragma GCC unroll 8
    for (size_t k = 0; k < n_cols; ++k, in += C) {
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        acc[j] = Op::template step<V>(acc[j], V::load_n(in + j * W, j == NV - 1 ? last : W));
    }
  }
  const T s = V::set1(scale);
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) {
    const T v = scale == 1.0f ? acc[j] : V::mul(acc[j], s);
    float* dst = out + c + j * W;
    const size_t lanes = j == NV - 1 ? last : W;
    if (stream && lanes == W && reinterpret_cast<uintptr_t>(dst) % (W * sizeof(float)) == 0) V::stream(dst, v);
    else V::store_n(dst, v, lanes);
  }
}

template <class V, class Op, int KW>
inline void pool_pixel(const float* const* rows, size_t nrows, size_t C, size_t col, size_t cols,
                       float scale, bool stream, float* out) {
  constexpr size_t W = V::width;
  size_t c = 0;
  for (; c + 4 * W <= C; c += 4 * W) pool_block<V, Op, 4, KW>(rows, nrows, C, col, cols, c, W, scale, stream, out);
  for (; c + W <= C; c += W) pool_block<V, Op, 1, KW>(rows, nrows, C, col, cols, c, W, scale, stream, out);
  if (c < C) pool_block<V, Op, 1, KW>(rows, nrows, C, col, cols, c, C - c, scale, stream, out);
}

// Interior output columns [lo, hi): the whole window lies inside the row, so the column count
// (and the average's divisor) is the same for all of them.
template <class V, class Op, int KW>
inline void pool_interior(const PoolRowParams& p, const float* const* rows, size_t nrows,
                          size_t lo, size_t hi, float scale, float* out) {
  for (size_t ow = lo; ow < hi; ++ow)
    pool_pixel<V, Op, KW>(rows, nrows, p.channels, ow * p.stride_w - p.pad_left, p.kw, scale, p.stream_out,
                          out + ow * p.channels);
}

template <class V, class Op, bool kAverage>
void pool_row(const PoolRowParams& p, const float* const* rows, size_t nrows, float* out) {
  const size_t lo0 = (p.pad_left + p.stride_w - 1) / p.stride_w;
  const size_t hi0 = p.in_width + p.pad_left >= p.kw ? (p.in_width + p.pad_left - p.kw) / p.stride_w + 1 : 0;
  const size_t hi = hi0 < p.out_width ? hi0 : p.out_width, lo = lo0 < hi ? lo0 : hi;
  // Borders: clip the window to the row per pixel.
  for (size_t ow = 0; ow < p.out_width; ++ow) {
    if (ow == lo) ow = hi;
    if (ow >= p.out_width) break;
    const ptrdiff_t start = static_cast<ptrdiff_t>(ow * p.stride_w) - static_cast<ptrdiff_t>(p.pad_left);
    const ptrdiff_t end = start + static_cast<ptrdiff_t>(p.kw);
    const size_t c0 = start < 0 ? 0 : static_cast<size_t>(start);
    const size_t c1 = end > static_cast<ptrdiff_t>(p.in_width) ? p.in_width : static_cast<size_t>(end);
    const float scale = kAverage ? 1.0f / static_cast<float>(nrows * (c1 - c0)) : 1.0f;
    pool_pixel<V, Op, 0>(rows, nrows, p.channels, c0, c1 - c0, scale, p.stream_out, out + ow * p.channels);
  }
  const float scale = kAverage ? 1.0f / static_cast<float>(nrows * p.kw) : 1.0f;
  switch (p.kw) {
    case 2: pool_interior<V, Op, 2>(p, rows, nrows, lo, hi, scale, out); break;
    case 3: pool_interior<V, Op, 3>(p, rows, nrows, lo, hi, scale, out); break;
    default: pool_interior<V, Op, 0>(p, rows, nrows, lo, hi, scale, out); break;
  }
  if (p.stream_out) V::stream_fence();
}

// Gradient of one output pixel's window (columns [c0, c1) of the nrows rows), channels [c, c +
// last). Max: the window's maximum m is found first; then, in window order, the gradient still
// unassigned (rem) goes to the first cell that is not below m.
template <class V, bool kAverage>
inline void pool_backward_block(const float* const* rows, float* const* drows, size_t nrows, size_t C,
                                size_t c0, size_t c1, size_t c, size_t last, float share, const float* dy,
                                bool through_relu, bool overwrite) {
  using T = typename V::T;
  const T g = V::load_n(dy + c, last);
  auto put = [&](float* d, T v) { V::store_n(d, overwrite ? v : V::add(V::load_n(d, last), v), last); };
  if (kAverage) {
    const T v = V::mul(g, V::set1(share));
    for (size_t r = 0; r < nrows; ++r)
      for (size_t s = c0; s < c1; ++s) put(drows[r] + s * C + c, v);
    return;
  }
  T m = V::set1(-__builtin_inff());
  for (size_t r = 0; r < nrows; ++r)
    for (size_t s = c0; s < c1; ++s) m = V::max(m, V::load_n(rows[r] + s * C + c, last));
  const T zero = V::zero();
  T rem = through_relu ? V::select_lt(zero, m, g, zero) : g;
  for (size_t r = 0; r < nrows; ++r)
    for (size_t s = c0; s < c1; ++s) {
      const T v = V::load_n(rows[r] + s * C + c, last);
      put(drows[r] + s * C + c, V::select_lt(v, m, zero, rem));
      rem = V::select_lt(v, m, rem, zero);
    }
}

template <class V, bool kAverage>
void pool_backward_row(const PoolRowParams& p, const float* const* rows, float* const* drows,
                       size_t nrows, const float* dy) {
  constexpr size_t W = V::width;
  const size_t C = p.channels;
  for (size_t ow = 0; ow < p.out_width; ++ow) {
    const ptrdiff_t start = static_cast<ptrdiff_t>(ow * p.stride_w) - static_cast<ptrdiff_t>(p.pad_left);
    const ptrdiff_t end = start + static_cast<ptrdiff_t>(p.kw);
    const size_t c0 = start < 0 ? 0 : static_cast<size_t>(start);
    const size_t c1 = end > static_cast<ptrdiff_t>(p.in_width) ? p.in_width : static_cast<size_t>(end);
    const float share = 1.0f / static_cast<float>(nrows * (c1 - c0));
    const float* g = dy + ow * C;
    size_t c = 0;
    for (; c + W <= C; c += W)
      pool_backward_block<V, kAverage>(rows, drows, nrows, C, c0, c1, c, W, share, g, p.through_relu, p.overwrite);
    if (c < C)
      pool_backward_block<V, kAverage>(rows, drows, nrows, C, c0, c1, c, C - c, share, g, p.through_relu, p.overwrite);
  }
}

// Global pooling: rows are summed (or maxed) in blocks of 64 into registers, then into the
// total, so a long sum keeps float32 rounding error near that of a pairwise sum.
template <class V, class Op, int NV>
inline void global_block(size_t hw, size_t C, size_t stride, const float* x, size_t c, size_t last, float scale,
                         float* y) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  T total[NV];
  for (int j = 0; j < NV; ++j) total[j] = Op::template init<V>();
  for (size_t i0 = 0; i0 < hw; i0 += 64) {
    const size_t i1 = i0 + 64 < hw ? i0 + 64 : hw;
    T acc[NV];
    for (int j = 0; j < NV; ++j) acc[j] = Op::template init<V>();
    for (size_t i = i0; i < i1; ++i)
      for (int j = 0; j < NV; ++j)
        acc[j] = Op::template step<V>(acc[j], V::load_n(x + i * stride + c + j * W, j == NV - 1 ? last : W));
    for (int j = 0; j < NV; ++j) total[j] = Op::template step<V>(total[j], acc[j]);
  }
  const T s = V::set1(scale);
  for (int j = 0; j < NV; ++j)
    V::store_n(y + c + j * W, scale == 1.0f ? total[j] : V::mul(total[j], s), j == NV - 1 ? last : W);
}

template <class V, class Op, bool kAverage>
void global_pool(size_t hw, size_t C, size_t stride, const float* x, float* y) {
  constexpr size_t W = V::width;
  const float scale = kAverage ? 1.0f / static_cast<float>(hw) : 1.0f;
  size_t c = 0;
  for (; c + 4 * W <= C; c += 4 * W) global_block<V, Op, 4>(hw, C, stride, x, c, W, scale, y);
  for (; c + W <= C; c += W) global_block<V, Op, 1>(hw, C, stride, x, c, W, scale, y);
  if (c < C) global_block<V, Op, 1>(hw, C, stride, x, c, C - c, scale, y);
}

}  // namespace
}  // namespace foveal
