// Affine warp of one output row, as OpenCV 5's warpAffine: bilinear and bicubic (A = -0.75) from
// float source coordinates with weights in float; nearest from double coordinates with OpenCV
// 5.1's tie rule (nearest_index); taps outside the image read the border (constant: cval).
// Interior pixels take a path without border checks. One body per ISA (each
// warp_u8f32__<isa>.cpp), pixel type uint8 or float; what differs by ISA comes in through the
// vector type V, including V::F32x4, the 4-float register of a 3- or 4-channel float pixel.
// (uint8 bilinear rows of 3 or 4 channels with a whole-number cval take the fixed-point path
// of warp_u8_fixed.h instead; the uint8 -> float32 augmentation rows stay here.)
#pragma once

#include <cmath>
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <utility>
#include <type_traits>

#include "foveal/kernels.h"
#include "kernels/common/simd/vec_io.h"
#include "kernels/common/simd/vec_scalar.h"
#include "kernels/image/border.h"
#include "kernels/image/cubic.h"
#include "kernels/image/warp/coords.h"

namespace foveal {
namespace {

// Whether V has a 4-float register for one pixel of 3 or 4 float channels (vec_f32x4.h).
template <class V>
constexpr bool kHasF32x4 = !std::is_void_v<typename V::F32x4>;

// One pixel value, uint8 rounded and saturated by the same rule as the vector stores.
inline void put(float* dst, float v) { *dst = v; }
inline void put(uint8_t* dst, float v) { VecScalar::store_u8(dst, v); }

// Source index of nearest-neighbour sampling at coordinate s on an axis of n pixels: the pixel
// whose centre is nearest. A position half-way between two centres (within kTieEps pixel, so
// that 2/3*7 - 1/6 computed in double still counts as the tie at 4.5 it is) takes OpenCV 5.1's
// rule: the upper pixel for constant and replicate borders, except that the far edge n - 0.5
// still belongs to the image (constant); the even pixel for reflect, reflect101 and wrap.
// OpenCV's own choice at positions that are ties only in exact arithmetic depends on how one
// build rounds its float coordinates (an accident we do not copy); see docs/image.md.
constexpr double kTieEps = 1e-9;
inline ptrdiff_t nearest_index(double s, ptrdiff_t n, Border border) {
  const double lim = 1073741824.0;  // 2^30: far outside any image, keeps the cast defined
  s = s < -lim ? -lim : (s > lim ? lim : s);
  const double f = std::floor(s);
  const double d = s - f - 0.5;  // in [-0.5, 0.5)
  const ptrdiff_t lo = static_cast<ptrdiff_t>(f);
  if (d < -kTieEps) return lo;
  if (d > kTieEps) return lo + 1;
  if (border == Border::constant) return lo + 1 == n ? lo : lo + 1;
  if (border == Border::replicate) return lo + 1;
  return (lo & 1) == 0 ? lo : lo + 1;
}

// Source value of tap (iy, ix), channel c, through the border.
template <class E>
inline float tap(const WarpRowParams& p, const E* src, ptrdiff_t iy, ptrdiff_t ix, size_t c) {
  const ptrdiff_t H = static_cast<ptrdiff_t>(p.src_h), W = static_cast<ptrdiff_t>(p.src_w);
  const ptrdiff_t y = border_index(iy, H, p.border), x = border_index(ix, W, p.border);
  if (y < 0 || x < 0) return p.cval;
  return static_cast<float>(src[(static_cast<size_t>(y) * p.src_w + static_cast<size_t>(x)) * p.channels + c]);
}

// Bilinear interpolation of V::width output pixels from x on (all inside a 16-pixel block),
// vectorized: coordinates and weights in vector lanes, the four neighbours gathered (one
// 32-bit gather fetches every channel of a uint8 pixel). Same formula and rounding as the
// scalar path. Returns false, writing nothing, when a neighbour lies outside the image or in
// its last row (a 4-byte gather there could read past the buffer).
template <class V, class E>
inline bool bilinear_lanes(const WarpRowParams& p, const E* src, float m0, float m3,
                           float base_x, float base_y, size_t x, E* out) {
  using T = typename V::T;
  using I = typename V::I;
  constexpr size_t W = V::width;
  const size_t C = p.channels;
  const T xv = V::add(V::iota(), V::set1(static_cast<float>(x)));
  const T sx = V::fma_ps(V::set1(m0), xv, V::set1(base_x));
  const T sy = V::fma_ps(V::set1(m3), xv, V::set1(base_y));
  const T fx = V::floor(sx), fy = V::floor(sy);
  if (!V::all_within(fx, 0.0f, static_cast<float>(p.src_w) - 2.0f) ||
      !V::all_within(fy, 0.0f, static_cast<float>(p.src_h) - 3.0f))
    return false;
  const T one = V::set1(1.0f);
  const T ax = V::sub(sx, fx), ay = V::sub(sy, fy);
  const T nx = V::sub(one, ax), ny = V::sub(one, ay);
  const int32_t row = static_cast<int32_t>(p.src_w * C), px = static_cast<int32_t>(C);
  const I o00 = V::imul_add(V::to_int(fy), row, V::imul_add(V::to_int(fx), px, V::to_int(V::zero())));
  const I o01 = V::iadd(o00, px), o10 = V::iadd(o00, row), o11 = V::iadd(o00, row + px);
  alignas(64) E lanes[4][W];  // per channel, rounded/saturated by the vector store
  auto blend = [&](T p00, T p01, T p10, T p11) {
    const T top = V::add(V::mul(p00, nx), V::mul(p01, ax));
    const T bot = V::add(V::mul(p10, nx), V::mul(p11, ax));
    return V::add(V::mul(top, ny), V::mul(bot, ay));
  };
  if constexpr (sizeof(E) == 1) {
    const uint8_t* s = reinterpret_cast<const uint8_t*>(src);
    const I g00 = V::gather_bytes(s, o00), g01 = V::gather_bytes(s, o01);
    const I g10 = V::gather_bytes(s, o10), g11 = V::gather_bytes(s, o11);
    auto channel = [&](int k) {
      return blend(V::byte_lane(g00, k), V::byte_lane(g01, k), V::byte_lane(g10, k), V::byte_lane(g11, k));
    };
    if (C == 1 || C == 3) {  // stored in pixel order straight from the vectors
      E* o = out + x * C;
      if (C == 1) {
        vstore<V>(o, channel(0));
      } else {
        T px[3];
        V::interleave3(channel(0), channel(1), channel(2), px);
        for (size_t j = 0; j < 3; ++j) vstore<V>(o + j * W, px[j]);
      }
      return true;
    }
    for (size_t c = 0; c < C; ++c) vstore<V>(lanes[c], channel(static_cast<int>(c)));
  } else {
    if constexpr (kHasF32x4<V>) {
      if (C >= 3) {  // per pixel: its 4 neighbours as 4-float loads (no gathers, no transposition)
        using Q = typename V::F32x4;
        alignas(64) int32_t off[W];
        alignas(64) float wx[W], wy[W];
        V::store_i32(off, o00);
        V::store(wx, ax);
        V::store(wy, ay);
        const size_t row_floats = p.src_w * C;  // interior: row iy + 2 exists, so 4-float loads stay inside
        float* o = reinterpret_cast<float*>(out) + x * C;
        const bool row_end = x + W == p.out_w;
        for (size_t i = 0; i < W; ++i) {
          const float* s = reinterpret_cast<const float*>(src) + off[i];
          const typename Q::T a = Q::set1(wx[i]), na = Q::set1(1.0f - wx[i]);
          const typename Q::T b = Q::set1(wy[i]), nb = Q::set1(1.0f - wy[i]);
          const typename Q::T top = Q::add(Q::mul(Q::load(s), na), Q::mul(Q::load(s + C), a));
          const typename Q::T bot = Q::add(Q::mul(Q::load(s + row_floats), na),
                                           Q::mul(Q::load(s + row_floats + C), a));
          const typename Q::T r = Q::add(Q::mul(top, nb), Q::mul(bot, b));
          if (C == 4 || !(row_end && i + 1 == W)) Q::store(o + i * C, r);
          else Q::store3(o + i * C, r);
        }
        return true;
      }
    }
    for (size_t c = 0; c < C; ++c) {
      const int32_t k = static_cast<int32_t>(c);
      vstore<V>(lanes[c], blend(V::gather_f32(src, V::iadd(o00, k)), V::gather_f32(src, V::iadd(o01, k)),
                               V::gather_f32(src, V::iadd(o10, k)), V::gather_f32(src, V::iadd(o11, k))));
    }
  }
  E* o = out + x * C;
  for (size_t i = 0; i < W; ++i)
    for (size_t c = 0; c < C; ++c) o[i * C + c] = lanes[c][i];
  return true;
}

// Bilinear float pixel of 3 or 4 channels, all channels in one 4-float register Q (V::F32x4):
// four loads of the neighbours (through the border where outside), the same float operations as
// the scalar path in the same order, one store. A 3-channel load or store takes a fourth float
// along (the next pixel's, rewritten when that pixel is done) except at the image's last pixel
// and the row's last output pixel.
template <class Q>
inline void bilinear_px4(const WarpRowParams& p, const float* src, float sx, float sy, float* out_px,
                         bool last_in_row) {
  using T = typename Q::T;
  const size_t C = p.channels;
  const ptrdiff_t H = static_cast<ptrdiff_t>(p.src_h), W = static_cast<ptrdiff_t>(p.src_w);
  const float fx0 = std::floor(sx), fy0 = std::floor(sy);
  const ptrdiff_t ix = coord(fx0), iy = coord(fy0);
  const float ax = sx - fx0, ay = sy - fy0;
  const T cv = Q::set1(p.cval);
  T r;
  if (p.border == Border::constant && (ix + 1 < 0 || ix >= W || iy + 1 < 0 || iy >= H)) {
    r = cv;  // every tap in the border
  } else {
    const size_t last_px = p.src_h * p.src_w - 1;
    auto tap4 = [&](ptrdiff_t yy, ptrdiff_t xx) -> T {
      if (yy < 0 || yy >= H || xx < 0 || xx >= W) {
        yy = border_index(yy, H, p.border);
        xx = border_index(xx, W, p.border);
        if (yy < 0 || xx < 0) return cv;
      }
      const size_t px = static_cast<size_t>(yy) * p.src_w + static_cast<size_t>(xx);
      const float* s = src + px * C;
      return C == 4 || px < last_px ? Q::load(s) : Q::load3(s);
    };
    const T nx = Q::set1(1.0f - ax), wx = Q::set1(ax);
    const T ny = Q::set1(1.0f - ay), wy = Q::set1(ay);
    const T top = Q::add(Q::mul(tap4(iy, ix), nx), Q::mul(tap4(iy, ix + 1), wx));
    const T bot = Q::add(Q::mul(tap4(iy + 1, ix), nx), Q::mul(tap4(iy + 1, ix + 1), wx));
    r = Q::add(Q::mul(top, ny), Q::mul(bot, wy));
  }
  if (C == 4 || !last_in_row) Q::store(out_px, r);
  else Q::store3(out_px, r);
}

// The x in [0, end) at which the source position (ax*x + bx, ay*x + by) lies in [lx, hx) x
// [ly, hy), in exact arithmetic: the interval [lo, hi) (empty when hi <= lo). finite is false
// when a coefficient is not finite, and nothing may be concluded then.
struct AffineBounds {
  double lo, hi;
  bool finite;
};
inline AffineBounds affine_bounds(double ax, double bx, double lx, double hx, double ay, double by, double ly,
                                  double hy, size_t end) {
  AffineBounds r{0.0, static_cast<double>(end), std::isfinite(ax) && std::isfinite(bx) && std::isfinite(ay) &&
                                                    std::isfinite(by)};
  if (!r.finite) return r;
  auto clip = [&](double a, double b, double l, double h) {  // l <= a*x + b < h
    if (a == 0.0) {
      if (!(b >= l && b < h)) r.hi = -1.0;
      return;
    }
    double x0 = (l - b) / a, x1 = (h - b) / a;
    if (a < 0.0) std::swap(x0, x1);
    r.lo = std::max(r.lo, x0);
    r.hi = std::min(r.hi, x1);
  };
  clip(ax, bx, lx, hx);
  clip(ay, by, ly, hy);
  return r;
}

template <class V, class E>
void warp_row(const WarpRowParams& p, const E* src, size_t y, E* out) {
  const size_t C = p.channels;
  const ptrdiff_t H = static_cast<ptrdiff_t>(p.src_h), W = static_cast<ptrdiff_t>(p.src_w);
  const float m0 = static_cast<float>(p.m[0]), m1 = static_cast<float>(p.m[1]), m2 = static_cast<float>(p.m[2]);
  const float m3 = static_cast<float>(p.m[3]), m4 = static_cast<float>(p.m[4]), m5 = static_cast<float>(p.m[5]);
  const float yf = static_cast<float>(y);
  const float ry = m1 * yf, ryy = m4 * yf;
  const float base_x = ry + m2, base_y = ryy + m5;
  // Float source coordinates are rounded as OpenCV 5 rounds them: fma(m0, x, m1*y + m2) over
  // blocks of 16 pixels, and fma(m0, x, m1*y) + m2 for the last out_w % 16 pixels of the row.
  const size_t blocks_end = p.out_w - p.out_w % 16;
  // Float pixels of 3 or 4 channels that the vector lanes do not take (near or past the border)
  // go one at a time through bilinear_px4 (ISAs with a 4-float register only).
  constexpr bool kPx4 = kHasF32x4<V> && sizeof(E) == sizeof(float);
  auto pixel = [&](size_t x) {
    E* out_px = out + x * C;
    if (p.interp == Interp::nearest) {  // double positions (nearest_index); no float coordinates
      const double xd = static_cast<double>(x), yd = static_cast<double>(y);
      const ptrdiff_t ix = nearest_index(p.m[0] * xd + p.m[1] * yd + p.m[2], W, p.border);
      const ptrdiff_t iy = nearest_index(p.m[3] * xd + p.m[4] * yd + p.m[5], H, p.border);
      if (ix >= 0 && ix < W && iy >= 0 && iy < H) {
        const E* s = src + (static_cast<size_t>(iy) * p.src_w + static_cast<size_t>(ix)) * C;
        for (size_t c = 0; c < C; ++c) out_px[c] = s[c];
      } else {
        for (size_t c = 0; c < C; ++c) put(out_px + c, tap(p, src, iy, ix, c));
      }
      return;
    }
    const float xf = static_cast<float>(x);
    const bool in_block = x < blocks_end;
    const float sx = in_block ? std::fma(m0, xf, base_x) : std::fma(m0, xf, ry) + m2;
    const float sy = in_block ? std::fma(m3, xf, base_y) : std::fma(m3, xf, ryy) + m5;
    if constexpr (kPx4) {
      if (p.interp == Interp::bilinear && (C == 3 || C == 4)) {  // px4 holds one pixel of 3 or 4 floats
        bilinear_px4<typename V::F32x4>(p, src, sx, sy, out_px, x + 1 == p.out_w);
        return;
      }
    }
    const float fx0 = std::floor(sx), fy0 = std::floor(sy);
    const ptrdiff_t ix = coord(fx0), iy = coord(fy0);
    const float ax = sx - fx0, ay = sy - fy0;
    const ptrdiff_t reach = p.interp == Interp::bicubic ? 2 : 1;  // taps reach ix - reach + 1 .. ix + reach
    if (p.border == Border::constant && (ix + reach < 0 || ix - reach + 1 >= W || iy + reach < 0 || iy - reach + 1 >= H)) {
      for (size_t c = 0; c < C; ++c) put(out_px + c, p.cval);  // every tap is in the border
      return;
    }
    if (p.interp == Interp::bilinear) {
      if (ix >= 0 && ix + 1 < W && iy >= 0 && iy + 1 < H) {
        const E* s0 = src + (static_cast<size_t>(iy) * p.src_w + static_cast<size_t>(ix)) * C;
        const E* s1 = s0 + p.src_w * C;
        for (size_t c = 0; c < C; ++c) {
          const float top = float(s0[c]) * (1.0f - ax) + float(s0[c + C]) * ax;
          const float bot = float(s1[c]) * (1.0f - ax) + float(s1[c + C]) * ax;
          put(out_px + c, top * (1.0f - ay) + bot * ay);
        }
      } else {
        for (size_t c = 0; c < C; ++c) {
          const float top = tap(p, src, iy, ix, c) * (1.0f - ax) + tap(p, src, iy, ix + 1, c) * ax;
          const float bot = tap(p, src, iy + 1, ix, c) * (1.0f - ax) + tap(p, src, iy + 1, ix + 1, c) * ax;
          put(out_px + c, top * (1.0f - ay) + bot * ay);
        }
      }
      return;
    }
    float wx[4], wy[4];
    cubic_weights(ax, wx);
    cubic_weights(ay, wy);
    const bool inside = ix >= 1 && ix + 2 < W && iy >= 1 && iy + 2 < H;
    for (size_t c = 0; c < C; ++c) {
      float acc = 0.0f;
      for (int a = 0; a < 4; ++a) {
        float row = 0.0f;
        for (int b = 0; b < 4; ++b) {
          const float v = inside ? float(src[(static_cast<size_t>(iy - 1 + a) * p.src_w + static_cast<size_t>(ix - 1 + b)) * C + c])
                                 : tap(p, src, iy - 1 + a, ix - 1 + b, c);
          row += v * wx[b];
        }
        acc += row * wy[a];
      }
      put(out_px + c, acc);
    }
  };
  if constexpr (V::width > 1) {
    if (p.interp == Interp::bilinear && C <= 4) {
      // Vector blocks over the part of the row whose four taps all lie inside the image (from
      // the affine map, one pixel of margin for rounding; bilinear_lanes still checks every
      // lane); the last block ends at the part's end, overlapping its neighbour. Pixels
      // outside it (mostly border, quick for a constant one) go one at a time.
      // With a constant border, the pixels whose position lies a pixel or more beyond the
      // image's reach (all four taps outside) are filled with cval at once.
      constexpr size_t Wv = V::width;
      const double w = static_cast<double>(p.src_w), h = static_cast<double>(p.src_h);
      const AffineBounds in = affine_bounds(m0, base_x, 1.0, w - 2.0, m3, base_y, 1.0, h - 3.0, blocks_end);
      size_t xa = 0, xb = 0;
      if (in.finite && in.hi > in.lo + 2.0) {
        xa = static_cast<size_t>(std::ceil(in.lo)) + 1;
        xb = std::min(static_cast<size_t>(std::floor(in.hi)), blocks_end);
      }
      size_t ta = 0, tb = p.out_w;  // outside [ta, tb) (and before blocks_end): all border
      if (p.border == Border::constant) {
        const AffineBounds t = affine_bounds(m0, base_x, -2.0, w + 1.0, m3, base_y, -2.0, h + 1.0, blocks_end);
        if (t.finite) {
          ta = t.hi > t.lo ? static_cast<size_t>(std::floor(t.lo)) : blocks_end;
          tb = t.hi > t.lo ? std::min(static_cast<size_t>(std::ceil(t.hi)) + 1, blocks_end) : blocks_end;
        }
      }
      E fill[4];
      for (size_t c = 0; c < C; ++c) put(fill + c, p.cval);
      auto edge = [&](size_t x) {
        if (x < ta || (x >= tb && x < blocks_end)) {
          for (size_t c = 0; c < C; ++c) out[x * C + c] = fill[c];
        } else {
          pixel(x);
        }
      };
      if (xb >= xa + Wv) {
        for (size_t i = 0; i < xa; ++i) edge(i);
        for (size_t x = xa;; x += Wv) {
          const size_t b = std::min(x, xb - Wv);
          if (!bilinear_lanes<V>(p, src, m0, m3, base_x, base_y, b, out))
            for (size_t i = b; i < b + Wv; ++i) pixel(i);
          if (b + Wv == xb) break;
        }
        for (size_t i = xb; i < p.out_w; ++i) edge(i);
        return;
      }
      for (size_t x = 0; x < p.out_w; ++x) edge(x);
      return;
    }
  }
  for (size_t x = 0; x < p.out_w; ++x) pixel(x);
}

// The intensity change of one warped value (WarpIntensity): NaN stays NaN, as NumPy's clip.
inline float intensity(float v, const WarpIntensity& ie) {
  if (ie.mul != 1.0f) v *= ie.mul;
  if (ie.add != 0.0f) v += ie.add;
  if (ie.clip) v = std::min(std::max(v, ie.lo), ie.hi);
  return v;
}

// One output pixel of a warp read from a uint8 source and written as float: the float path's
// arithmetic on the source's float values (nearest or bilinear; bicubic is not an augmentation).
inline void pixel_u8_to_f32(const WarpRowParams& p, const uint8_t* src, size_t x, size_t y, float* out_px) {
  const size_t C = p.channels;
  const ptrdiff_t H = static_cast<ptrdiff_t>(p.src_h), W = static_cast<ptrdiff_t>(p.src_w);
  if (p.interp == Interp::nearest) {
    const double xd = static_cast<double>(x), yd = static_cast<double>(y);
    const ptrdiff_t ix = nearest_index(p.m[0] * xd + p.m[1] * yd + p.m[2], W, p.border);
    const ptrdiff_t iy = nearest_index(p.m[3] * xd + p.m[4] * yd + p.m[5], H, p.border);
    for (size_t c = 0; c < C; ++c) out_px[c] = tap(p, src, iy, ix, c);
    return;
  }
  const float m0 = static_cast<float>(p.m[0]), m1 = static_cast<float>(p.m[1]), m2 = static_cast<float>(p.m[2]);
  const float m3 = static_cast<float>(p.m[3]), m4 = static_cast<float>(p.m[4]), m5 = static_cast<float>(p.m[5]);
  const float xf = static_cast<float>(x), yf = static_cast<float>(y);
  const float ry = m1 * yf, ryy = m4 * yf;
  const bool in_block = x < p.out_w - p.out_w % 16;
  const float sx = in_block ? std::fma(m0, xf, ry + m2) : std::fma(m0, xf, ry) + m2;
  const float sy = in_block ? std::fma(m3, xf, ryy + m5) : std::fma(m3, xf, ryy) + m5;
  const float fx0 = std::floor(sx), fy0 = std::floor(sy);
  const ptrdiff_t ix = coord(fx0), iy = coord(fy0);
  const float ax = sx - fx0, ay = sy - fy0;
  if (p.border == Border::constant && (ix + 1 < 0 || ix >= W || iy + 1 < 0 || iy >= H)) {
    for (size_t c = 0; c < C; ++c) out_px[c] = p.cval;
    return;
  }
  for (size_t c = 0; c < C; ++c) {
    const float top = tap(p, src, iy, ix, c) * (1.0f - ax) + tap(p, src, iy, ix + 1, c) * ax;
    const float bot = tap(p, src, iy + 1, ix, c) * (1.0f - ax) + tap(p, src, iy + 1, ix + 1, c) * ax;
    out_px[c] = top * (1.0f - ay) + bot * ay;
  }
}

// Portable augmentation rows (WarpIntensity fused): the float warp row then the intensity
// change, or a uint8 source one pixel at a time (the scalar ISA, and rows the vector bodies do
// not take). The vector bodies of warp_u8f32__avx2.cpp and warp_u8f32__avx512.cpp give the
// same bits.
template <class V>
void warp_row_f32_intensity(const WarpRowParams& p, const float* src, size_t y, float* out, const WarpIntensity& ie) {
  warp_row<V>(p, src, y, out);
  for (size_t i = 0, n = p.out_w * p.channels; i < n; ++i) out[i] = intensity(out[i], ie);
}
inline void warp_row_u8_to_f32_pixels(const WarpRowParams& p, const uint8_t* src, size_t y, float* out,
                                      const WarpIntensity& ie) {
  const size_t C = p.channels;
  for (size_t x = 0; x < p.out_w; ++x) {
    pixel_u8_to_f32(p, src, x, y, out + x * C);
    for (size_t c = 0; c < C; ++c) out[x * C + c] = intensity(out[x * C + c], ie);
  }
}

}  // namespace
}  // namespace foveal
