// Pixel-wise image kernels (pointwise ops, uint8 to float, gray, flips), avx2.
#include <immintrin.h>

#include "kernels/common/simd/vec_avx2.h"
#include "kernels/image/pointwise/pointwise_u8f32_impl.h"
#include "kernels/registry.h"

namespace foveal {
namespace {

// gray_u8_vec's integer vectors: 8 pixels per vector.
struct GrayAvx2 {
  using T = __m256i;
  static constexpr size_t pixels = 8, reach3 = 28;
  static T lanes(const int8_t* m) {  // the 16 bytes in every 128-bit lane
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(m)));
  }
  static T load3(const uint8_t* p) {  // lane k: bytes 12k .. 12k + 15
    return _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(p + 12), reinterpret_cast<const __m128i*>(p));
  }
  static T load4(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static T sum(T rg, T b) {
    const __m256i wrg = _mm256_set1_epi32(9798 | 19235 << 16), wb = _mm256_set1_epi32(3735 | 16384 << 16);
    const __m256i b1 = _mm256_or_si256(b, _mm256_set1_epi32(1 << 16));
    return _mm256_srli_epi32(_mm256_add_epi32(_mm256_madd_epi16(rg, wrg), _mm256_madd_epi16(b1, wb)), 15);
  }
  static T gray3(T v) { return sum(_mm256_shuffle_epi8(v, lanes(kGrayRG3)), _mm256_shuffle_epi8(v, lanes(kGrayB3))); }
  static T gray4(T v) { return sum(_mm256_shuffle_epi8(v, lanes(kGrayRG4)), _mm256_shuffle_epi8(v, lanes(kGrayB4))); }
  static void store(uint8_t* p, T a, T b, T c, T d) {
    // lane k of the packs holds 4 values of each of a, b, c, d in turn: gather them back in order
    const __m256i v = _mm256_packus_epi16(_mm256_packus_epi32(a, b), _mm256_packus_epi32(c, d));
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_permutevar8x32_epi32(v, order));
  }
};

}  // namespace

void pointwise_u8__avx2(PointwiseOp op, size_t n, const uint8_t* x, const uint8_t* y,
                        const PointwiseParams& p, uint8_t* out) {
  pointwise_u8<VecAvx2>(op, n, x, y, p, out);
}
void pointwise_f32__avx2(PointwiseOp op, size_t n, const float* x, const float* y,
                         const PointwiseParams& p, float* out) {
  pointwise<VecAvx2, float>(op, n, x, y, p, out);
}
void pointwise_u8_to_f32__avx2(size_t n, const uint8_t* x, float scale, float* out) { u8_to_f32<VecAvx2>(n, x, scale, out); }
void pointwise_u8_to_f32_stream__avx2(size_t n, const uint8_t* x, float scale, float* out) {
  u8_to_f32_stream<VecAvx2>(n, x, scale, out);
}
void gray_u8__avx2(size_t n, size_t channels, const uint8_t* src, uint8_t* dst) {
  gray_u8_vec<GrayAvx2>(n, channels, src, dst);
}
void gray_f32__avx2(size_t n, size_t channels, const float* src, float* dst) { gray_f32(n, channels, src, dst); }
void flip_x8_row__avx2(size_t n, size_t pixel_bytes, const uint8_t* src, uint8_t* dst) { flip_row<VecAvx2>(n, pixel_bytes, src, dst); }

}  // namespace foveal
