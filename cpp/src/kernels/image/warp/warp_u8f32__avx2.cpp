// Affine warp row kernels, avx2. Bilinear rows of 1 to 4 channels take a body of their own, as
// on avx512 (warp_u8f32__avx512.cpp, whose structure this follows with 8 lanes): borders mapped
// in vector lanes, constant-border taps replaced by cval, the scalar path's float operations in
// the same order (the same bits), and the intensity change and the store fused. Interior blocks
// of a uint8 source fetch each row's two horizontal taps with one 64-bit load per pixel; those
// of a float source one tap's channels (3, 4) or one row's two taps (1, 2 channels) with one
// load per pixel.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/common/simd/vec_avx2.h"
#include "kernels/image/warp/warp_u8_fixed_x86.h"
#include "kernels/image/warp/warp_u8f32_impl.h"
#include "kernels/registry.h"

namespace foveal {
namespace {

using V8 = VecAvx2;

inline bool none(__m256i m) { return _mm256_testz_si256(m, m) != 0; }
inline bool all(__m256i m) { return _mm256_movemask_epi8(m) == -1; }
// Lanes where a > b as unsigned 32-bit integers.
inline __m256i gt_u32(__m256i a, __m256i b) {
  return _mm256_xor_si256(_mm256_cmpeq_epi32(_mm256_max_epu32(a, b), b), _mm256_set1_epi32(-1));
}

// Indices i on an axis of n pixels through the border; valid: the lanes inside [0, n) before
// mapping (constant borders clamp the others so that the gathers stay inside). Lanes more than
// one image size outside go through border_index one at a time.
inline __m256i border_lanes(__m256i i, int32_t n, Border b, __m256i* valid) {
  const __m256i zero = _mm256_setzero_si256(), nv = _mm256_set1_epi32(n), last = _mm256_set1_epi32(n - 1);
  const __m256i lo = _mm256_cmpgt_epi32(zero, i), hi = _mm256_cmpgt_epi32(i, last);
  const __m256i out = _mm256_or_si256(lo, hi);
  *valid = _mm256_xor_si256(out, _mm256_set1_epi32(-1));
  if (none(out)) return i;
  __m256i r;
  switch (b) {
    case Border::constant:
    case Border::replicate:
      return _mm256_min_epi32(_mm256_max_epi32(i, zero), last);
    case Border::reflect:  // -1 - i below, 2n - 1 - i above
      r = _mm256_blendv_epi8(i, _mm256_sub_epi32(_mm256_set1_epi32(-1), i), lo);
      r = _mm256_blendv_epi8(r, _mm256_sub_epi32(_mm256_set1_epi32(2 * n - 1), i), hi);
      break;
    case Border::reflect101:  // -i below, 2n - 2 - i above (one pixel: always 0)
      if (n == 1) return zero;
      r = _mm256_blendv_epi8(i, _mm256_sub_epi32(zero, i), lo);
      r = _mm256_blendv_epi8(r, _mm256_sub_epi32(_mm256_set1_epi32(2 * n - 2), i), hi);
      break;
    default:  // wrap
      r = _mm256_blendv_epi8(i, _mm256_add_epi32(i, nv), lo);
      r = _mm256_blendv_epi8(r, _mm256_sub_epi32(i, nv), hi);
      break;
  }
  const __m256i far = _mm256_or_si256(_mm256_cmpgt_epi32(zero, r), _mm256_cmpgt_epi32(r, last));
  if (none(far)) return r;
  alignas(32) int32_t in[8], res[8], f[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(in), i);
  _mm256_store_si256(reinterpret_cast<__m256i*>(res), r);
  _mm256_store_si256(reinterpret_cast<__m256i*>(f), far);
  for (int k = 0; k < 8; ++k)
    if (f[k]) res[k] = static_cast<int32_t>(border_index(in[k], n, b));
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(res));
}

// The 32-bit words at byte offsets off of a uint8 image of `bytes` bytes; a lane whose word
// would end past the image takes only the bytes inside (its last pixel).
inline __m256i gather_words(const uint8_t* src, __m256i off, int32_t bytes) {
  const __m256i unsafe = _mm256_cmpgt_epi32(off, _mm256_set1_epi32(bytes - 4));
  const __m256i safe = _mm256_xor_si256(unsafe, _mm256_set1_epi32(-1));
  __m256i g = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), reinterpret_cast<const int*>(src), off, safe, 1);
  if (!none(unsafe)) {
    alignas(32) int32_t o[8], u[8];
    alignas(32) uint32_t w[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(o), off);
    _mm256_store_si256(reinterpret_cast<__m256i*>(u), unsafe);
    _mm256_store_si256(reinterpret_cast<__m256i*>(w), g);
    for (int k = 0; k < 8; ++k) {
      if (!u[k]) continue;
      uint32_t v = 0;
      for (int j = 0; j < 4 && o[k] + j < bytes; ++j) v |= uint32_t(src[o[k] + j]) << (8 * j);
      w[k] = v;
    }
    g = _mm256_load_si256(reinterpret_cast<const __m256i*>(w));
  }
  return g;
}

// Byte b (< 4) of each 32-bit word of g as a float.
inline __m256 word_byte(__m256i g, int b) {
  const int z = static_cast<int>(0x80808000u) | b;  // per 128-bit lane: byte 4j + b to word j
  const __m128i m = _mm_setr_epi32(z, z + 4, z + 8, z + 12);
  return _mm256_cvtepi32_ps(_mm256_shuffle_epi8(g, _mm256_set_m128i(m, m)));
}

// One source row's two horizontal taps of 8 uint8 pixels of C channels that lie inside the
// image with 8 bytes to spare after the left tap: the 2C bytes from the left tap's offset, as
// words w0 (bytes 0-3) and w1 (bytes 4-7; pixels of 3 or 4 channels: two 64-bit gathers of 4
// lanes; with 1 or 2 channels one 32-bit gather holds both taps). byte(b): byte b of each
// pixel's bytes as a float.
struct RowTaps {
  __m256i w0, w1;
  __m256 byte(int b) const { return b < 4 ? word_byte(w0, b) : word_byte(w1, b - 4); }
};
// The loads are scalar loads put together, not vpgather: on an AVX2-only AMD EPYC (Zen 2) the
// gathers were most of a uint8 rotation's time.
inline long long load_u64(const uint8_t* p) {
  long long v;
  std::memcpy(&v, p, 8);
  return v;
}
inline RowTaps row_taps(const uint8_t* s, __m256i off, size_t C) {
  if (C <= 2) {
    const __m256i g = V8::gather_bytes(s, off);
    return {g, g};
  }
  alignas(32) int32_t o[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(o), off);
  const __m256i lo = _mm256_set_epi64x(load_u64(s + o[3]), load_u64(s + o[2]), load_u64(s + o[1]),
                                       load_u64(s + o[0]));   // pixels 0-3
  const __m256i hi = _mm256_set_epi64x(load_u64(s + o[7]), load_u64(s + o[6]), load_u64(s + o[5]),
                                       load_u64(s + o[4]));   // pixels 4-7
  // even words (bytes 0-3 of each pixel) and odd words (bytes 4-7), in pixel order
  const __m256 even = _mm256_shuffle_ps(_mm256_castsi256_ps(lo), _mm256_castsi256_ps(hi), 0x88);
  const __m256 odd = _mm256_shuffle_ps(_mm256_castsi256_ps(lo), _mm256_castsi256_ps(hi), 0xDD);
  return {_mm256_permute4x64_epi64(_mm256_castps_si256(even), 0xD8),
          _mm256_permute4x64_epi64(_mm256_castps_si256(odd), 0xD8)};
}

// One tap of 8 float pixels of 3 or 4 channels inside the image, as channel vectors: ch[c] lane
// i holds channel c of the pixel at px[i] + delta. Four floats are read per pixel (of 3
// channels: the next pixel's first too, inside the image for an interior tap), pixels i and
// i + 4 into one register, then a 4 x 4 transpose per 128-bit half; ch[3] is that fourth float.
__attribute__((always_inline)) inline void pixel_taps(const float* const* px, ptrdiff_t delta, __m256* ch) {
  const __m256 p0 = _mm256_loadu2_m128(px[4] + delta, px[0] + delta);
  const __m256 p1 = _mm256_loadu2_m128(px[5] + delta, px[1] + delta);
  const __m256 p2 = _mm256_loadu2_m128(px[6] + delta, px[2] + delta);
  const __m256 p3 = _mm256_loadu2_m128(px[7] + delta, px[3] + delta);
  const __m256 a = _mm256_unpacklo_ps(p0, p1), b = _mm256_unpackhi_ps(p0, p1);
  const __m256 c = _mm256_unpacklo_ps(p2, p3), d = _mm256_unpackhi_ps(p2, p3);
  ch[0] = _mm256_shuffle_ps(a, c, 0x44);
  ch[1] = _mm256_shuffle_ps(a, c, 0xEE);
  ch[2] = _mm256_shuffle_ps(b, d, 0x44);
  ch[3] = _mm256_shuffle_ps(b, d, 0xEE);
}

// The 2 floats at px[i] + delta of 8 single-channel float pixels inside the image (a row's two
// horizontal taps), as *first and *second in pixel order: pixels i and i + 1 share a 128-bit
// half (two 8-byte loads), then the even and the odd floats are taken apart.
__attribute__((always_inline)) inline void pair_taps(const float* const* px, ptrdiff_t delta, __m256* first,
                                                     __m256* second) {
  auto two = [&](int i) {  // pixels i and i + 1
    // _mm_loadl_epi64 reads through an unaligned type (a float pixel is only 4-byte aligned)
    const __m128 lo = _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(px[i] + delta)));
    return _mm_loadh_pi(lo, reinterpret_cast<const __m64*>(px[i + 1] + delta));
  };
  const __m256 a = _mm256_set_m128(two(4), two(0)), b = _mm256_set_m128(two(6), two(2));
  *first = _mm256_shuffle_ps(a, b, 0x88);
  *second = _mm256_shuffle_ps(a, b, 0xDD);
}

inline void store_values(float* p, __m256 v, size_t n) { V8::store_n(p, v, n); }
inline void store_values(uint8_t* p, __m256 v, size_t n) { V8::store_u8_n(p, v, n); }

// Bilinear row of C channels (1..4), source Ein (uint8 or float), output Eout (uint8 or float),
// 8 pixels a step; kAdjust: the intensity change ie applies (else it is the identity). The
// sample positions keep the 16-pixel blocks of the scalar rule (fma(m0, x, m1*y + m2) inside
// them, fma(m0, x, m1*y) + m2 for the last out_w % 16 pixels of the row). C and kAdjust are
// template arguments so that the channel loops unroll with constant byte shuffles and the
// identity costs nothing (with both as runtime values, a 1080p uint8 rotation took 19.2-19.7
// ms on one thread of an AVX2 AMD EPYC instead of 16.4-16.6 ms).
template <size_t C, bool kAdjust, class Ein, class Eout>
void bilinear_row_c(const WarpRowParams& p, const Ein* src, size_t y, Eout* out, const WarpIntensity& ie) {
  const int32_t W = static_cast<int32_t>(p.src_w), H = static_cast<int32_t>(p.src_h);
  const int32_t row = W * static_cast<int32_t>(C), px = static_cast<int32_t>(C);
  const int32_t bytes = H * row;  // values in the image (bytes of a uint8 one)
  const RowCoords8 coords(RowCoords(p, y));
  const __m256 one = _mm256_set1_ps(1.0f), lim = _mm256_set1_ps(1073741824.0f);
  const __m256 nlim = _mm256_sub_ps(_mm256_setzero_ps(), lim);
  const __m256 cval = _mm256_set1_ps(p.cval);
  const bool constant = p.border == Border::constant;
  const __m256 vmul = _mm256_set1_ps(ie.mul), vadd = _mm256_set1_ps(ie.add);
  const __m256 vlo = _mm256_set1_ps(ie.lo), vhi = _mm256_set1_ps(ie.hi);
  const bool do_mul = ie.mul != 1.0f, do_add = ie.add != 0.0f;
  // interior blocks: top-left taps in columns 0 .. W - 2 and rows 0 .. H - 3, so that the
  // 8-byte loads from the bottom-left taps (row_taps) and the 4-float loads from the bottom-right
  // ones (pixel_taps) end inside the image
  const bool interior_ok = W >= 2 && H >= 3;
  const __m256i w_last = _mm256_set1_epi32(W - 2), h_last = _mm256_set1_epi32(H - 3);
  const __m256i one_i = _mm256_set1_epi32(1);
  for (size_t x = 0; x < p.out_w; x += 8) {
    const size_t n = std::min<size_t>(8, p.out_w - x);
    __m256 sx, sy;
    coords.at(x, &sx, &sy);
    const __m256 fx = V8::floor(sx), fy = V8::floor(sy);
    const __m256 ax = _mm256_sub_ps(sx, fx), ay = _mm256_sub_ps(sy, fy);
    const __m256i ix = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(fx, nlim), lim));
    const __m256i iy = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(fy, nlim), lim));
    const __m256 nx = _mm256_sub_ps(one, ax), ny = _mm256_sub_ps(one, ay);
    auto finish = [&](__m256 s00, __m256 s01, __m256 s10, __m256 s11) {
      const __m256 top = _mm256_add_ps(_mm256_mul_ps(s00, nx), _mm256_mul_ps(s01, ax));
      const __m256 bot = _mm256_add_ps(_mm256_mul_ps(s10, nx), _mm256_mul_ps(s11, ax));
      return _mm256_add_ps(_mm256_mul_ps(top, ny), _mm256_mul_ps(bot, ay));
    };
    auto adjust = [&](__m256 r) {
      if constexpr (!kAdjust) return r;
      if (do_mul) r = _mm256_mul_ps(r, vmul);
      if (do_add) r = _mm256_add_ps(r, vadd);
      if (ie.clip) r = _mm256_min_ps(vhi, _mm256_max_ps(vlo, r));  // NaN stays NaN
      return r;
    };
    __m256 ch[4];
    bool done = false;
    // a block of 8 whose taps all lie inside, and the value offsets of its top-left taps
    const bool interior =
        interior_ok && n == 8 && none(_mm256_or_si256(gt_u32(ix, w_last), gt_u32(iy, h_last)));
    auto tap_offsets = [&] {
      return _mm256_add_epi32(_mm256_mullo_epi32(iy, _mm256_set1_epi32(row)),
                              C == 1 ? ix : _mm256_mullo_epi32(ix, _mm256_set1_epi32(px)));
    };
    if constexpr (sizeof(Ein) == 1) {
      if (interior) {
        const __m256i off = tap_offsets();
        const uint8_t* s = reinterpret_cast<const uint8_t*>(src);
        const RowTaps t0 = row_taps(s, off, C), t1 = row_taps(s, _mm256_add_epi32(off, _mm256_set1_epi32(row)), C);
        for (size_t c = 0; c < C; ++c) {
          const int k = static_cast<int>(c), k1 = static_cast<int>(C + c);
          ch[c] = adjust(finish(t0.byte(k), t0.byte(k1), t1.byte(k), t1.byte(k1)));
        }
        done = true;
      }
    } else {
      if (interior) {
        const __m256i off = tap_offsets();
        alignas(32) int32_t o[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(o), off);
        const float* base = reinterpret_cast<const float*>(src);
        const float* at[8];
        for (int i = 0; i < 8; ++i) at[i] = base + o[i];
        if constexpr (C == 1) {  // a row's two taps: 2 floats from one 8-byte load per pixel
          __m256 t0, t1, b0, b1;
          pair_taps(at, 0, &t0, &t1);
          pair_taps(at, row, &b0, &b1);
          ch[0] = adjust(finish(t0, t1, b0, b1));
        } else if constexpr (C == 2) {  // a row's two taps: 4 floats from one load per pixel
          __m256 t[4], b[4];
          pixel_taps(at, 0, t);
          pixel_taps(at, row, b);
          for (size_t c = 0; c < 2; ++c) ch[c] = adjust(finish(t[c], t[2 + c], b[c], b[2 + c]));
        } else {
          __m256 t00[4], t01[4], t10[4], t11[4];
          pixel_taps(at, 0, t00);
          pixel_taps(at, px, t01);
          pixel_taps(at, row, t10);
          pixel_taps(at, row + px, t11);
          for (size_t c = 0; c < C; ++c) ch[c] = adjust(finish(t00[c], t01[c], t10[c], t11[c]));
        }
        done = true;
      }
    }
    if (!done && constant) {  // every tap of every pixel outside: cval
      const __m256i away = _mm256_or_si256(gt_u32(_mm256_add_epi32(ix, one_i), _mm256_set1_epi32(W)),
                                           gt_u32(_mm256_add_epi32(iy, one_i), _mm256_set1_epi32(H)));
      if (all(_mm256_or_si256(away, _mm256_xor_si256(V8::mask(n), _mm256_set1_epi32(-1))))) {
        const __m256 v = adjust(cval);
        for (size_t c = 0; c < C; ++c) ch[c] = v;
        done = true;
      }
    }
    if (!done) {
      __m256i vx0, vx1, vy0, vy1;
      const __m256i x0 = border_lanes(ix, W, p.border, &vx0), x1 = border_lanes(_mm256_add_epi32(ix, one_i), W, p.border, &vx1);
      const __m256i y0 = border_lanes(iy, H, p.border, &vy0), y1 = border_lanes(_mm256_add_epi32(iy, one_i), H, p.border, &vy1);
      const __m256i r0 = _mm256_mullo_epi32(y0, _mm256_set1_epi32(row)), r1 = _mm256_mullo_epi32(y1, _mm256_set1_epi32(row));
      const __m256i c0 = _mm256_mullo_epi32(x0, _mm256_set1_epi32(px)), c1 = _mm256_mullo_epi32(x1, _mm256_set1_epi32(px));
      const __m256i o00 = _mm256_add_epi32(r0, c0), o01 = _mm256_add_epi32(r0, c1);
      const __m256i o10 = _mm256_add_epi32(r1, c0), o11 = _mm256_add_epi32(r1, c1);
      const __m256 k00 = _mm256_castsi256_ps(_mm256_and_si256(vy0, vx0)), k01 = _mm256_castsi256_ps(_mm256_and_si256(vy0, vx1));
      const __m256 k10 = _mm256_castsi256_ps(_mm256_and_si256(vy1, vx0)), k11 = _mm256_castsi256_ps(_mm256_and_si256(vy1, vx1));
      // every tap in the border
      const __m256 outside = _mm256_xor_ps(_mm256_or_ps(_mm256_or_ps(k00, k01), _mm256_or_ps(k10, k11)),
                                           _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
      __m256i g00, g01, g10, g11;
      if constexpr (sizeof(Ein) == 1) {
        const uint8_t* s = reinterpret_cast<const uint8_t*>(src);
        g00 = gather_words(s, o00, bytes);
        g01 = gather_words(s, o01, bytes);
        g10 = gather_words(s, o10, bytes);
        g11 = gather_words(s, o11, bytes);
      }
      for (size_t c = 0; c < C; ++c) {
        __m256 s00, s01, s10, s11;
        if constexpr (sizeof(Ein) == 1) {
          s00 = word_byte(g00, static_cast<int>(c));
          s01 = word_byte(g01, static_cast<int>(c));
          s10 = word_byte(g10, static_cast<int>(c));
          s11 = word_byte(g11, static_cast<int>(c));
        } else {
          const float* f = reinterpret_cast<const float*>(src) + c;
          s00 = V8::gather_f32(f, o00);
          s01 = V8::gather_f32(f, o01);
          s10 = V8::gather_f32(f, o10);
          s11 = V8::gather_f32(f, o11);
        }
        if (constant) {
          s00 = _mm256_blendv_ps(cval, s00, k00);
          s01 = _mm256_blendv_ps(cval, s01, k01);
          s10 = _mm256_blendv_ps(cval, s10, k10);
          s11 = _mm256_blendv_ps(cval, s11, k11);
        }
        __m256 r = finish(s00, s01, s10, s11);
        if (constant) r = _mm256_blendv_ps(r, cval, outside);
        ch[c] = adjust(r);
      }
    }
    Eout* o = out + x * C;
    if constexpr (C == 1) {
      store_values(o, ch[0], n);
    } else if constexpr (C == 3) {
      __m256 v[3];
      V8::interleave3(ch[0], ch[1], ch[2], v);
      for (size_t j = 0; j < 3 && 8 * j < 3 * n; ++j) store_values(o + 8 * j, v[j], std::min<size_t>(8, 3 * n - 8 * j));
    } else {
      alignas(32) float lanes[4][8];
      for (size_t c = 0; c < C; ++c) _mm256_store_ps(lanes[c], ch[c]);
      alignas(32) float t[32];
      for (size_t i = 0; i < n; ++i)
        for (size_t c = 0; c < C; ++c) t[i * C + c] = lanes[c][i];
      for (size_t j = 0; 8 * j < C * n; ++j) store_values(o + 8 * j, _mm256_load_ps(t + 8 * j), std::min<size_t>(8, C * n - 8 * j));
    }
  }
}

// A bilinear row through bilinear_row_c for its channel count and intensity change.
template <class Ein, class Eout>
void bilinear_row(const WarpRowParams& p, const Ein* src, size_t y, Eout* out, const WarpIntensity& ie) {
  if (ie.mul != 1.0f || ie.add != 0.0f || ie.clip) {
    switch (p.channels) {
      case 1: bilinear_row_c<1, true>(p, src, y, out, ie); return;
      case 2: bilinear_row_c<2, true>(p, src, y, out, ie); return;
      case 3: bilinear_row_c<3, true>(p, src, y, out, ie); return;
      default: bilinear_row_c<4, true>(p, src, y, out, ie); return;
    }
  }
  switch (p.channels) {
    case 1: bilinear_row_c<1, false>(p, src, y, out, ie); return;
    case 2: bilinear_row_c<2, false>(p, src, y, out, ie); return;
    case 3: bilinear_row_c<3, false>(p, src, y, out, ie); return;
    default: bilinear_row_c<4, false>(p, src, y, out, ie); return;
  }
}

// Whether a row takes bilinear_row: bilinear, 1 to 4 channels, offsets within int32.
inline bool vector_bilinear(const WarpRowParams& p) {
  return p.interp == Interp::bilinear && p.channels >= 1 && p.channels <= 4 && p.src_w < (size_t{1} << 24) &&
         p.src_h < (size_t{1} << 24) && p.src_h * p.src_w * p.channels < (size_t{1} << 30);
}

}  // namespace

void warp_u8_row__avx2(const WarpRowParams& p, const uint8_t* src, size_t y, uint8_t* out) {
  if (fixed_bilinear_u8(p)) bilinear_row_u8_fixed_x86(p, src, y, out);
  else if (vector_bilinear(p)) bilinear_row(p, src, y, out, WarpIntensity{});
  else warp_row<VecAvx2>(p, src, y, out);
}
void warp_f32_row__avx2(const WarpRowParams& p, const float* src, size_t y, float* out) {
  if (vector_bilinear(p)) bilinear_row(p, src, y, out, WarpIntensity{});
  else warp_row<VecAvx2>(p, src, y, out);
}
void warp_u8_to_f32_row__avx2(const WarpRowParams& p, const uint8_t* src, size_t y, float* out,
                              const WarpIntensity& ie) {
  if (vector_bilinear(p)) bilinear_row(p, src, y, out, ie);
  else warp_row_u8_to_f32_pixels(p, src, y, out, ie);
}
void warp_f32_intensity_row__avx2(const WarpRowParams& p, const float* src, size_t y, float* out,
                                  const WarpIntensity& ie) {
  if (vector_bilinear(p)) bilinear_row(p, src, y, out, ie);
  else warp_row_f32_intensity<VecAvx2>(p, src, y, out, ie);
}

}  // namespace foveal
