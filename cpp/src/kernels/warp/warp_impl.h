// Affine warp of one output row, as OpenCV 5's warpAffine: float source coordinates, nearest
// rounds half to even, bilinear and bicubic (A = -0.75) weights in
// float, taps outside the image read the border (constant: cval). Interior pixels take a path
// without border checks. One body per ISA (each warp__<isa>.cpp), pixel type uint8 or float.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "foveal/kernels.h"
#include "kernels/border.h"

namespace foveal {
namespace {

inline void put(float* dst, float v) { *dst = v; }
inline void put(uint8_t* dst, float v) {
  if (!(v > 0.0f)) { *dst = 0; return; }  // also NaN
  *dst = v >= 255.0f ? 255 : static_cast<uint8_t>(std::nearbyint(v));
}

// Integer part of a float coordinate, clamped far outside any image so the cast is defined.
inline ptrdiff_t coord(float v) {
  const float lim = 1073741824.0f;  // 2^30
  return static_cast<ptrdiff_t>(v < -lim ? -lim : (v > lim ? lim : v));
}

// Source value of tap (iy, ix), channel c, through the border.
template <class E>
inline float tap(const WarpRowParams& p, const E* src, ptrdiff_t iy, ptrdiff_t ix, size_t c) {
  const ptrdiff_t H = static_cast<ptrdiff_t>(p.src_h), W = static_cast<ptrdiff_t>(p.src_w);
  const ptrdiff_t y = border_index(iy, H, p.border), x = border_index(ix, W, p.border);
  if (y < 0 || x < 0) return p.cval;
  return static_cast<float>(src[(static_cast<size_t>(y) * p.src_w + static_cast<size_t>(x)) * p.channels + c]);
}

inline void cubic_weights(float t, float w[4]) {
  constexpr float A = -0.75f;
  const float t1 = t + 1.0f, u = 1.0f - t;
  w[0] = ((A * t1 - 5.0f * A) * t1 + 8.0f * A) * t1 - 4.0f * A;
  w[1] = ((A + 2.0f) * t - (A + 3.0f)) * t * t + 1.0f;
  w[2] = ((A + 2.0f) * u - (A + 3.0f)) * u * u + 1.0f;
  w[3] = 1.0f - w[0] - w[1] - w[2];
}

template <class E>
void warp_row(const WarpRowParams& p, const E* src, size_t y, E* out) {
  const size_t C = p.channels;
  const ptrdiff_t H = static_cast<ptrdiff_t>(p.src_h), W = static_cast<ptrdiff_t>(p.src_w);
  const float m0 = static_cast<float>(p.m[0]), m1 = static_cast<float>(p.m[1]), m2 = static_cast<float>(p.m[2]);
  const float m3 = static_cast<float>(p.m[3]), m4 = static_cast<float>(p.m[4]), m5 = static_cast<float>(p.m[5]);
  const float yf = static_cast<float>(y);
  const float ry = m1 * yf, ryy = m4 * yf;
  const float base_x = ry + m2, base_y = ryy + m5;
  // Source coordinates are rounded exactly as OpenCV 5 rounds them (which decides the ties of
  // nearest interpolation): fma(m0, x, m1*y + m2) over blocks of 16 pixels, and
  // (m0*x + m1*y) + m2 for the last out_w % 16 pixels of the row.
  const size_t blocks_end = p.out_w - p.out_w % 16;
  for (size_t x = 0; x < p.out_w; ++x, out += C) {
    const float xf = static_cast<float>(x);
    const bool in_block = x < blocks_end;
    const float sx = in_block ? std::fma(m0, xf, base_x) : (m0 * xf + ry) + m2;
    const float sy = in_block ? std::fma(m3, xf, base_y) : (m3 * xf + ryy) + m5;
    if (p.interp == Interp::nearest) {
      const ptrdiff_t ix = coord(std::nearbyint(sx)), iy = coord(std::nearbyint(sy));
      if (ix >= 0 && ix < W && iy >= 0 && iy < H) {
        const E* s = src + (static_cast<size_t>(iy) * p.src_w + static_cast<size_t>(ix)) * C;
        for (size_t c = 0; c < C; ++c) out[c] = s[c];
      } else {
        for (size_t c = 0; c < C; ++c) put(out + c, tap(p, src, iy, ix, c));
      }
      continue;
    }
    const float fx0 = std::floor(sx), fy0 = std::floor(sy);
    const ptrdiff_t ix = coord(fx0), iy = coord(fy0);
    const float ax = sx - fx0, ay = sy - fy0;
    if (p.interp == Interp::bilinear) {
      if (ix >= 0 && ix + 1 < W && iy >= 0 && iy + 1 < H) {
        const E* s0 = src + (static_cast<size_t>(iy) * p.src_w + static_cast<size_t>(ix)) * C;
        const E* s1 = s0 + p.src_w * C;
        for (size_t c = 0; c < C; ++c) {
          const float top = float(s0[c]) * (1.0f - ax) + float(s0[c + C]) * ax;
          const float bot = float(s1[c]) * (1.0f - ax) + float(s1[c + C]) * ax;
          put(out + c, top * (1.0f - ay) + bot * ay);
        }
      } else {
        for (size_t c = 0; c < C; ++c) {
          const float top = tap(p, src, iy, ix, c) * (1.0f - ax) + tap(p, src, iy, ix + 1, c) * ax;
          const float bot = tap(p, src, iy + 1, ix, c) * (1.0f - ax) + tap(p, src, iy + 1, ix + 1, c) * ax;
          put(out + c, top * (1.0f - ay) + bot * ay);
        }
      }
      continue;
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
      put(out + c, acc);
    }
  }
}

}  // namespace
}  // namespace foveal
