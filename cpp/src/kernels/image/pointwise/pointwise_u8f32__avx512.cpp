// Pixel-wise image kernels (pointwise ops, uint8 to float, gray, flips), avx512.
#include <immintrin.h>

#include "kernels/common/simd/vec_avx512.h"
#include "kernels/image/pointwise/pointwise_u8f32_impl.h"
#include "kernels/registry.h"

namespace foveal {
namespace {

// gray_u8_vec's integer vectors: 16 pixels per vector.
struct GrayAvx512 {
  using T = __m512i;
  static constexpr size_t pixels = 16, reach3 = 64;
  static T lanes(const int8_t* m) {  // the 16 bytes in every 128-bit lane
    return _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(m)));
  }
  static T load3(const uint8_t* p) {  // lane k: bytes 12k .. 12k + 15
    const __m512i spread = _mm512_setr_epi32(0, 1, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9, 9, 10, 11, 12);
    return _mm512_permutexvar_epi32(spread, _mm512_loadu_si512(p));
  }
  static T load4(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static T sum(T rg, T b) {
    const __m512i wrg = _mm512_set1_epi32(9798 | 19235 << 16), wb = _mm512_set1_epi32(3735 | 16384 << 16);
    const __m512i b1 = _mm512_or_si512(b, _mm512_set1_epi32(1 << 16));
    return _mm512_srli_epi32(_mm512_add_epi32(_mm512_madd_epi16(rg, wrg), _mm512_madd_epi16(b1, wb)), 15);
  }
  static T gray3(T v) { return sum(_mm512_shuffle_epi8(v, lanes(kGrayRG3)), _mm512_shuffle_epi8(v, lanes(kGrayB3))); }
  static T gray4(T v) { return sum(_mm512_shuffle_epi8(v, lanes(kGrayRG4)), _mm512_shuffle_epi8(v, lanes(kGrayB4))); }
  static void store(uint8_t* p, T a, T b, T c, T d) {
    // lane k of the packs holds 4 values of each of a, b, c, d in turn: gather them back in order
    const __m512i v = _mm512_packus_epi16(_mm512_packus_epi32(a, b), _mm512_packus_epi32(c, d));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    _mm512_storeu_si512(p, _mm512_permutexvar_epi32(order, v));
  }
};

}  // namespace

void pointwise_u8__avx512(PointwiseOp op, size_t n, const uint8_t* x, const uint8_t* y,
                          const PointwiseParams& p, uint8_t* out) {
  pointwise_u8<VecAvx512>(op, n, x, y, p, out);
}
void pointwise_f32__avx512(PointwiseOp op, size_t n, const float* x, const float* y,
                           const PointwiseParams& p, float* out) {
  pointwise<VecAvx512, float>(op, n, x, y, p, out);
}
void pointwise_u8_to_f32__avx512(size_t n, const uint8_t* x, float scale, float* out) { u8_to_f32<VecAvx512>(n, x, scale, out); }
void pointwise_u8_to_f32_stream__avx512(size_t n, const uint8_t* x, float scale, float* out) {
  u8_to_f32_stream<VecAvx512>(n, x, scale, out);
}
void gray_u8__avx512(size_t n, size_t channels, const uint8_t* src, uint8_t* dst) {
  gray_u8_vec<GrayAvx512>(n, channels, src, dst);
}
void gray_f32__avx512(size_t n, size_t channels, const float* src, float* dst) { gray_f32(n, channels, src, dst); }
void flip_x8_row__avx512(size_t n, size_t pixel_bytes, const uint8_t* src, uint8_t* dst) { flip_row<VecAvx512>(n, pixel_bytes, src, dst); }

}  // namespace foveal
