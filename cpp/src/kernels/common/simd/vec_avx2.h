// AVX2+FMA vector of 8 floats. Included only by *__avx2.cpp files (compiled with AVX2 flags);
// the anonymous namespace keeps each instantiation inside its own translation unit.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/common/simd/vec_f32x4.h"

namespace foveal {
namespace {

struct VecAvx2 {
  using T = __m256;
  using F32x4 = VecF32x4;  // one pixel of 3 or 4 floats (vec_f32x4.h)
  static constexpr size_t width = 8;
  static __m256i mask(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static T zero() { return _mm256_setzero_ps(); }
  static T set1(float x) { return _mm256_set1_ps(x); }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static T load_n(const float* p, size_t n) { return n == width ? load(p) : _mm256_maskload_ps(p, mask(n)); }
  static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  // Streaming (non-temporal) store to a 32-byte aligned p: memory is written without being read
  // into the cache first; stream_fence() orders those stores before any later one.
  static void stream(float* p, T v) { _mm256_stream_ps(p, v); }
  static void stream_fence() { _mm_sfence(); }
  // Three channel vectors to pixel order: o[j] holds values 8j .. 8j + 7 of the sequence
  // a0 b0 c0 a1 b1 c1 ... (a pixel-interleaved row of 8 three-channel pixels).
  static void interleave3(T a, T b, T c, T* o) {
    alignas(32) static constexpr int32_t kPixel[3][8] = {{0, 0, 0, 1, 1, 1, 2, 2}, {2, 3, 3, 3, 4, 4, 4, 5}, {5, 5, 6, 6, 6, 7, 7, 7}};
    const __m256 kB[3] = {_mm256_castsi256_ps(_mm256_setr_epi32(0, -1, 0, 0, -1, 0, 0, -1)), _mm256_castsi256_ps(_mm256_setr_epi32(0, 0, -1, 0, 0, -1, 0, 0)), _mm256_castsi256_ps(_mm256_setr_epi32(-1, 0, 0, -1, 0, 0, -1, 0))};
    const __m256 kC[3] = {_mm256_castsi256_ps(_mm256_setr_epi32(0, 0, -1, 0, 0, -1, 0, 0)), _mm256_castsi256_ps(_mm256_setr_epi32(-1, 0, 0, -1, 0, 0, -1, 0)), _mm256_castsi256_ps(_mm256_setr_epi32(0, -1, 0, 0, -1, 0, 0, -1))};
    for (int j = 0; j < 3; ++j) {
      const __m256i i = _mm256_load_si256(reinterpret_cast<const __m256i*>(kPixel[j]));
      const __m256 r = _mm256_blendv_ps(_mm256_permutevar8x32_ps(a, i), _mm256_permutevar8x32_ps(b, i), kB[j]);
      o[j] = _mm256_blendv_ps(r, _mm256_permutevar8x32_ps(c, i), kC[j]);
    }
  }
  static void store_n(float* p, T v, size_t n) {
    if (n == width) store(p, v); else _mm256_maskstore_ps(p, mask(n), v);
  }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T div(T a, T b) { return _mm256_div_ps(a, b); }
  static T max(T a, T b) { return _mm256_max_ps(a, b); }
  static T min(T a, T b) { return _mm256_min_ps(a, b); }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T abs(T a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static T sqrt(T a) { return _mm256_sqrt_ps(a); }
  static T copysign(T m, T s) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(sign, m), _mm256_and_ps(sign, s));
  }
  static T select_lt(T a, T b, T x, T y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
  static T round(T x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static T pow2i(T n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  // uint8 <-> float: widen 8 bytes; store rounds half to even and saturates to [0, 255].
  static T load_u8(const uint8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static T load_u8_n(const uint8_t* p, size_t n) {
    if (n == width) return load_u8(p);
    alignas(16) uint8_t tmp[16] = {};
    for (size_t i = 0; i < n; ++i) tmp[i] = p[i];
    return load_u8(tmp);
  }
  static __m128i pack_u8(T v) {  // clamp first (NaN -> 0), round half to even, pack to bytes
    const __m256i i = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(255.0f)));
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
    return _mm_packus_epi16(w, w);
  }
  static void store_u8(uint8_t* p, T v) { _mm_storel_epi64(reinterpret_cast<__m128i*>(p), pack_u8(v)); }
  static void store_u8_n(uint8_t* p, T v, size_t n) {
    if (n == width) { store_u8(p, v); return; }
    alignas(16) uint8_t tmp[16];
    _mm_storel_epi64(reinterpret_cast<__m128i*>(tmp), pack_u8(v));
    for (size_t i = 0; i < n; ++i) p[i] = tmp[i];
  }
  // 32 bytes as 4 vectors in an order of their own (in-lane unpacks: no cross-lane moves), and
  // store_u8x4 its inverse: for elementwise maps of uint8 arrays (pointwise map2).
  static void load_u8x4(const uint8_t* p, T* v) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), z = _mm256_setzero_si256();
    const __m256i lo = _mm256_unpacklo_epi8(x, z), hi = _mm256_unpackhi_epi8(x, z);
    v[0] = _mm256_cvtepi32_ps(_mm256_unpacklo_epi16(lo, z));
    v[1] = _mm256_cvtepi32_ps(_mm256_unpackhi_epi16(lo, z));
    v[2] = _mm256_cvtepi32_ps(_mm256_unpacklo_epi16(hi, z));
    v[3] = _mm256_cvtepi32_ps(_mm256_unpackhi_epi16(hi, z));
  }
  static void store_u8x4(uint8_t* p, const T* v) {  // clamp (NaN -> 0), round half to even, pack
    const __m256 lo = _mm256_setzero_ps(), hi = _mm256_set1_ps(255.0f);
    __m256i i[4];
    for (int k = 0; k < 4; ++k) i[k] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v[k], lo), hi));
    const __m256i b = _mm256_packus_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), b);
  }
  // Gathers for the warp kernels (see vec_avx512.h).
  using I = __m256i;
  static T floor(T x) { return _mm256_floor_ps(x); }
  static T fma_ps(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T iota() { return _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7); }
  static void store_i32(int32_t* p, I v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static I load_i32(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static bool all_le_i32(I v, int32_t lim) {
    return _mm256_movemask_epi8(_mm256_cmpgt_epi32(v, _mm256_set1_epi32(lim))) == 0;
  }
  static I to_int(T x) { return _mm256_cvttps_epi32(x); }
  static I imul_add(I a, int32_t m, I b) { return _mm256_add_epi32(_mm256_mullo_epi32(a, _mm256_set1_epi32(m)), b); }
  static I iadd(I a, int32_t b) { return _mm256_add_epi32(a, _mm256_set1_epi32(b)); }
  // The 4 bytes at base + off[i] in lane i, from eight scalar loads put together rather than
  // vpgatherdd (the same bytes): on an AVX2-only AMD EPYC (Zen 2) the 1080p -> 224 bilinear
  // uint8 resize, whose horizontal pass is these loads, ran 1.38x faster (613 -> 443 us).
  static I gather_bytes(const uint8_t* base, I off) {
    alignas(32) int32_t o[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(o), off);
    auto u32 = [&](int i) {
      int32_t v;
      std::memcpy(&v, base + o[i], 4);
      return v;
    };
    __m128i lo = _mm_cvtsi32_si128(u32(0)), hi = _mm_cvtsi32_si128(u32(4));
    lo = _mm_insert_epi32(lo, u32(1), 1);
    hi = _mm_insert_epi32(hi, u32(5), 1);
    lo = _mm_insert_epi32(lo, u32(2), 2);
    hi = _mm_insert_epi32(hi, u32(6), 2);
    lo = _mm_insert_epi32(lo, u32(3), 3);
    hi = _mm_insert_epi32(hi, u32(7), 3);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
  }
  // base[idx[i]] in lane i, from scalar loads as gather_bytes (vpgatherdps is as slow there).
  static T gather_f32(const float* base, I idx) {
    alignas(32) int32_t o[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(o), idx);
    const __m128 lo = _mm_setr_ps(base[o[0]], base[o[1]], base[o[2]], base[o[3]]);
    const __m128 hi = _mm_setr_ps(base[o[4]], base[o[5]], base[o[6]], base[o[7]]);
    return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
  }
  // 32-bit integer lanes (wrapping) for the counter-based hash of dropout.
  static I iset1(uint32_t x) { return _mm256_set1_epi32(static_cast<int>(x)); }
  static I iota_i() { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
  static I iadd_v(I a, I b) { return _mm256_add_epi32(a, b); }
  static I imul(I a, uint32_t m) { return _mm256_mullo_epi32(a, iset1(m)); }
  static I ixor(I a, I b) { return _mm256_xor_si256(a, b); }
  static I isrl(I a, int k) { return _mm256_srl_epi32(a, _mm_cvtsi32_si128(k)); }
  static T select_ilt(I a, I b, T x) {  // a < b (signed) ? x : 0
    return _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(b, a)), x);
  }
  static T byte_lane(I v, int k) {
    return _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v, 8 * k), _mm256_set1_epi32(0xFF)));
  }
  static bool all_within(T v, float lo, float hi) {
    const __m256 ok = _mm256_and_ps(_mm256_cmp_ps(v, _mm256_set1_ps(lo), _CMP_GE_OQ), _mm256_cmp_ps(v, _mm256_set1_ps(hi), _CMP_LE_OQ));
    return _mm256_movemask_ps(ok) == 0xFF;
  }
  static float reduce_add(T v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // dst[k] = src[mask[k]] for 16 bytes (mask bytes >= 0x80 give 0): pixel reversal in flips.
  static void shuffle16(const uint8_t* src, const uint8_t* mask, uint8_t* dst) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    const __m128i m = _mm_loadu_si128(reinterpret_cast<const __m128i*>(mask));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_shuffle_epi8(v, m));
  }
  static float reduce_max(T v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};

}  // namespace
}  // namespace foveal
