// filter2d row correlation kernels, avx512.
#include <immintrin.h>

#include "kernels/common/simd/vec_avx512.h"
#include "kernels/image/filter2d/filter2d_u8f32_impl.h"
#include "kernels/image/filter2d/filter_int_u8_x86.h"
#include "kernels/registry.h"

namespace foveal {
namespace {

// 32 uint16 lanes for the fixed-point pass (fixed_row_vec).
struct I16Avx512 {
  using T = __m512i;
  static constexpr size_t width = 32;
  static T zero() { return _mm512_setzero_si512(); }
  static T set1(uint16_t x) { return _mm512_set1_epi16(static_cast<short>(x)); }
  static T load(const uint16_t* p) { return _mm512_loadu_si512(p); }
  static T add(T a, T b) { return _mm512_add_epi16(a, b); }
  static T mullo(T a, T b) { return _mm512_mullo_epi16(a, b); }
  static T srl(T a, unsigned k) { return _mm512_srl_epi16(a, _mm_cvtsi32_si128(static_cast<int>(k))); }
  static T and_(T a, T b) { return _mm512_and_si512(a, b); }
  static void store_u8(uint8_t* p, T a, T b) {  // packus interleaves 8-byte groups per 128-bit lane
    const __m512i order = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
    _mm512_storeu_si512(p, _mm512_permutexvar_epi64(order, _mm512_packus_epi16(a, b)));
  }
};

}  // namespace

void filter2d_f32_row__avx512(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                              size_t n, float* out) {
  correlate<VecAvx512>(rows, nrows, k, kw, step, n, out);
}
void filter2d_u8_row__avx512(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                             size_t n, uint8_t* out) {
  correlate<VecAvx512>(rows, nrows, k, kw, step, n, out);
}

void filter2d_f32_row2__avx512(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                               size_t n, float* out0, float* out1) {
  correlate2<VecAvx512>(rows, nrows, k, kw, step, n, out0, out1);
}
void filter2d_u8_row2__avx512(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                              size_t n, uint8_t* out0, uint8_t* out1) {
  correlate2<VecAvx512>(rows, nrows, k, kw, step, n, out0, out1);
}

void filter2d_u8_fixcol__avx512(const uint8_t* const* rows, size_t nrows, const uint16_t* k, size_t n, uint16_t* out) {
  fixed_col(rows, nrows, k, n, out);
}
void filter2d_u8_fixrow__avx512(const uint16_t* row, const uint16_t* k, size_t kw, size_t step, unsigned shift,
                                size_t n, uint8_t* out) {
  fixed_row_vec<I16Avx512>(row, k, kw, step, shift, n, out);
}

void filter2d_u8_int__avx512(const uint8_t* const* rows, size_t nrows, const int16_t* k, size_t kw, size_t step,
                            size_t n, uint8_t* out) {
  filter_int_u8_x86(rows, nrows, k, kw, step, n, out);
}

}  // namespace foveal
