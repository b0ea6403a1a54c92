// The uint8 2-D filter with small whole-number taps with AVX2 integer vectors, for the AVX2 and
// AVX-512 kernel files: 64 outputs at a time (then 16), each non-zero tap one widening load of
// 16 bytes per 16 outputs, added (tap 1), subtracted (tap -1) or multiplied and added in 16
// bits; packed back with unsigned saturation. Integer sums are exact in any order, so these are
// filter_int_u8.h's values, and it takes the rest of the row.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/image/filter2d/filter_int_u8.h"

namespace foveal {
namespace {

// The non-zero taps of one output row, in fixed arrays (no allocation per row): the absolute
// values sum to at most 128, so there are at most 128 of them.
constexpr size_t kMaxIntTaps = 128;
struct IntTaps {
  const uint8_t* plus[kMaxIntTaps];    // taps of weight 1
  const uint8_t* minus[kMaxIntTaps];   // taps of weight -1
  const uint8_t* other[kMaxIntTaps];   // the others, with their weights
  int16_t w[kMaxIntTaps];
  size_t n_plus = 0, n_minus = 0, n_other = 0;
};

// NV accumulators of 16 outputs from j on.
template <int NV>
__attribute__((always_inline)) inline void filter_int_block(const IntTaps& t, size_t j, uint8_t* out) {
  __m256i acc[NV];
  for (int q = 0; q < NV; ++q) acc[q] = _mm256_setzero_si256();
  auto at = [&](const uint8_t* p, int q) {
    return _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + j + 16 * q)));
  };
  for (size_t i = 0; i < t.n_plus; ++i)
    for (int q = 0; q < NV; ++q) acc[q] = _mm256_add_epi16(acc[q], at(t.plus[i], q));
  for (size_t i = 0; i < t.n_minus; ++i)
    for (int q = 0; q < NV; ++q) acc[q] = _mm256_sub_epi16(acc[q], at(t.minus[i], q));
  for (size_t i = 0; i < t.n_other; ++i) {
    const __m256i w = _mm256_set1_epi16(t.w[i]);
    for (int q = 0; q < NV; ++q) acc[q] = _mm256_add_epi16(acc[q], _mm256_mullo_epi16(at(t.other[i], q), w));
  }
  for (int q = 0; q < NV; ++q)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j + 16 * q),
                     _mm_packus_epi16(_mm256_castsi256_si128(acc[q]), _mm256_extracti128_si256(acc[q], 1)));
}

inline void filter_int_u8_x86(const uint8_t* const* rows, size_t nrows, const int16_t* k, size_t kw, size_t step,
                              size_t n, uint8_t* out) {
  IntTaps t;
  for (size_t r = 0; r < nrows; ++r)
    for (size_t s = 0; s < kw; ++s) {
      const int16_t v = k[r * kw + s];
      const uint8_t* p = rows[r] + s * step;
      if (v != 0 && t.n_plus + t.n_minus + t.n_other == kMaxIntTaps) {   // outside the contract
        filter_int_u8_values(rows, nrows, k, kw, step, 0, n, out);
        return;
      }
      if (v == 1) t.plus[t.n_plus++] = p;
      else if (v == -1) t.minus[t.n_minus++] = p;
      else if (v != 0) {
        t.other[t.n_other] = p;
        t.w[t.n_other++] = v;
      }
    }
  size_t j = 0;
  for (; j + 64 <= n; j += 64) filter_int_block<4>(t, j, out);
  for (; j + 16 <= n; j += 16) filter_int_block<1>(t, j, out);
  filter_int_u8_values(rows, nrows, k, kw, step, j, n, out);
}

}  // namespace
}  // namespace foveal
