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

template <class V, class O>
void correlate(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
               size_t n, O* out) {
  constexpr size_t W = V::width;
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

template <class V, class O>
void correlate2(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                size_t n, O* out0, O* out1) {
  constexpr size_t W = V::width;
  size_t j = 0;
  for (; j + 4 * W <= n; j += 4 * W) correlate2_block<V, 4>(rows, nrows, k, kw, step, j, W, out0, out1);
  for (; j + W <= n; j += W) correlate2_block<V, 1>(rows, nrows, k, kw, step, j, W, out0, out1);
  if (j < n) correlate2_block<V, 1>(rows, nrows, k, kw, step, j, n - j, out0, out1);
}

}  // namespace
}  // namespace foveal
