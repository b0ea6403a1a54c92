// Depthwise convolution backward, one row at a time, vectorized over channels. One body for every
// ISA: each dwconv2d_f32__<isa>.cpp instantiates it with its vector type (after the forward's
// dwconv2d_f32_impl.h, whose ColumnRange / interior_columns it shares).
//
// dwconv_kgrad_row: the kernel and bias gradients of one output row, each tap's sum over the row
// (3-wide kernels: over chunks of 32 columns) held in registers and added once into the
// gradient. dwconv_dx_row: the input gradient of one input row, gathered from the dy rows that
// reach it, one store per pixel.
#pragma once

#include <cstddef>

#include "foveal/kernels.h"
#include "kernels/nn/dwconv2d/dwconv2d_f32_impl.h"

namespace foveal {
namespace {

// ---------------------------------------------------------------------------------------------
// Kernel gradient: dk[r][s][c] += sum over ow of x_r[ow * stride + s * dilation - pad][c] * dy[ow][c].

// Output columns [lo, hi) whose tap s reads an input column inside [0, in_width).
inline ColumnRange tap_columns(const DwConvRowParams& p, size_t s) {
  const size_t off = s * p.dilation_w;                 // iw = ow * stride + off - pad
  const size_t lo = off >= p.pad_left ? 0 : (p.pad_left - off + p.stride_w - 1) / p.stride_w;
  const size_t last = p.in_width - 1 + p.pad_left;     // ow * stride + off <= last
  size_t hi = last >= off ? (last - off) / p.stride_w + 1 : 0;
  if (hi > p.out_width) hi = p.out_width;
  return {lo < hi ? lo : hi, hi};
}

// One tap, NV channel vectors from the channel the pointers are at (the last holds `last` lanes):
// dk += sum over `count` columns of x (columns sC floats apart) * dy (C floats apart). Two sets of
// partial sums, so that 2 * NV FMA chains run side by side.
template <class V, int NV>
inline void kg_tap_block(const float* x, const float* dy, size_t sC, size_t C, size_t count,
                         size_t last, float* dk) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  T a[NV], b[NV];
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) a[j] = b[j] = V::zero();
  size_t i = 0;
  for (; i + 2 <= count; i += 2) {
    const float* x0 = x + i * sC;
    const float* d0 = dy + i * C;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      const size_t n = j == NV - 1 ? last : W;
      a[j] = V::fma(V::load_n(x0 + j * W, n), V::load_n(d0 + j * W, n), a[j]);
      b[j] = V::fma(V::load_n(x0 + sC + j * W, n), V::load_n(d0 + C + j * W, n), b[j]);
    }
  }
  if (i < count) {
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      const size_t n = j == NV - 1 ? last : W;
      a[j] = V::fma(V::load_n(x + i * sC + j * W, n), V::load_n(dy + i * C + j * W, n), a[j]);
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) {
    const size_t n = j == NV - 1 ? last : W;
    V::store_n(dk + j * W, V::add(V::load_n(dk + j * W, n), V::add(a[j], b[j])), n);
  }
}

// Tap s of one kernel row (input row `row`, gradient dk_tap: C floats), output columns [a, b)
// (all inside the tap's columns), every channel.
template <class V>
inline void kg_tap(const DwConvRowParams& p, const float* row, size_t s, size_t a, size_t b,
                   const float* dy, float* dk_tap) {
  if (a >= b) return;
  constexpr size_t W = V::width;
  const size_t C = p.channels, sC = p.stride_w * C, count = b - a;
  const float* x = row + (a * p.stride_w + s * p.dilation_w - p.pad_left) * C;
  const float* d = dy + a * C;
  size_t c = 0;
  for (; c + 4 * W <= C; c += 4 * W) kg_tap_block<V, 4>(x + c, d + c, sC, C, count, W, dk_tap + c);
  for (; c + 2 * W <= C; c += 2 * W) kg_tap_block<V, 2>(x + c, d + c, sC, C, count, W, dk_tap + c);
  for (; c + W <= C; c += W) kg_tap_block<V, 1>(x + c, d + c, sC, C, count, W, dk_tap + c);
  if (c < C) kg_tap_block<V, 1>(x + c, d + c, sC, C, count, C - c, dk_tap + c);
}

// 3-wide kernel rows, NROWS (1 to 3) of them, a range of output columns, NV channel vectors
// from c (the last holding `last` lanes): the 3 * NROWS tap sums (and the bias sum when db is
// given) stay in registers over the columns and are added into dk (db) at the end. The interior
// columns (all three taps inside the image) run PX = 4 pixels at a time, each dy vector loaded
// once for all its taps. S = 1 or 2: that stride without dilation, where the 4 pixels also share
// their input loads (input column q feeds tap s of pixel (q - s) / S: 6 or 9 loads per kernel
// row for 12 FMAs); S = 0: any stride and dilation, 12 loads. The border columns check each tap
// against its columns tc.
template <class V, int NROWS, int NV, int S>
struct Kg3Block {
  using T = typename V::T;
  static constexpr size_t W = V::width;
  T acc[NROWS][3][NV];
  T bsum[NV];

  // PX interior pixels from output column ow.
  template <int PX>
  inline void interior(const DwConvRowParams& p, const float* const* rows, const float* dy, size_t ow,
                       size_t c, size_t last, bool bias) {
    const size_t C = p.channels;
    const size_t sC = p.stride_w * C, dC = p.dilation_w * C;
    T g[PX][NV];
#pragma GCC unroll 4
    for (int px = 0; px < PX; ++px)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        g[px][j] = V::load_n(dy + (ow + px) * C + c + j * W, j == NV - 1 ? last : W);
        if (bias) bsum[j] = V::add(bsum[j], g[px][j]);
      }
    const size_t xo = (ow * p.stride_w - p.pad_left) * C + c;  // ow >= the interior's first column
#pragma GCC unroll 4
    for (int r = 0; r < NROWS; ++r) {
      const float* xp = rows[r] + xo;
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        const size_t n = j == NV - 1 ? last : W;
        if constexpr (S > 0) {
#pragma GCC unroll 16
          for (int q = 0; q < (PX - 1) * S + 3; ++q) {
            const T xv = V::load_n(xp + q * C + j * W, n);
#pragma GCC unroll 4
            for (int s = 0; s < 3; ++s)
              if (q >= s && (q - s) % S == 0 && (q - s) / S < PX)
                acc[r][s][j] = V::fma(xv, g[(q - s) / S][j], acc[r][s][j]);
          }
        } else {
#pragma GCC unroll 4
          for (int px = 0; px < PX; ++px)
#pragma GCC unroll 4
            for (int s = 0; s < 3; ++s)
              acc[r][s][j] = V::fma(V::load_n(xp + px * sC + s * dC + j * W, n), g[px][j], acc[r][s][j]);
        }
      }
    }
  }

  // One border column ow: only the taps whose columns tc[s] hold it.
  inline void border(const DwConvRowParams& p, const float* const* rows, const float* dy,
                     const ColumnRange* tc, size_t ow, size_t c, size_t last, bool bias) {
    const size_t C = p.channels;
    T g[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      g[j] = V::load_n(dy + ow * C + c + j * W, j == NV - 1 ? last : W);
      if (bias) bsum[j] = V::add(bsum[j], g[j]);
    }
#pragma GCC unroll 4
    for (int s = 0; s < 3; ++s) {
      if (ow < tc[s].lo || ow >= tc[s].hi) continue;
      const size_t xo = (ow * p.stride_w + s * p.dilation_w - p.pad_left) * C + c;
#pragma GCC unroll 4
      for (int r = 0; r < NROWS; ++r)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j)
          acc[r][s][j] = V::fma(V::load_n(rows[r] + xo + j * W, j == NV - 1 ? last : W), g[j], acc[r][s][j]);
    }
  }

  // Output columns cols = [a, b) of the row.
  void run(const DwConvRowParams& p, const float* const* rows, const float* dy, const ColumnRange* tc,
           ColumnRange inner, ColumnRange cols, size_t c, size_t last, float* dk, float* db) {
    const size_t C = p.channels;
    const bool bias = db != nullptr;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      bsum[j] = V::zero();
#pragma GCC unroll 4
      for (int r = 0; r < NROWS; ++r)
#pragma GCC unroll 4
        for (int s = 0; s < 3; ++s) acc[r][s][j] = V::zero();
    }
    const size_t lo = inner.lo > cols.lo ? inner.lo : cols.lo, hi = inner.hi < cols.hi ? inner.hi : cols.hi;
    size_t ow = cols.lo;
    for (; ow < cols.hi && ow < lo; ++ow) border(p, rows, dy, tc, ow, c, last, bias);
    for (; ow + 4 <= hi; ow += 4) interior<4>(p, rows, dy, ow, c, last, bias);
    for (; ow < hi; ++ow) interior<1>(p, rows, dy, ow, c, last, bias);
    for (; ow < cols.hi; ++ow) border(p, rows, dy, tc, ow, c, last, bias);
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      const size_t n = j == NV - 1 ? last : W;
#pragma GCC unroll 4
      for (int r = 0; r < NROWS; ++r)
#pragma GCC unroll 4
        for (int s = 0; s < 3; ++s) {
          float* d = dk + (r * 3 + s) * C + c + j * W;
          V::store_n(d, V::add(V::load_n(d, n), acc[r][s][j]), n);
        }
      if (bias) V::store_n(db + c + j * W, V::add(V::load_n(db + c + j * W, n), bsum[j]), n);
    }
  }
};

// NROWS 3-wide kernel rows (and the bias when db is given), channel blocks sized to the vector
// registers: the 3 * NROWS * NV sums and 4 * NV dy vectors within 16 registers (32 for avx512).
// The row goes in chunks of kChunk output columns, each chunk's channel blocks one after the
// other, so that the input is read about in order (the blocks' passes over a whole wide row,
// each reading every pixel's slice of channels, run slower).
template <class V, int NROWS, int S>
inline void kg3_rows(const DwConvRowParams& p, const float* const* rows, const float* dy,
                     const ColumnRange* tc, ColumnRange inner, float* dk, float* db) {
  constexpr size_t W = V::width, kChunk = 32;
  constexpr int kRegs = W >= 16 ? 32 : 16;
  constexpr int kFit = (kRegs - 1) / (3 * NROWS + 4);
  constexpr int NV = kFit >= 4 ? 4 : kFit >= 2 ? 2 : 1;
  const size_t C = p.channels;
  for (size_t a = 0; a < p.out_width; a += kChunk) {
    const ColumnRange cols{a, a + kChunk < p.out_width ? a + kChunk : p.out_width};
    size_t c = 0;
    for (; c + NV * W <= C; c += NV * W) Kg3Block<V, NROWS, NV, S>().run(p, rows, dy, tc, inner, cols, c, W, dk, db);
    for (; c + W <= C; c += W) Kg3Block<V, NROWS, 1, S>().run(p, rows, dy, tc, inner, cols, c, W, dk, db);
    if (c < C) Kg3Block<V, NROWS, 1, S>().run(p, rows, dy, tc, inner, cols, c, C - c, dk, db);
  }
}

template <class V, int S>
inline void kg3(const DwConvRowParams& p, const float* const* rows, size_t nrows, const float* dy,
                float* dk, float* db) {
  const ColumnRange tc[3] = {tap_columns(p, 0), tap_columns(p, 1), tap_columns(p, 2)};
  const ColumnRange inner = interior_columns(p.out_width, p.in_width, 3, p.stride_w, p.dilation_w, p.pad_left);
  const size_t C = p.channels;
  // kernel rows three at a time, then the one or two left; the bias with the first of them
  size_t r = 0;
  for (; r + 3 <= nrows; r += 3, db = nullptr) kg3_rows<V, 3, S>(p, rows + r, dy, tc, inner, dk + r * 3 * C, db);
  if (nrows - r == 2) kg3_rows<V, 2, S>(p, rows + r, dy, tc, inner, dk + r * 3 * C, db);
  if (nrows - r == 1) kg3_rows<V, 1, S>(p, rows + r, dy, tc, inner, dk + r * 3 * C, db);
}

// db += sum over the row's out_width pixels of dy, NV channel vectors from c (the last holding
// `last` lanes).
template <class V, int NV>
inline void bias_grad_block(size_t C, size_t out_width, const float* dy, size_t c, size_t last,
                            float* db) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  T acc[NV];
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) acc[j] = V::zero();
  for (size_t ow = 0; ow < out_width; ++ow)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      acc[j] = V::add(acc[j], V::load_n(dy + ow * C + c + j * W, j == NV - 1 ? last : W));
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) {
    const size_t n = j == NV - 1 ? last : W;
    V::store_n(db + c + j * W, V::add(V::load_n(db + c + j * W, n), acc[j]), n);
  }
}

template <class V>
inline void bias_grad_row(size_t C, size_t out_width, const float* dy, float* db) {
  constexpr size_t W = V::width;
  size_t c = 0;
  for (; c + 4 * W <= C; c += 4 * W) bias_grad_block<V, 4>(C, out_width, dy, c, W, db);
  for (; c + W <= C; c += W) bias_grad_block<V, 1>(C, out_width, dy, c, W, db);
  if (c < C) bias_grad_block<V, 1>(C, out_width, dy, c, C - c, db);
}

// The kernel (and bias) gradient of one output row: see dwconv_kgrad_row_fn in foveal/kernels.h.
template <class V>
void dwconv_kgrad_row(const DwConvRowParams& p, const float* const* rows, size_t nrows,
                      const float* dy, float* dk, float* db) {
  if (p.kw == 3 && nrows > 0) {
    const size_t unit = p.dilation_w == 1 ? p.stride_w : 0;
    if (unit == 1) kg3<V, 1>(p, rows, nrows, dy, dk, db);
    else if (unit == 2) kg3<V, 2>(p, rows, nrows, dy, dk, db);
    else kg3<V, 0>(p, rows, nrows, dy, dk, db);
    return;
  }
  if (db) bias_grad_row<V>(p.channels, p.out_width, dy, db);
  for (size_t s = 0; s < p.kw; ++s) {
    const ColumnRange tc = tap_columns(p, s);
    for (size_t r = 0; r < nrows; ++r) kg_tap<V>(p, rows[r], s, tc.lo, tc.hi, dy, dk + (r * p.kw + s) * p.channels);
  }
}

// ---------------------------------------------------------------------------------------------
// Input gradient: dx[iw][c] = sum over the dy rows i and the taps s with iw + pad - s * dilation
// = ow * stride (0 <= ow < out_width) of dy_i[ow][c] * k_i[s][c].

// The taps reaching one input column: s0, s0 + step, ... (ntaps of them; step = stride /
// gcd(stride, dilation)) at dy columns ow0, ow0 - dstep, ... (dstep = dilation / gcd).
struct DxTaps { size_t s0, ntaps, ow0; };

inline size_t gcd_size(size_t a, size_t b) {
  while (b) {
    const size_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// NV channel vectors from c (the last holding `last` lanes) of one input pixel: the sum over the
// nrows dy rows of ntaps products each, stored once.
template <class V, int NV>
inline void dx_block(const float* const* dy_rows, const float* const* k_rows, size_t nrows,
                     const DxTaps& t, size_t C, size_t dy_step, size_t k_step, size_t c, size_t last,
                     float* out) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  T acc[NV];
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) acc[j] = V::zero();
  for (size_t i = 0; i < nrows; ++i) {
    const float* d = dy_rows[i] + t.ow0 * C + c;   // moves left by dy_step per tap
    const float* k = k_rows[i] + t.s0 * C + c;     // moves right by k_step per tap
    for (size_t q = 0; q < t.ntaps; ++q, d -= dy_step, k += k_step) {
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        const size_t n = j == NV - 1 ? last : W;
        acc[j] = V::fma(V::load_n(d + j * W, n), V::load_n(k + j * W, n), acc[j]);
      }
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) V::store_n(out + c + j * W, acc[j], j == NV - 1 ? last : W);
}

// The geometry of dwconv_dx_row: the taps reaching each input column.
struct DxGeometry {
  size_t C, kw, sw, dw, pad, reach;  // reach: the last dy column's position, (out_width - 1) * sw
  size_t step, dy_step, k_step;      // step = sw / gcd(sw, dw); the pointer steps of one tap

  DxGeometry(const DwConvRowParams& p)
      : C(p.channels), kw(p.kw), sw(p.stride_w), dw(p.dilation_w), pad(p.pad_left),
        reach((p.out_width - 1) * p.stride_w) {
    const size_t g = gcd_size(sw, dw);
    step = sw / g;
    dy_step = dw / g * C;
    k_step = step * C;
  }

  // The taps of input column iw: those with 0 <= pos - s * dw <= reach (pos = iw + pad), s < kw,
  // form [s_lo, s_hi]; of those, the ones whose pos - s * dw the stride divides are every
  // step-th from the first such s0 (the residues of s * dw repeat with period step).
  DxTaps taps(size_t iw) const {
    const size_t pos = iw + pad;
    const size_t s_hi = pos / dw < kw - 1 ? pos / dw : kw - 1;
    const size_t s_lo = pos > reach ? (pos - reach + dw - 1) / dw : 0;
    if (s_lo > s_hi) return {0, 0, 0};
    const size_t s_end = s_lo + step <= s_hi + 1 ? s_lo + step : s_hi + 1;
    for (size_t s = s_lo; s < s_end; ++s)
      if ((pos - s * dw) % sw == 0) return {s, (s_hi - s) / step + 1, (pos - s * dw) / sw};
    return {0, 0, 0};
  }
};

// Every channel of input pixel `out` from its taps t.
template <class V>
inline void dx_pixel(const DxGeometry& g, const float* const* dy_rows, const float* const* k_rows,
                     size_t nrows, const DxTaps& t, float* out) {
  constexpr size_t W = V::width;
  const size_t C = g.C;
  size_t c = 0;
  if (t.ntaps == 0 || nrows == 0) {
    for (; c + W <= C; c += W) V::store(out + c, V::zero());
    if (c < C) V::store_n(out + c, V::zero(), C - c);
    return;
  }
  for (; c + 4 * W <= C; c += 4 * W) dx_block<V, 4>(dy_rows, k_rows, nrows, t, C, g.dy_step, g.k_step, c, W, out);
  for (; c + 2 * W <= C; c += 2 * W) dx_block<V, 2>(dy_rows, k_rows, nrows, t, C, g.dy_step, g.k_step, c, W, out);
  for (; c + W <= C; c += W) dx_block<V, 1>(dy_rows, k_rows, nrows, t, C, g.dy_step, g.k_step, c, W, out);
  if (c < C) dx_block<V, 1>(dy_rows, k_rows, nrows, t, C, g.dy_step, g.k_step, c, C - c, out);
}

// The interior columns of one phase, NV channel vectors from c (the last holding `last` lanes):
// `count` columns, out_step floats apart from out, each the sum of NT products. Pair t (a dy row
// and one of its kernel row's taps) reads the dy column d[t] + m * C for the m-th column and the
// kernel vector k[t], which stays in registers for all of them.
template <class V, int NT, int NV>
inline void dx_phase_block(const float* const* d, const float* const* k, size_t count, size_t C,
                           size_t out_step, size_t c, size_t last, float* out) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  T kv[NT][NV];
#pragma GCC unroll 16
  for (int t = 0; t < NT; ++t)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) kv[t][j] = V::load_n(k[t] + c + j * W, j == NV - 1 ? last : W);
  for (size_t m = 0; m < count; ++m) {
    const size_t at = m * C + c;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      const size_t n = j == NV - 1 ? last : W;
      T acc = V::mul(V::load_n(d[0] + at + j * W, n), kv[0][j]);
#pragma GCC unroll 16
      for (int t = 1; t < NT; ++t) acc = V::fma(V::load_n(d[t] + at + j * W, n), kv[t][j], acc);
      V::store_n(out + m * out_step + c + j * W, acc, n);
    }
  }
}

// Every channel of a phase's interior columns, NT pairs: channel blocks sized so that the NT * NV
// kernel vectors and NV sums fit the vector registers (16, or 32 for avx512).
template <class V, int NT>
inline void dx_phase(const float* const* d, const float* const* k, size_t count, size_t C,
                     size_t out_step, float* out) {
  constexpr size_t W = V::width;
  constexpr int kFit = ((W >= 16 ? 32 : 16) - 4) / (NT + 1);
  constexpr int NV = kFit >= 4 ? 4 : kFit >= 2 ? 2 : 1;
  size_t c = 0;
  for (; c + NV * W <= C; c += NV * W) dx_phase_block<V, NT, NV>(d, k, count, C, out_step, c, W, out);
  if constexpr (NV > 2)
    for (; c + 2 * W <= C; c += 2 * W) dx_phase_block<V, NT, 2>(d, k, count, C, out_step, c, W, out);
  for (; c + W <= C; c += W) dx_phase_block<V, NT, 1>(d, k, count, C, out_step, c, W, out);
  if (c < C) dx_phase_block<V, NT, 1>(d, k, count, C, out_step, c, C - c, out);
}

// dx_phase for nt (1 to NT) pairs.
template <class V, int NT>
inline void dx_phase_n(size_t nt, const float* const* d, const float* const* k, size_t count, size_t C,
                       size_t out_step, float* out) {
  if (nt == NT) dx_phase<V, NT>(d, k, count, C, out_step, out);
  else if constexpr (NT > 1) dx_phase_n<V, NT - 1>(nt, d, k, count, C, out_step, out);
}

// The input gradient of one input row: see dwconv_dx_row_fn in foveal/kernels.h. The columns go
// phase by phase (iw = i0, i0 + stride, ...): within a phase the interior columns (every tap of
// the kernel row inside dy's columns) share their taps, only ow0 moving on by one, and run
// through dx_phase when they have at most kMaxPairs (dy row, tap) pairs; the border columns
// compute theirs, pixel by pixel.
template <class V>
void dwconv_dx_row(const DwConvRowParams& p, const float* const* dy_rows, const float* const* k_rows,
                   size_t nrows, float* dx) {
  constexpr size_t kMaxPairs = 9;
  const DxGeometry g(p);
  const size_t C = p.channels, in_w = p.in_width;
  const size_t span = (p.kw - 1) * g.dw;  // interior: span <= iw + pad <= reach
  const size_t in_lo = span > g.pad ? span - g.pad : 0;
  const size_t in_hi = g.reach >= g.pad ? (g.reach - g.pad + 1 < in_w ? g.reach - g.pad + 1 : in_w) : 0;
  const size_t phases = g.sw < in_w ? g.sw : in_w;
  for (size_t i0 = 0; i0 < phases; ++i0) {
    size_t iw = i0;
    for (; iw < in_w && iw < in_lo; iw += g.sw) dx_pixel<V>(g, dy_rows, k_rows, nrows, g.taps(iw), dx + iw * C);
    if (iw < in_hi) {
      DxTaps t = g.taps(iw);
      const size_t pairs = nrows * t.ntaps;
      if (pairs > 0 && pairs <= kMaxPairs) {
        const float* d[kMaxPairs];
        const float* k[kMaxPairs];
        size_t n = 0;
        for (size_t i = 0; i < nrows; ++i)
          for (size_t q = 0; q < t.ntaps; ++q, ++n) {
            d[n] = dy_rows[i] + t.ow0 * C - q * g.dy_step;
            k[n] = k_rows[i] + t.s0 * C + q * g.k_step;
          }
        const size_t count = (in_hi - iw + g.sw - 1) / g.sw;
        dx_phase_n<V, kMaxPairs>(pairs, d, k, count, C, g.sw * C, dx + iw * C);
        iw += count * g.sw;
      }
      for (; iw < in_hi; iw += g.sw, ++t.ow0) dx_pixel<V>(g, dy_rows, k_rows, nrows, t, dx + iw * C);
    }
    for (; iw < in_w; iw += g.sw) dx_pixel<V>(g, dy_rows, k_rows, nrows, g.taps(iw), dx + iw * C);
  }
}

}  // namespace
}  // namespace foveal
