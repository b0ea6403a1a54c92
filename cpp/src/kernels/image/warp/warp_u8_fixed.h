// Bilinear affine warp of uint8 pixels of 3 or 4 channels in fixed point: the float source
// coordinates of warp_u8f32_impl.h (OpenCV 5's rounding), the four taps' weights as float
// products of the fractions (ax, ay) rounded to Q14 (fixed_weights), then one integer sum:
//   v = (s00 * w00 + s01 * w01 + s10 * w10 + s11 * w11 + 2^13) >> 14
// Every ISA gives the same bytes: the scalar kernel takes every pixel through
// bilinear_px_u8_fixed, the x86 ones take interior blocks of 8 pixels with integer vectors
// (warp_u8_fixed_x86.h) and the rest through it. Each weight is within 2^-15 of its exact
// value, so a result is within 0.5 + 4 * 255 / 32768 (about 0.53) of the exact bilinear value.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "foveal/kernels.h"
#include "kernels/image/border.h"
#include "kernels/image/warp/coords.h"

namespace foveal {
namespace {

// Whether a uint8 row takes the fixed-point path: bilinear, 3 or 4 channels, a constant value
// that is a byte (OpenCV's borderValue of an 8-bit image), offsets within int32.
inline bool fixed_bilinear_u8(const WarpRowParams& p) {
  return p.interp == Interp::bilinear && (p.channels == 3 || p.channels == 4) && p.cval >= 0.0f &&
         p.cval <= 255.0f && p.cval == std::floor(p.cval) && p.src_w < (size_t{1} << 24) &&
         p.src_h < (size_t{1} << 24) && p.src_h * p.src_w * p.channels < (size_t{1} << 30);
}

// The four taps' Q14 weights from the fractions ax, ay in [0, 1] (w[2a + b]: row a, column b),
// with float products as the vector kernels compute them (no fused multiply-add), rounded half
// to even (cvtps2dq).
inline void fixed_weights(float ax, float ay, int32_t* w) {
  const float nx = 1.0f - ax, ny = (1.0f - ay) * 16384.0f, sy = ay * 16384.0f;
  w[0] = static_cast<int32_t>(std::nearbyint(nx * ny));
  w[1] = static_cast<int32_t>(std::nearbyint(ax * ny));
  w[2] = static_cast<int32_t>(std::nearbyint(nx * sy));
  w[3] = static_cast<int32_t>(std::nearbyint(ax * sy));
}

// One output pixel at source position (sx, sy).
inline void bilinear_px_u8_fixed(const WarpRowParams& p, const uint8_t* src, float sx, float sy, uint8_t* o) {
  const size_t C = p.channels;
  const ptrdiff_t H = static_cast<ptrdiff_t>(p.src_h), W = static_cast<ptrdiff_t>(p.src_w);
  const int32_t cval = static_cast<int32_t>(p.cval);
  const float fx = std::floor(sx), fy = std::floor(sy);
  const ptrdiff_t ix = coord(fx), iy = coord(fy);
  if (p.border == Border::constant && (ix + 1 < 0 || ix >= W || iy + 1 < 0 || iy >= H)) {
    std::memset(o, cval, C);  // every tap in the border
    return;
  }
  int32_t w[4];
  fixed_weights(sx - fx, sy - fy, w);
  const uint8_t* px[2][2];  // the taps' pixels; null: the constant value
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) {
      const ptrdiff_t yy = border_index(iy + a, H, p.border), xx = border_index(ix + b, W, p.border);
      px[a][b] = yy < 0 || xx < 0 ? nullptr : src + (static_cast<size_t>(yy) * p.src_w + static_cast<size_t>(xx)) * C;
    }
  for (size_t c = 0; c < C; ++c) {
    auto at = [&](int a, int b) { return px[a][b] ? static_cast<int32_t>(px[a][b][c]) : cval; };
    const int32_t v = (at(0, 0) * w[0] + at(0, 1) * w[1] + at(1, 0) * w[2] + at(1, 1) * w[3] + (1 << 13)) >> 14;
    o[c] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
  }
}

// Output pixels [x0, x1) of row y (out: the row's start). block(x) may do the 8 pixels from x
// (returning 8) or none (returning 0); the pixels it leaves go through bilinear_px_u8_fixed in
// groups of up to 8.
template <class Block>
void bilinear_span_u8_fixed(const WarpRowParams& p, const uint8_t* src, size_t y, size_t x0, size_t x1,
                            uint8_t* out, Block block) {
  const RowCoords rc(p, y);
  for (size_t x = x0; x < x1;) {
    const size_t done = x + 8 <= x1 ? block(x) : 0;
    if (done) {
      x += done;
      continue;
    }
    for (const size_t end = std::min(x + 8, x1); x < end; ++x)
      bilinear_px_u8_fixed(p, src, rc.sx(x), rc.sy(x), out + x * p.channels);
  }
}

// The scalar kernel's row: every pixel through bilinear_px_u8_fixed.
inline void bilinear_row_u8_fixed_scalar(const WarpRowParams& p, const uint8_t* src, size_t y, uint8_t* out) {
  bilinear_span_u8_fixed(p, src, y, 0, p.out_w, out, [](size_t) { return size_t{0}; });
}

}  // namespace
}  // namespace foveal
