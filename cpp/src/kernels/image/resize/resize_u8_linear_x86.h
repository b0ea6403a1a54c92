// The fixed-point bilinear uint8 resize passes with 128-bit integer vectors (SSSE3 byte shuffles,
// pmaddwd multiply-adds of 16-bit pairs), for the x86 ISAs' kernel files. The same values as
// resize_u8_linear.h, which takes the pixels the vectors leave.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/image/pairs_x86.h"
#include "kernels/image/resize/resize_u8_linear.h"

namespace foveal {
namespace {

// One pixel's 4 lanes, 32 bits each, before the shift: an 8-byte load, a shuffle, a pmaddwd.
inline __m128i hlinear_pixel(const uint8_t* row, const int32_t* off, const int16_t* w, size_t x, __m128i pairs) {
  const __m128i v = _mm_shuffle_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + off[x])), pairs);
  int32_t wp;
  std::memcpy(&wp, w + 2 * x, sizeof wp);
  return _mm_madd_epi16(v, _mm_set1_epi32(wp));
}

// Horizontal pass: two pixels at a time while their 8-byte loads stay in the row.
template <size_t C>
inline void hlinear_x86(const uint8_t* row, size_t row_bytes, size_t out_w, const int32_t* off,
                        const int16_t* w, int16_t* out) {
  const __m128i pairs = _mm_load_si128(reinterpret_cast<const __m128i*>(tap_pairs(C)));
  const __m128i round = _mm_set1_epi32(64);
  size_t x = 0;
  for (; x + 2 <= out_w && static_cast<size_t>(off[x]) + 8 <= row_bytes &&
         static_cast<size_t>(off[x + 1]) + 8 <= row_bytes;
       x += 2) {
    const __m128i a = _mm_srai_epi32(_mm_add_epi32(hlinear_pixel(row, off, w, x, pairs), round), 7);
    const __m128i b = _mm_srai_epi32(_mm_add_epi32(hlinear_pixel(row, off, w, x + 1, pairs), round), 7);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * x), _mm_packs_epi32(a, b));
  }
  hlinear_pixels<C>(row, off, w, x, out_w, out);
}

// Two pixels' 8 lanes of the vertical sum, shifted: r0 and r1 interleaved into pairs for pmaddwd.
inline __m128i vlinear_lanes(const int16_t* r0, const int16_t* r1, __m128i b, __m128i half) {
  const __m128i u = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r0));
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r1));
  const __m128i lo = _mm_srai_epi32(_mm_add_epi32(_mm_madd_epi16(_mm_unpacklo_epi16(u, v), b), half), 21);
  const __m128i hi = _mm_srai_epi32(_mm_add_epi32(_mm_madd_epi16(_mm_unpackhi_epi16(u, v), b), half), 21);
  return _mm_packs_epi32(lo, hi);
}

// Vertical pass: 4 pixels at a time, packed to bytes (C = 3: 12 of them, stored 16 wide while
// the row has room, the 4 extra bytes rewritten by the next pixels).
template <size_t C>
inline void vlinear_x86(const int16_t* r0, const int16_t* r1, int32_t b0, int32_t b1, size_t out_w,
                        uint8_t* out) {
  const __m128i b = _mm_set1_epi32(static_cast<int32_t>((static_cast<uint32_t>(b1) << 16) | static_cast<uint16_t>(b0)));
  const __m128i half = _mm_set1_epi32(1 << 20);
  const __m128i pack3 = _mm_load_si128(reinterpret_cast<const __m128i*>(kPack4To3));
  size_t x = 0;
  for (; x + 4 <= out_w; x += 4) {
    __m128i px = _mm_packus_epi16(vlinear_lanes(r0 + 4 * x, r1 + 4 * x, b, half),
                                  vlinear_lanes(r0 + 4 * x + 8, r1 + 4 * x + 8, b, half));
    if constexpr (C == 4) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * x), px);
    } else {
      px = _mm_shuffle_epi8(px, pack3);
      if (3 * x + 16 <= 3 * out_w) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 3 * x), px);
      } else {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 3 * x), px);
        const int32_t last = _mm_extract_epi32(px, 2);
        std::memcpy(out + 3 * x + 8, &last, sizeof last);
      }
    }
  }
  vlinear_pixels<C>(r0, r1, b0, b1, x, out_w, out);
}

}  // namespace
}  // namespace foveal
