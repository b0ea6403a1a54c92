// Row correlation, the inner loop of every image filter and of resize's vertical pass:
//   out[j] = sum_r sum_s k[r*kw + s] * rows[r][j + s*step],  j in [0, n)
// four vectors at a time; zero coefficients are skipped (as OpenCV's filter2D, which also sums
// the taps in kernel order). One body for every ISA; the output is float or uint8 (rounded
// half to even, saturated).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common/simd/vec_io.h"

namespace foveal {
namespace {

template <class V, int NV, class O>
inline void correlate_block(const float* const* rows, size_t nrows, const float* k, size_t kw,
                            size_t step, size_t j, size_t last, O* out) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  T acc[NV];
#pragma GCC unroll 4
  for (int q = 0; q < NV; ++q) acc[q] = V::zero();
  for (size_t r = 0; r < nrows; ++r) {
    const float* row = rows[r] + j;
    const float* kr = k + r * kw;
    for (size_t s = 0; s < kw; ++s) {
      if (kr[s] == 0.0f) continue;
      const T w = V::set1(kr[s]);
      const float* p = row + s * step;
#pragma GCC unroll 4
      for (int q = 0; q < NV; ++q)
        acc[q] = V::fma(q == NV - 1 ? V::load_n(p + q * W, last) : V::load(p + q * W), w, acc[q]);
    }
  }
#pragma GCC unroll 4
  for (int q = 0; q < NV; ++q) {
    if (q == NV - 1) vstore_n<V>(out + j + q * W, acc[q], last);
    else vstore<V>(out + j + q * W, acc[q]);
  }
}

// The same sums over a list of the taps made once per call (kernels of at most kMaxTaps taps):
// for each tap in kernel order, where it starts and its coefficient(s), zeros dropped; the
// block loops then neither test coefficients nor index rows.
constexpr size_t kMaxTaps = 64;
struct Tap {
  const float* p;
  float w;
};
struct Tap2 {
  const float* p;
  float w0, w1;  // for out0 and out1; 0: that output skips the tap
};

template <class V, int NV, class O>
inline void correlate_taps_block(const Tap* taps, size_t ntaps, size_t j, size_t last, O* out) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  T acc[NV];
#pragma GCC unroll 4
  for (int q = 0; q < NV; ++q) acc[q] = V::zero();
  for (size_t t = 0; t < ntaps; ++t) {
    const T w = V::set1(taps[t].w);
    const float* p = taps[t].p + j;
#pragma GCC unroll 4
    for (int q = 0; q < NV; ++q)
      acc[q] = V::fma(q == NV - 1 ? V::load_n(p + q * W, last) : V::load(p + q * W), w, acc[q]);
  }
#pragma GCC unroll 4
  for (int q = 0; q < NV; ++q) {
    if (q == NV - 1) vstore_n<V>(out + j + q * W, acc[q], last);
    else vstore<V>(out + j + q * W, acc[q]);
  }
}

template <class V, class O>
void correlate(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
               size_t n, O* out) {
  constexpr size_t W = V::width;
  if (nrows * kw <= kMaxTaps) {
    Tap taps[kMaxTaps];
    size_t nt = 0;
    for (size_t r = 0; r < nrows; ++r)
      for (size_t s = 0; s < kw; ++s)
        if (k[r * kw + s] != 0.0f) taps[nt++] = {rows[r] + s * step, k[r * kw + s]};
    size_t j = 0;
    for (; j + 4 * W <= n; j += 4 * W) correlate_taps_block<V, 4>(taps, nt, j, W, out);
    for (; j + W <= n; j += W) correlate_taps_block<V, 1>(taps, nt, j, W, out);
    if (j < n) correlate_taps_block<V, 1>(taps, nt, j, n - j, out);
    return;
  }
  size_t j = 0;
  for (; j + 4 * W <= n; j += 4 * W) correlate_block<V, 4>(rows, nrows, k, kw, step, j, W, out);
  for (; j + W <= n; j += W) correlate_block<V, 1>(rows, nrows, k, kw, step, j, W, out);
  if (j < n) correlate_block<V, 1>(rows, nrows, k, kw, step, j, n - j, out);
}

// Two output rows at once (see correlate2_f32_fn): input row r feeds out0 with kernel row r and
// out1 with kernel row r - 1, so every load serves up to two FMAs. Each output still sums its
// taps in kernel order, as correlate_block does.
template <class V, int NV, class O>
inline void correlate2_block(const float* const* rows, size_t nrows, const float* k, size_t kw,
                             size_t step, size_t j, size_t last, O* out0, O* out1) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  T acc0[NV], acc1[NV];
#pragma GCC unroll 4
  for (int q = 0; q < NV; ++q) acc0[q] = acc1[q] = V::zero();
  for (size_t r = 0; r <= nrows; ++r) {
    const float* row = rows[r] + j;
    for (size_t s = 0; s < kw; ++s) {
      const float k0 = r < nrows ? k[r * kw + s] : 0.0f;
      const float k1 = r > 0 ? k[(r - 1) * kw + s] : 0.0f;
      if (k0 == 0.0f && k1 == 0.0f) continue;
      const float* p = row + s * step;
      T x[NV];
#pragma GCC unroll 4
      for (int q = 0; q < NV; ++q) x[q] = q == NV - 1 ? V::load_n(p + q * W, last) : V::load(p + q * W);
      if (k0 != 0.0f) {
        const T w = V::set1(k0);
#pragma GCC unroll 4
        for (int q = 0; q < NV; ++q) acc0[q] = V::fma(x[q], w, acc0[q]);
      }
      if (k1 != 0.0f) {
        const T w = V::set1(k1);
#pragma GCC unroll 4
        for (int q = 0; q < NV; ++q) acc1[q] = V::fma(x[q], w, acc1[q]);
      }
    }
  }
#pragma GCC unroll 4
  for (int q = 0; q < NV; ++q) {
    if (q == NV - 1) {
      vstore_n<V>(out0 + j + q * W, acc0[q], last);
      vstore_n<V>(out1 + j + q * W, acc1[q], last);
    } else {
      vstore<V>(out0 + j + q * W, acc0[q]);
      vstore<V>(out1 + j + q * W, acc1[q]);
    }
  }
}

// Runs of consecutive taps (in kernel order) that feed the same outputs: kind 1 out0 only, 2
// out1 only, 3 both (a dense kernel: its first row, the middle rows, its last row), so that the
// loop over a run tests no coefficient.
struct TapRun {
  size_t begin, end;
  int kind;
};

template <class V, int NV, int Kind>
__attribute__((always_inline)) inline void correlate2_run(const Tap2* taps, size_t t0, size_t t1, size_t j,
                                                          size_t last, typename V::T* acc0, typename V::T* acc1) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  for (size_t t = t0; t < t1; ++t) {
    const float* p = taps[t].p + j;
    T x[NV];
#pragma GCC unroll 4
    for (int q = 0; q < NV; ++q) x[q] = q == NV - 1 ? V::load_n(p + q * W, last) : V::load(p + q * W);
    if constexpr (Kind & 1) {
      const T w = V::set1(taps[t].w0);
#pragma GCC unroll 4
      for (int q = 0; q < NV; ++q) acc0[q] = V::fma(x[q], w, acc0[q]);
    }
    if constexpr (Kind & 2) {
      const T w = V::set1(taps[t].w1);
#pragma GCC unroll 4
      for (int q = 0; q < NV; ++q) acc1[q] = V::fma(x[q], w, acc1[q]);
    }
  }
}

template <class V, int NV, class O>
inline void correlate2_taps_block(const Tap2* taps, const TapRun* runs, size_t nruns, size_t j, size_t last,
                                  O* out0, O* out1) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  T acc0[NV], acc1[NV];
#pragma GCC unroll 4
  for (int q = 0; q < NV; ++q) acc0[q] = acc1[q] = V::zero();
  for (size_t i = 0; i < nruns; ++i) {
    const TapRun& r = runs[i];
    if (r.kind == 3) correlate2_run<V, NV, 3>(taps, r.begin, r.end, j, last, acc0, acc1);
    else if (r.kind == 1) correlate2_run<V, NV, 1>(taps, r.begin, r.end, j, last, acc0, acc1);
    else correlate2_run<V, NV, 2>(taps, r.begin, r.end, j, last, acc0, acc1);
  }
#pragma GCC unroll 4
  for (int q = 0; q < NV; ++q) {
    if (q == NV - 1) {
      vstore_n<V>(out0 + j + q * W, acc0[q], last);
      vstore_n<V>(out1 + j + q * W, acc1[q], last);
    } else {
      vstore<V>(out0 + j + q * W, acc0[q]);
      vstore<V>(out1 + j + q * W, acc1[q]);
    }
  }
}

template <class V, class O>
void correlate2(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                size_t n, O* out0, O* out1) {
  constexpr size_t W = V::width;
  if ((nrows + 1) * kw <= kMaxTaps) {
    Tap2 taps[kMaxTaps];
    size_t nt = 0;
    for (size_t r = 0; r <= nrows; ++r)
      for (size_t s = 0; s < kw; ++s) {
        const float k0 = r < nrows ? k[r * kw + s] : 0.0f;
        const float k1 = r > 0 ? k[(r - 1) * kw + s] : 0.0f;
        if (k0 != 0.0f || k1 != 0.0f) taps[nt++] = {rows[r] + s * step, k0, k1};
      }
    TapRun runs[kMaxTaps];
    size_t nruns = 0;
    for (size_t t = 0; t < nt; ++t) {
      const int kind = (taps[t].w0 != 0.0f ? 1 : 0) | (taps[t].w1 != 0.0f ? 2 : 0);
      if (nruns > 0 && runs[nruns - 1].kind == kind) runs[nruns - 1].end = t + 1;
      else runs[nruns++] = {t, t + 1, kind};
    }
    size_t j = 0;
    for (; j + 4 * W <= n; j += 4 * W) correlate2_taps_block<V, 4>(taps, runs, nruns, j, W, out0, out1);
    for (; j + W <= n; j += W) correlate2_taps_block<V, 1>(taps, runs, nruns, j, W, out0, out1);
    if (j < n) correlate2_taps_block<V, 1>(taps, runs, nruns, j, n - j, out0, out1);
    return;
  }
  size_t j = 0;
  for (; j + 4 * W <= n; j += 4 * W) correlate2_block<V, 4>(rows, nrows, k, kw, step, j, W, out0, out1);
  for (; j + W <= n; j += W) correlate2_block<V, 1>(rows, nrows, k, kw, step, j, W, out0, out1);
  if (j < n) correlate2_block<V, 1>(rows, nrows, k, kw, step, j, n - j, out0, out1);
}

// The fixed-point passes of a uint8 separable filter (sep_col_u8_fn, sep_row_u8_fn): integer
// loops in uint16 (every sum fits, so they wrap nowhere) that the compiler vectorizes with this
// ISA's flags; K taps known at compile time keep the sum in a register.
template <size_t K>
inline void fixed_col_k(const uint8_t* const* rows, const uint16_t* k, size_t n, uint16_t* __restrict out) {
  const uint8_t* r[K];
  uint16_t w[K];
  for (size_t i = 0; i < K; ++i) {
    r[i] = rows[i];
    w[i] = k[i];
  }
  for (size_t j = 0; j < n; ++j) {
    uint16_t acc = static_cast<uint16_t>(w[0] * r[0][j]);
#pragma GCC unroll 16
    for (size_t i = 1; i < K; ++i) acc = static_cast<uint16_t>(acc + w[i] * r[i][j]);
    out[j] = acc;
  }
}

inline void fixed_col(const uint8_t* const* rows, size_t nrows, const uint16_t* k, size_t n, uint16_t* out) {
  switch (nrows) {
    case 1: fixed_col_k<1>(rows, k, n, out); return;
    case 3: fixed_col_k<3>(rows, k, n, out); return;
    case 5: fixed_col_k<5>(rows, k, n, out); return;
    case 7: fixed_col_k<7>(rows, k, n, out); return;
    default: break;
  }
  for (size_t j = 0; j < n; ++j) out[j] = static_cast<uint16_t>(k[0] * rows[0][j]);
  for (size_t i = 1; i < nrows; ++i) {
    const uint8_t* r = rows[i];
    const uint16_t w = k[i];
    for (size_t j = 0; j < n; ++j) out[j] = static_cast<uint16_t>(out[j] + w * r[j]);
  }
}

// Round half to even of v / 2^shift (v + 2^(shift-1) - 1 + the kept bit), saturated to uint8.
template <size_t K>
inline void fixed_row_k(const uint16_t* row, const uint16_t* k, size_t step, unsigned shift, size_t n,
                        uint8_t* __restrict out) {
  const uint16_t* r[K];
  uint16_t w[K];
  for (size_t i = 0; i < K; ++i) {
    r[i] = row + i * step;
    w[i] = k[i];
  }
  const uint16_t bias = static_cast<uint16_t>(shift ? (1u << (shift - 1)) - 1u : 0u);
  const uint16_t odd = shift ? 1 : 0;
  for (size_t j = 0; j < n; ++j) {
    uint16_t acc = static_cast<uint16_t>(w[0] * r[0][j]);
#pragma GCC unroll 16
    for (size_t i = 1; i < K; ++i) acc = static_cast<uint16_t>(acc + w[i] * r[i][j]);
    const uint16_t t = static_cast<uint16_t>(acc + bias + ((acc >> shift) & odd));  // below 2^16 (no wrap)
    const uint16_t v = static_cast<uint16_t>(t >> shift);
    out[j] = static_cast<uint8_t>(v > 255 ? 255 : v);
  }
}

inline void fixed_row(const uint16_t* row, const uint16_t* k, size_t kw, size_t step, unsigned shift, size_t n,
                      uint8_t* out) {
  switch (kw) {
    case 1: fixed_row_k<1>(row, k, step, shift, n, out); return;
    case 3: fixed_row_k<3>(row, k, step, shift, n, out); return;
    case 5: fixed_row_k<5>(row, k, step, shift, n, out); return;
    case 7: fixed_row_k<7>(row, k, step, shift, n, out); return;
    default: break;
  }
  const uint16_t bias = static_cast<uint16_t>(shift ? (1u << (shift - 1)) - 1u : 0u);
  const uint16_t odd = shift ? 1 : 0;
  for (size_t j = 0; j < n; ++j) {
    uint16_t acc = 0;
    for (size_t i = 0; i < kw; ++i) acc = static_cast<uint16_t>(acc + k[i] * row[j + i * step]);
    const uint16_t t = static_cast<uint16_t>(acc + bias + ((acc >> shift) & odd));  // below 2^16 (no wrap)
    const uint16_t v = static_cast<uint16_t>(t >> shift);
    out[j] = static_cast<uint8_t>(v > 255 ? 255 : v);
  }
}

// The horizontal pass with 16-bit integer vectors, 2 * I::width outputs per step (the rest,
// and any ISA without such vectors, through fixed_row). I (defined next to each ISA's kernels)
// has: width (uint16 lanes), T, load, set1, add, mullo, srl (by a count), and_, and
// store_u8(out, a, b): both vectors saturated to uint8, a's bytes first.
template <class I, size_t K>
inline size_t fixed_row_vec_k(const uint16_t* row, const uint16_t* k, size_t kw, size_t step, unsigned shift,
                              size_t n, uint8_t* out) {
  using T = typename I::T;
  constexpr size_t W = I::width;
  const size_t taps = K ? K : kw;
  T w[K ? K : 1];
  if constexpr (K != 0)
    for (size_t i = 0; i < K; ++i) w[i] = I::set1(k[i]);
  const T bias = I::set1(static_cast<uint16_t>(shift ? (1u << (shift - 1)) - 1u : 0u));
  const T odd = I::set1(static_cast<uint16_t>(shift ? 1 : 0));
  size_t j = 0;
  for (; j + 2 * W <= n; j += 2 * W) {
    T a0 = I::zero(), a1 = I::zero();
#pragma GCC unroll 8
    for (size_t i = 0; i < taps; ++i) {
      T wi;
      if constexpr (K != 0) wi = w[i];
      else wi = I::set1(k[i]);
      const uint16_t* p = row + i * step + j;
      a0 = I::add(a0, I::mullo(I::load(p), wi));
      a1 = I::add(a1, I::mullo(I::load(p + W), wi));
    }
    a0 = I::srl(I::add(I::add(a0, bias), I::and_(I::srl(a0, shift), odd)), shift);
    a1 = I::srl(I::add(I::add(a1, bias), I::and_(I::srl(a1, shift), odd)), shift);
    I::store_u8(out + j, a0, a1);
  }
  return j;
}

template <class I>
inline void fixed_row_vec(const uint16_t* row, const uint16_t* k, size_t kw, size_t step, unsigned shift,
                          size_t n, uint8_t* out) {
  size_t j;
  switch (kw) {
    case 3: j = fixed_row_vec_k<I, 3>(row, k, kw, step, shift, n, out); break;
    case 5: j = fixed_row_vec_k<I, 5>(row, k, kw, step, shift, n, out); break;
    default: j = fixed_row_vec_k<I, 0>(row, k, kw, step, shift, n, out); break;
  }
  if (j < n) fixed_row(row + j, k, kw, step, shift, n - j, out + j);
}

}  // namespace
}  // namespace foveal
