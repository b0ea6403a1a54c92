// Affine warp row kernels, avx512. Bilinear rows of 1 to 4 channels take a body of their own:
// 16 output pixels per step, borders included (source indices mapped through the border in
// vector lanes, constant-border taps masked to cval), the four neighbours gathered (one 32-bit
// gather per tap fetches every channel of a uint8 pixel), the scalar path's float operations in
// the same order, and the intensity change and the store (uint8 rounded and saturated, or
// float32) fused. No pixel of such a row goes one at a time, so rotations with many border
// pixels cost what interior ones do.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/common/simd/vec_avx512.h"
#include "kernels/image/warp/warp_u8_fixed_x86.h"
#include "kernels/image/warp/warp_u8f32_impl.h"
#include "kernels/registry.h"

namespace foveal {
namespace {

using V16 = VecAvx512;

// Indices i (16 lanes) on an axis of n pixels through the border. valid: the lanes inside
// [0, n) before mapping (the taps a constant border does not replace by cval; its indices are
// clamped so that the gathers stay inside). Lanes more than one image size outside go through
// border_index one at a time.
inline __m512i border_lanes(__m512i i, int32_t n, Border b, __mmask16* valid) {
  const __m512i zero = _mm512_setzero_si512(), nv = _mm512_set1_epi32(n);
  const __mmask16 lo = _mm512_cmplt_epi32_mask(i, zero), hi = _mm512_cmpge_epi32_mask(i, nv);
  *valid = static_cast<__mmask16>(~(lo | hi));
  if ((lo | hi) == 0) return i;
  const __m512i last = _mm512_set1_epi32(n - 1);
  __m512i r;
  switch (b) {
    case Border::constant:
    case Border::replicate:
      return _mm512_min_epi32(_mm512_max_epi32(i, zero), last);
    case Border::reflect:  // -1 - i below, 2n - 1 - i above
      r = _mm512_mask_sub_epi32(i, lo, _mm512_set1_epi32(-1), i);
      r = _mm512_mask_sub_epi32(r, hi, _mm512_set1_epi32(2 * n - 1), i);
      break;
    case Border::reflect101:  // -i below, 2n - 2 - i above (one pixel: always 0)
      if (n == 1) return zero;
      r = _mm512_mask_sub_epi32(i, lo, zero, i);
      r = _mm512_mask_sub_epi32(r, hi, _mm512_set1_epi32(2 * n - 2), i);
      break;
    default:  // wrap
      r = _mm512_mask_add_epi32(i, lo, i, nv);
      r = _mm512_mask_sub_epi32(r, hi, i, nv);
      break;
  }
  const __mmask16 far = _mm512_cmplt_epi32_mask(r, zero) | _mm512_cmpge_epi32_mask(r, nv);
  if (far == 0) return r;
  alignas(64) int32_t in[16], out[16];
  _mm512_store_si512(in, i);
  _mm512_store_si512(out, r);
  for (int k = 0; k < 16; ++k)
    if (far >> k & 1) out[k] = static_cast<int32_t>(border_index(in[k], n, b));
  return _mm512_load_si512(out);
}

// The 32-bit words at byte offsets off of a uint8 image of `bytes` bytes; a lane whose word
// would end past the image takes only the bytes inside (its last pixel).
inline __m512i gather_words(const uint8_t* src, __m512i off, int32_t bytes) {
  const __mmask16 safe = _mm512_cmple_epi32_mask(off, _mm512_set1_epi32(bytes - 4));
  __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), safe, off, src, 1);
  if (safe != 0xFFFF) {
    alignas(64) int32_t o[16];
    alignas(64) uint32_t w[16];
    _mm512_store_si512(o, off);
    _mm512_store_si512(w, g);
    for (int k = 0; k < 16; ++k) {
      if (safe >> k & 1) continue;
      uint32_t v = 0;
      for (int j = 0; j < 4 && o[k] + j < bytes; ++j) v |= uint32_t(src[o[k] + j]) << (8 * j);
      w[k] = v;
    }
    g = _mm512_load_si512(w);
  }
  return g;
}

inline __m512 byte_channel(__m512i g, int c) {
  return _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(g, 8 * c), _mm512_set1_epi32(0xFF)));
}

inline void store_values(float* p, __m512 v, size_t n) { _mm512_mask_storeu_ps(p, V16::mask(n), v); }
inline void store_values(uint8_t* p, __m512 v, size_t n) {
  _mm512_mask_cvtusepi32_storeu_epi8(p, V16::mask(n), V16::to_u8_range(v));
}

// Byte b of each 32-bit word of g as a float (b < 4; the same value as byte_channel gives for
// channel b: one byte shuffle instead of a shift and a mask).
inline __m512 word_byte(__m512i g, int b) {
  const int z = static_cast<int>(0x80808000u) | b;  // per 128-bit lane: byte 4j + b to word j
  return _mm512_cvtepi32_ps(_mm512_shuffle_epi8(g, _mm512_broadcast_i32x4(_mm_setr_epi32(z, z + 4, z + 8, z + 12))));
}

// One source row's two horizontal taps of 16 uint8 pixels of C channels that lie inside the
// image with 8 bytes to spare after the left tap: the 2C bytes from the left tap's offset, as
// words w0 (bytes 0-3) and w1 (bytes 4-7, pixels of 3 or 4 channels: two 64-bit gathers of 8
// lanes instead of two 32-bit gathers of 16; with 1 or 2 channels one 32-bit gather holds both
// taps). byte(b): byte b of each pixel's bytes as a float.
struct RowTaps {
  __m512i w0, w1;
  __m512 byte(int b) const { return b < 4 ? word_byte(w0, b) : word_byte(w1, b - 4); }
};
inline RowTaps row_taps(const uint8_t* s, __m512i off, size_t C) {
  if (C <= 2) {
    const __m512i g = _mm512_i32gather_epi32(off, s, 1);
    return {g, g};
  }
  const __m512i lo = _mm512_i32gather_epi64(_mm512_castsi512_si256(off), s, 1);
  const __m512i hi = _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(off, 1), s, 1);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  return {_mm512_permutex2var_epi32(lo, even, hi), _mm512_permutex2var_epi32(lo, odd, hi)};
}

// 16 uint8 pixels of 3 channels, each channel's values already integers in [0, 255] (to_u8_range):
// one word per pixel (R | G << 8 | B << 16), 4 pixels' 12 bytes packed per 128-bit lane, the
// lanes' 12 bytes joined, 48 bytes stored (n pixels of them).
inline void store_rgb_u8(uint8_t* p, __m512i r, __m512i g, __m512i b, size_t n) {
  const __m512i w = _mm512_ternarylogic_epi32(r, _mm512_slli_epi32(g, 8), _mm512_slli_epi32(b, 16), 0xFE);  // or
  const __m512i squeeze = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1));
  const __m512i join = _mm512_setr_epi32(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 3, 7, 11, 15);
  const __m512i v = _mm512_permutexvar_epi32(join, _mm512_shuffle_epi8(w, squeeze));
  _mm512_mask_storeu_epi8(p, static_cast<__mmask64>((n >= 16 ? ~uint64_t{0} : (uint64_t{1} << (3 * n)) - 1) & 0xFFFFFFFFFFFFull), v);
}

// Bilinear row, C in 1..4, source Ein (uint8 or float), output Eout (uint8 or float).
// Blocks of 16 pixels whose taps all lie inside the image (uint8 source) skip the border
// mapping and the masks, and with a constant border, blocks whose taps all lie outside take
// cval at once: the same values either way.
template <class Ein, class Eout>
void bilinear_row(const WarpRowParams& p, const Ein* src, size_t y, Eout* out, const WarpIntensity& ie) {
  const size_t C = p.channels;
  const int32_t W = static_cast<int32_t>(p.src_w), H = static_cast<int32_t>(p.src_h);
  const int32_t row = W * static_cast<int32_t>(C), px = static_cast<int32_t>(C);
  const int32_t bytes = H * row;  // values in the image (bytes of a uint8 one)
  const float m0 = static_cast<float>(p.m[0]), m1 = static_cast<float>(p.m[1]), m2 = static_cast<float>(p.m[2]);
  const float m3 = static_cast<float>(p.m[3]), m4 = static_cast<float>(p.m[4]), m5 = static_cast<float>(p.m[5]);
  const float yf = static_cast<float>(y);
  const float ry = m1 * yf, ryy = m4 * yf;
  // As warp_row: fma(m0, x, m1*y + m2) in blocks of 16, fma(m0, x, m1*y) + m2 for the last
  // out_w % 16 pixels of the row.
  const size_t blocks_end = p.out_w - p.out_w % 16;
  const __m512 vm0 = _mm512_set1_ps(m0), vm3 = _mm512_set1_ps(m3);
  const __m512 bx = _mm512_set1_ps(ry + m2), by = _mm512_set1_ps(ryy + m5);
  const __m512 rx = _mm512_set1_ps(ry), rxy = _mm512_set1_ps(ryy);
  const __m512 vm2 = _mm512_set1_ps(m2), vm5 = _mm512_set1_ps(m5);
  const __m512 one = _mm512_set1_ps(1.0f), lim = _mm512_set1_ps(1073741824.0f);
  const __m512 cval = _mm512_set1_ps(p.cval);
  const bool constant = p.border == Border::constant;
  const __m512 vmul = _mm512_set1_ps(ie.mul), vadd = _mm512_set1_ps(ie.add);
  const __m512 vlo = _mm512_set1_ps(ie.lo), vhi = _mm512_set1_ps(ie.hi);
  const bool do_mul = ie.mul != 1.0f, do_add = ie.add != 0.0f;
  // interior blocks: top-left taps in columns 0 .. W - 2 and rows 0 .. H - 3, so that the
  // 8-byte loads from the bottom-left taps end inside the image (row_taps)
  const bool interior_ok = W >= 2 && H >= 3;
  const __m512i w_last = _mm512_set1_epi32(W - 2), h_last = _mm512_set1_epi32(H - 3);
  for (size_t x = 0; x < p.out_w; x += 16) {
    const size_t n = std::min<size_t>(16, p.out_w - x);
    const __m512 xv = _mm512_add_ps(V16::iota(), _mm512_set1_ps(static_cast<float>(x)));
    __m512 sx = _mm512_fmadd_ps(vm0, xv, bx), sy = _mm512_fmadd_ps(vm3, xv, by);
    if (x + 16 > blocks_end) {
      const __mmask16 tail = static_cast<__mmask16>(~V16::mask(blocks_end > x ? blocks_end - x : 0));
      sx = _mm512_mask_mov_ps(sx, tail, _mm512_add_ps(_mm512_fmadd_ps(vm0, xv, rx), vm2));
      sy = _mm512_mask_mov_ps(sy, tail, _mm512_add_ps(_mm512_fmadd_ps(vm3, xv, rxy), vm5));
    }
    const __m512 fx = V16::floor(sx), fy = V16::floor(sy);
    const __m512 ax = _mm512_sub_ps(sx, fx), ay = _mm512_sub_ps(sy, fy);
    const __m512 nlim = _mm512_sub_ps(_mm512_setzero_ps(), lim);
    const __m512i ix = _mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(fx, nlim), lim));
    const __m512i iy = _mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(fy, nlim), lim));
    const __m512i one_i = _mm512_set1_epi32(1);
    const __m512 nx = _mm512_sub_ps(one, ax), ny = _mm512_sub_ps(one, ay);
    // The value of a pixel from its four taps, in the same operations everywhere.
    auto finish = [&](__m512 s00, __m512 s01, __m512 s10, __m512 s11) {
      const __m512 top = _mm512_add_ps(_mm512_mul_ps(s00, nx), _mm512_mul_ps(s01, ax));
      const __m512 bot = _mm512_add_ps(_mm512_mul_ps(s10, nx), _mm512_mul_ps(s11, ax));
      return _mm512_add_ps(_mm512_mul_ps(top, ny), _mm512_mul_ps(bot, ay));
    };
    auto adjust = [&](__m512 r) {
      if (do_mul) r = _mm512_mul_ps(r, vmul);
      if (do_add) r = _mm512_add_ps(r, vadd);
      if (ie.clip) r = _mm512_min_ps(vhi, _mm512_max_ps(vlo, r));  // NaN stays NaN
      return r;
    };
    __m512 ch[4];
    bool done = false;
    if constexpr (sizeof(Ein) == 1) {
      if (interior_ok && n == 16 &&
          (_mm512_cmple_epu32_mask(ix, w_last) & _mm512_cmple_epu32_mask(iy, h_last)) == 0xFFFF) {
        const __m512i off = _mm512_add_epi32(_mm512_mullo_epi32(iy, _mm512_set1_epi32(row)),
                                             C == 1 ? ix : _mm512_mullo_epi32(ix, _mm512_set1_epi32(px)));
        const uint8_t* s = reinterpret_cast<const uint8_t*>(src);
        const RowTaps t0 = row_taps(s, off, C), t1 = row_taps(s, _mm512_add_epi32(off, _mm512_set1_epi32(row)), C);
        for (size_t c = 0; c < C; ++c) {
          const int k = static_cast<int>(c), k1 = static_cast<int>(C + c);
          ch[c] = adjust(finish(t0.byte(k), t0.byte(k1), t1.byte(k), t1.byte(k1)));
        }
        done = true;
      }
    }
    if (!done && constant) {  // every tap of every pixel outside: cval
      const __mmask16 away = _mm512_cmpgt_epu32_mask(_mm512_add_epi32(ix, one_i), _mm512_set1_epi32(W)) |
                             _mm512_cmpgt_epu32_mask(_mm512_add_epi32(iy, one_i), _mm512_set1_epi32(H));
      if ((away | static_cast<__mmask16>(~V16::mask(n))) == 0xFFFF) {
        const __m512 v = adjust(cval);
        for (size_t c = 0; c < C; ++c) ch[c] = v;
        done = true;
      }
    }
    if (!done) {
      __mmask16 vx0, vx1, vy0, vy1;
      const __m512i x0 = border_lanes(ix, W, p.border, &vx0), x1 = border_lanes(_mm512_add_epi32(ix, one_i), W, p.border, &vx1);
      const __m512i y0 = border_lanes(iy, H, p.border, &vy0), y1 = border_lanes(_mm512_add_epi32(iy, one_i), H, p.border, &vy1);
      const __m512i r0 = _mm512_mullo_epi32(y0, _mm512_set1_epi32(row)), r1 = _mm512_mullo_epi32(y1, _mm512_set1_epi32(row));
      const __m512i c0 = _mm512_mullo_epi32(x0, _mm512_set1_epi32(px)), c1 = _mm512_mullo_epi32(x1, _mm512_set1_epi32(px));
      const __m512i o00 = _mm512_add_epi32(r0, c0), o01 = _mm512_add_epi32(r0, c1);
      const __m512i o10 = _mm512_add_epi32(r1, c0), o11 = _mm512_add_epi32(r1, c1);
      const __mmask16 k00 = vy0 & vx0, k01 = vy0 & vx1, k10 = vy1 & vx0, k11 = vy1 & vx1;
      const __mmask16 outside = static_cast<__mmask16>(~(k00 | k01 | k10 | k11));  // every tap in the border
      __m512i g00, g01, g10, g11;
      if constexpr (sizeof(Ein) == 1) {
        const uint8_t* s = reinterpret_cast<const uint8_t*>(src);
        g00 = gather_words(s, o00, bytes);
        g01 = gather_words(s, o01, bytes);
        g10 = gather_words(s, o10, bytes);
        g11 = gather_words(s, o11, bytes);
      }
      for (size_t c = 0; c < C; ++c) {
        __m512 s00, s01, s10, s11;
        if constexpr (sizeof(Ein) == 1) {
          s00 = byte_channel(g00, static_cast<int>(c));
          s01 = byte_channel(g01, static_cast<int>(c));
          s10 = byte_channel(g10, static_cast<int>(c));
          s11 = byte_channel(g11, static_cast<int>(c));
        } else {
          const float* f = reinterpret_cast<const float*>(src) + c;
          s00 = _mm512_i32gather_ps(o00, f, 4);
          s01 = _mm512_i32gather_ps(o01, f, 4);
          s10 = _mm512_i32gather_ps(o10, f, 4);
          s11 = _mm512_i32gather_ps(o11, f, 4);
        }
        if (constant) {
          s00 = _mm512_mask_mov_ps(cval, k00, s00);
          s01 = _mm512_mask_mov_ps(cval, k01, s01);
          s10 = _mm512_mask_mov_ps(cval, k10, s10);
          s11 = _mm512_mask_mov_ps(cval, k11, s11);
        }
        __m512 r = finish(s00, s01, s10, s11);
        if (constant) r = _mm512_mask_mov_ps(r, outside, cval);
        ch[c] = adjust(r);
      }
    }
    Eout* o = out + x * C;
    if (C == 1) {
      store_values(o, ch[0], n);
    } else if (C == 3 && sizeof(Eout) == 1) {
      store_rgb_u8(reinterpret_cast<uint8_t*>(o), V16::to_u8_range(ch[0]), V16::to_u8_range(ch[1]),
                   V16::to_u8_range(ch[2]), n);
    } else if (C == 3) {
      __m512 v[3];
      V16::interleave3(ch[0], ch[1], ch[2], v);
      for (size_t j = 0; j < 3 && 16 * j < 3 * n; ++j) store_values(o + 16 * j, v[j], std::min<size_t>(16, 3 * n - 16 * j));
    } else {
      alignas(64) float lanes[4][16];
      for (size_t c = 0; c < C; ++c) _mm512_store_ps(lanes[c], ch[c]);
      alignas(64) float t[64];
      for (size_t i = 0; i < n; ++i)
        for (size_t c = 0; c < C; ++c) t[i * C + c] = lanes[c][i];
      for (size_t j = 0; 16 * j < C * n; ++j) store_values(o + 16 * j, _mm512_load_ps(t + 16 * j), std::min<size_t>(16, C * n - 16 * j));
    }
  }
}

// Whether a row takes bilinear_row: bilinear, 1 to 4 channels, offsets within int32.
inline bool vector_bilinear(const WarpRowParams& p) {
  return p.interp == Interp::bilinear && p.channels >= 1 && p.channels <= 4 && p.src_w < (size_t{1} << 24) &&
         p.src_h < (size_t{1} << 24) && p.src_h * p.src_w * p.channels < (size_t{1} << 30);
}

}  // namespace

void warp_u8_row__avx512(const WarpRowParams& p, const uint8_t* src, size_t y, uint8_t* out) {
  if (fixed_bilinear_u8(p)) bilinear_row_u8_fixed_x86(p, src, y, out);
  else if (vector_bilinear(p)) bilinear_row(p, src, y, out, WarpIntensity{});
  else warp_row<VecAvx512>(p, src, y, out);
}
void warp_f32_row__avx512(const WarpRowParams& p, const float* src, size_t y, float* out) {
  if (vector_bilinear(p)) bilinear_row(p, src, y, out, WarpIntensity{});
  else warp_row<VecAvx512>(p, src, y, out);
}
void warp_u8_to_f32_row__avx512(const WarpRowParams& p, const uint8_t* src, size_t y, float* out,
                                const WarpIntensity& ie) {
  if (vector_bilinear(p)) bilinear_row(p, src, y, out, ie);
  else warp_row_u8_to_f32_pixels(p, src, y, out, ie);
}
void warp_f32_intensity_row__avx512(const WarpRowParams& p, const float* src, size_t y, float* out,
                                    const WarpIntensity& ie) {
  if (vector_bilinear(p)) bilinear_row(p, src, y, out, ie);
  else warp_row_f32_intensity<VecAvx512>(p, src, y, out, ie);
}

}  // namespace foveal
