// AVX-512 vector of 16 floats. Included only by *__avx512.cpp files (compiled with AVX-512 flags);
// the anonymous namespace keeps each instantiation inside its own translation unit.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/common/simd/vec_f32x4.h"

namespace foveal {
namespace {

struct VecAvx512 {
  using T = __m512;
  using F32x4 = VecF32x4;  // one pixel of 3 or 4 floats (vec_f32x4.h)
  static constexpr size_t width = 16;
  static __mmask16 mask(size_t n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static T zero() { return _mm512_setzero_ps(); }
  static T set1(float x) { return _mm512_set1_ps(x); }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static T load_n(const float* p, size_t n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  // Streaming (non-temporal) store to a 64-byte aligned p (see vec_avx2.h).
  static void stream(float* p, T v) { _mm512_stream_ps(p, v); }
  static void stream_fence() { _mm_sfence(); }
  // Three channel vectors to pixel order: o[j] holds values 16j .. 16j + 15 of the sequence
  // a0 b0 c0 a1 b1 c1 ... (a pixel-interleaved row of 16 three-channel pixels).
  static void interleave3(T a, T b, T c, T* o) {
    alignas(64) static constexpr int32_t kPixel[3][16] = {{0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5}, {5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10}, {10, 11, 11, 11, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15, 15, 15}};
    static constexpr __mmask16 kB[3] = {0x2492, 0x9249, 0x4924};
    static constexpr __mmask16 kC[3] = {0x4924, 0x2492, 0x9249};
    for (int j = 0; j < 3; ++j) {
      const __m512i i = _mm512_load_si512(kPixel[j]);
      __m512 r = _mm512_permutexvar_ps(i, a);
      r = _mm512_mask_permutexvar_ps(r, kB[j], i, b);
      o[j] = _mm512_mask_permutexvar_ps(r, kC[j], i, c);
    }
  }
  static void store_n(float* p, T v, size_t n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T div(T a, T b) { return _mm512_div_ps(a, b); }
  static T max(T a, T b) { return _mm512_max_ps(a, b); }
  static T min(T a, T b) { return _mm512_min_ps(a, b); }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T abs(T a) { return _mm512_abs_ps(a); }
  static T sqrt(T a) { return _mm512_sqrt_ps(a); }
  // Copies the sign of s onto the magnitude of m.
  static T copysign(T m, T s) {
    const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(m), _mm512_castps_si512(s), sign, 0xD8));  // sign ? s : m, bitwise
  }
  static T select_lt(T a, T b, T x, T y) {  // a < b ? x : y
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x);
  }
  static T round(T x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static T pow2i(T n) {  // 2^n for integral n in [-126, 127]
    const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  // uint8 <-> float: widen 16 bytes; store rounds half to even and saturates to [0, 255].
  static T load_u8(const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static T load_u8_n(const uint8_t* p, size_t n) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask(n), p)));
  }
  static __m512i to_u8_range(T v) {  // clamp first (NaN -> 0), then round half to even
    return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(255.0f)));
  }
  static void store_u8(uint8_t* p, T v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtusepi32_epi8(to_u8_range(v)));
  }
  static void store_u8_n(uint8_t* p, T v, size_t n) { _mm512_mask_cvtusepi32_storeu_epi8(p, mask(n), to_u8_range(v)); }
  // 4 * 16 bytes as 4 vectors and back (pointwise map2; in order here, see vec_avx2.h).
  static void load_u8x4(const uint8_t* p, T* v) {
    for (int k = 0; k < 4; ++k) v[k] = load_u8(p + 16 * k);
  }
  static void store_u8x4(uint8_t* p, const T* v) {
    for (int k = 0; k < 4; ++k) store_u8(p + 16 * k, v[k]);
  }
  // Gathers for the warp kernels: integer lane offsets from integral floats, 32-bit loads at
  // byte offsets (uint8 pixels) or float indices, and lane tests.
  using I = __m512i;
  static T floor(T x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  static T fma_ps(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T iota() { return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
  static void store_i32(int32_t* p, I v) { _mm512_storeu_si512(p, v); }
  static I load_i32(const int32_t* p) { return _mm512_loadu_si512(p); }
  static bool all_le_i32(I v, int32_t lim) { return _mm512_cmpgt_epi32_mask(v, _mm512_set1_epi32(lim)) == 0; }
  static I to_int(T x) { return _mm512_cvttps_epi32(x); }
  static I imul_add(I a, int32_t m, I b) { return _mm512_add_epi32(_mm512_mullo_epi32(a, _mm512_set1_epi32(m)), b); }
  static I iadd(I a, int32_t b) { return _mm512_add_epi32(a, _mm512_set1_epi32(b)); }
  static I gather_bytes(const uint8_t* base, I off) { return _mm512_i32gather_epi32(off, base, 1); }
  static T gather_f32(const float* base, I idx) { return _mm512_i32gather_ps(idx, base, 4); }
  static T byte_lane(I v, int k) {
    return _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(v, 8 * k), _mm512_set1_epi32(0xFF)));
  }
  static bool all_within(T v, float lo, float hi) {
    return (_mm512_cmp_ps_mask(v, _mm512_set1_ps(lo), _CMP_GE_OQ) & _mm512_cmp_ps_mask(v, _mm512_set1_ps(hi), _CMP_LE_OQ)) == 0xFFFF;
  }
  static float reduce_add(T v) { return _mm512_reduce_add_ps(v); }
  // dst[k] = src[mask[k]] for 16 bytes (mask bytes >= 0x80 give 0): pixel reversal in flips.
  static void shuffle16(const uint8_t* src, const uint8_t* mask, uint8_t* dst) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    const __m128i m = _mm_loadu_si128(reinterpret_cast<const __m128i*>(mask));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_shuffle_epi8(v, m));
  }
  static float reduce_max(T v) { return _mm512_reduce_max_ps(v); }
  // 32-bit integer lanes (wrapping) for the counter-based hash of dropout.
  static I iset1(uint32_t x) { return _mm512_set1_epi32(static_cast<int>(x)); }
  static I iota_i() { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
  static I iadd_v(I a, I b) { return _mm512_add_epi32(a, b); }
  static I imul(I a, uint32_t m) { return _mm512_mullo_epi32(a, iset1(m)); }
  static I ixor(I a, I b) { return _mm512_xor_si512(a, b); }
  static I isrl(I a, int k) { return _mm512_srl_epi32(a, _mm_cvtsi32_si128(k)); }
  static T select_ilt(I a, I b, T x) {  // a < b (signed) ? x : 0
    return _mm512_maskz_mov_ps(_mm512_cmplt_epi32_mask(a, b), x);
  }
};

}  // namespace
}  // namespace foveal
