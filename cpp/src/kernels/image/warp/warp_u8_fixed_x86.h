// The fixed-point bilinear uint8 warp (warp_u8_fixed.h) with x86 vectors, for the AVX2 and AVX-512
// kernel files: coordinates and weights of 8 pixels in 256-bit registers (the scalar rule's
// fma and products), then, for a block whose taps all lie inside the image, per pixel: one
// 8-byte load of each source row's two taps, a byte shuffle into 16-bit pairs, and a pmaddwd by
// the row's weight pair. Blocks of a constant border with every tap outside are filled at once;
// other blocks go pixel by pixel (bilinear_px_u8_fixed).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/image/pairs_x86.h"
#include "kernels/image/warp/warp_u8_fixed.h"

namespace foveal {
namespace {

// Lane K (0-3) of v in all four lanes.
template <int K>
__attribute__((always_inline)) inline __m128i lane_of(__m128i v) {
  return _mm_shuffle_epi32(v, K * 0x55);
}

// Pixel K of 4 (top-left tap at s + off[K]; weight pairs top and bot of the 4 pixels): its 4
// lanes (32 bits), shifted.
template <int K>
__attribute__((always_inline)) inline __m128i fixed_px(const uint8_t* s, const int32_t* off, __m128i top, __m128i bot,
                                                       int32_t row, __m128i pairs) {
  const uint8_t* t = s + off[K];
  const __m128i a = _mm_shuffle_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(t)), pairs);
  const __m128i b = _mm_shuffle_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(t + row)), pairs);
  const __m128i v = _mm_add_epi32(_mm_madd_epi16(a, lane_of<K>(top)), _mm_madd_epi16(b, lane_of<K>(bot)));
  return _mm_srai_epi32(_mm_add_epi32(v, _mm_set1_epi32(1 << 13)), 14);
}

// 4 pixels as 16 bytes, 4 per pixel.
__attribute__((always_inline)) inline __m128i fixed_quad(const uint8_t* s, const int32_t* off, __m128i top, __m128i bot,
                                                         int32_t row, __m128i pairs) {
  const __m128i a = _mm_packs_epi32(fixed_px<0>(s, off, top, bot, row, pairs), fixed_px<1>(s, off, top, bot, row, pairs));
  const __m128i b = _mm_packs_epi32(fixed_px<2>(s, off, top, bot, row, pairs), fixed_px<3>(s, off, top, bot, row, pairs));
  return _mm_packus_epi16(a, b);
}

// RowCoords' rule in 8 lanes (AVX2 registers): the source coordinates of pixels x .. x + 7.
struct RowCoords8 {
  __m256 m0, m3, bx, by, rx, ry, m2, m5;
  size_t blocks_end;
  explicit RowCoords8(const RowCoords& rc)
      : m0(_mm256_set1_ps(rc.m0)), m3(_mm256_set1_ps(rc.m3)), bx(_mm256_set1_ps(rc.base_x)),
        by(_mm256_set1_ps(rc.base_y)), rx(_mm256_set1_ps(rc.ry)), ry(_mm256_set1_ps(rc.ryy)),
        m2(_mm256_set1_ps(rc.m2)), m5(_mm256_set1_ps(rc.m5)), blocks_end(rc.blocks_end) {}
  void at(size_t x, __m256* sx, __m256* sy) const {
    const __m256 xv = _mm256_add_ps(_mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_ps(static_cast<float>(x)));
    *sx = _mm256_fmadd_ps(m0, xv, bx);
    *sy = _mm256_fmadd_ps(m3, xv, by);
    if (x + 8 > blocks_end) {  // lanes from blocks_end on: the tail's rule
      const int32_t first_tail = static_cast<int32_t>(blocks_end > x ? blocks_end - x : 0);
      const __m256 tail = _mm256_castsi256_ps(
          _mm256_cmpgt_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(first_tail - 1)));
      *sx = _mm256_blendv_ps(*sx, _mm256_add_ps(_mm256_fmadd_ps(m0, xv, rx), m2), tail);
      *sy = _mm256_blendv_ps(*sy, _mm256_add_ps(_mm256_fmadd_ps(m3, xv, ry), m5), tail);
    }
  }
};

// Pixels [x0, x1) of row y (out: the row's start).
template <size_t C>
void bilinear_span_u8_fixed_x86(const WarpRowParams& p, const uint8_t* src, size_t y, size_t x0, size_t x1,
                                uint8_t* out) {
  const int32_t W = static_cast<int32_t>(p.src_w), H = static_cast<int32_t>(p.src_h);
  const int32_t row = W * static_cast<int32_t>(C);
  const RowCoords8 coords(RowCoords(p, y));
  const __m256 q14 = _mm256_set1_ps(16384.0f);
  const __m256 fone = _mm256_set1_ps(1.0f);
  // interior: taps in columns 0 .. W - 2 and rows 0 .. H - 2, and the 8-byte loads inside the
  // image (3 channels: the left tap at most in column W - 3)
  const __m256 x_last = _mm256_set1_ps(static_cast<float>(C == 3 ? W - 3 : W - 2));
  const __m256 y_last = _mm256_set1_ps(static_cast<float>(H - 2));
  const __m256 zero = _mm256_setzero_ps(), neg_one = _mm256_set1_ps(-1.0f);
  const __m256 w_f = _mm256_set1_ps(static_cast<float>(W)), h_f = _mm256_set1_ps(static_cast<float>(H));
  const bool interior_ok = W >= (C == 3 ? 3 : 2) && H >= 2;
  const bool constant = p.border == Border::constant;
  const int cval = static_cast<int>(p.cval);
  const __m128i pairs = _mm_load_si128(reinterpret_cast<const __m128i*>(tap_pairs(C)));
  const __m128i pack3 = _mm_load_si128(reinterpret_cast<const __m128i*>(kPack4To3));
  auto block = [&](size_t x) -> size_t {
    __m256 sx, sy;
    coords.at(x, &sx, &sy);
    const __m256 fx = _mm256_floor_ps(sx), fy = _mm256_floor_ps(sy);
    // compared as floats (whole numbers; NaN fails every test)
    const __m256 inside = _mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(fx, zero, _CMP_GE_OQ), _mm256_cmp_ps(fx, x_last, _CMP_LE_OQ)),
                                        _mm256_and_ps(_mm256_cmp_ps(fy, zero, _CMP_GE_OQ), _mm256_cmp_ps(fy, y_last, _CMP_LE_OQ)));
    if (!interior_ok || _mm256_movemask_ps(inside) != 0xFF) {
      if (!constant) return 0;
      // every tap of every pixel in the border: fx + 1 < 0 or fx >= W, or the same of fy and H
      const __m256 away = _mm256_or_ps(_mm256_or_ps(_mm256_cmp_ps(fx, neg_one, _CMP_LT_OQ), _mm256_cmp_ps(fx, w_f, _CMP_GE_OQ)),
                                       _mm256_or_ps(_mm256_cmp_ps(fy, neg_one, _CMP_LT_OQ), _mm256_cmp_ps(fy, h_f, _CMP_GE_OQ)));
      if (_mm256_movemask_ps(away) != 0xFF) return 0;
      std::memset(out + x * C, cval, 8 * C);
      return 8;
    }
    const __m256i ix = _mm256_cvttps_epi32(fx), iy = _mm256_cvttps_epi32(fy);
    const __m256 ax = _mm256_sub_ps(sx, fx), ay = _mm256_sub_ps(sy, fy);
    const __m256 nx = _mm256_sub_ps(fone, ax), ny = _mm256_mul_ps(_mm256_sub_ps(fone, ay), q14);
    const __m256 qy = _mm256_mul_ps(ay, q14);
    // weight pairs of each row: w00 | w01 << 16 and w10 | w11 << 16 (fixed_weights)
    const __m256i top = _mm256_or_si256(_mm256_cvtps_epi32(_mm256_mul_ps(nx, ny)),
                                        _mm256_slli_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(ax, ny)), 16));
    const __m256i bot = _mm256_or_si256(_mm256_cvtps_epi32(_mm256_mul_ps(nx, qy)),
                                        _mm256_slli_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(ax, qy)), 16));
    alignas(32) int32_t off[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(off),
                       _mm256_add_epi32(_mm256_mullo_epi32(iy, _mm256_set1_epi32(row)),
                                        _mm256_mullo_epi32(ix, _mm256_set1_epi32(static_cast<int32_t>(C)))));
    const __m128i p03 = fixed_quad(src, off, _mm256_castsi256_si128(top), _mm256_castsi256_si128(bot), row, pairs);
    const __m128i p47 = fixed_quad(src, off + 4, _mm256_extracti128_si256(top, 1), _mm256_extracti128_si256(bot, 1), row, pairs);
    uint8_t* o = out + x * C;
    if constexpr (C == 4) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o), p03);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 16), p47);
    } else {
      const __m128i a = _mm_shuffle_epi8(p03, pack3), b = _mm_shuffle_epi8(p47, pack3);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o), a);  // bytes 12-15 rewritten just below
      if ((x + 8) * 3 + 4 <= p.out_w * 3) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 12), b);
      } else {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(o + 12), b);
        const int32_t last = _mm_extract_epi32(b, 2);
        std::memcpy(o + 20, &last, sizeof last);
      }
    }
    return 8;
  };
  bilinear_span_u8_fixed(p, src, y, x0, x1, out, block);
}

inline void bilinear_row_u8_fixed_x86(const WarpRowParams& p, const uint8_t* src, size_t y, uint8_t* out) {
  if (p.channels == 3) bilinear_span_u8_fixed_x86<3>(p, src, y, 0, p.out_w, out);
  else bilinear_span_u8_fixed_x86<4>(p, src, y, 0, p.out_w, out);
}

}  // namespace
}  // namespace foveal
