// filter2d row correlation kernels, avx2.
#include <immintrin.h>

#include "kernels/common/simd/vec_avx2.h"
#include "kernels/image/filter2d/filter2d_u8f32_impl.h"
#include "kernels/image/filter2d/filter_int_u8_x86.h"
#include "kernels/registry.h"

namespace foveal {
namespace {

// 16 uint16 lanes for the fixed-point pass (fixed_row_vec).
struct I16Avx2 {
  using T = __m256i;
  static constexpr size_t width = 16;
  static T zero() { return _mm256_setzero_si256(); }
  static T set1(uint16_t x) { return _mm256_set1_epi16(static_cast<short>(x)); }
  static T load(const uint16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static T add(T a, T b) { return _mm256_add_epi16(a, b); }
  static T mullo(T a, T b) { return _mm256_mullo_epi16(a, b); }
  static T srl(T a, unsigned k) { return _mm256_srl_epi16(a, _mm_cvtsi32_si128(static_cast<int>(k))); }
  static T and_(T a, T b) { return _mm256_and_si256(a, b); }
  static void store_u8(uint8_t* p, T a, T b) {  // packus interleaves 8-byte groups per 128-bit lane
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_permute4x64_epi64(_mm256_packus_epi16(a, b), 0xD8));
  }
};

}  // namespace

void filter2d_f32_row__avx2(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                            size_t n, float* out) {
  correlate<VecAvx2>(rows, nrows, k, kw, step, n, out);
}
void filter2d_u8_row__avx2(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                           size_t n, uint8_t* out) {
  correlate<VecAvx2>(rows, nrows, k, kw, step, n, out);
}

void filter2d_f32_row2__avx2(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                             size_t n, float* out0, float* out1) {
  correlate2<VecAvx2>(rows, nrows, k, kw, step, n, out0, out1);
}
void filter2d_u8_row2__avx2(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                            size_t n, uint8_t* out0, uint8_t* out1) {
  correlate2<VecAvx2>(rows, nrows, k, kw, step, n, out0, out1);
}

void filter2d_u8_fixcol__avx2(const uint8_t* const* rows, size_t nrows, const uint16_t* k, size_t n, uint16_t* out) {
  fixed_col(rows, nrows, k, n, out);
}
void filter2d_u8_fixrow__avx2(const uint16_t* row, const uint16_t* k, size_t kw, size_t step, unsigned shift,
                              size_t n, uint8_t* out) {
  fixed_row_vec<I16Avx2>(row, k, kw, step, shift, n, out);
}

void filter2d_u8_int__avx2(const uint8_t* const* rows, size_t nrows, const int16_t* k, size_t kw, size_t step,
                            size_t n, uint8_t* out) {
  filter_int_u8_x86(rows, nrows, k, kw, step, n, out);
}

}  // namespace foveal
