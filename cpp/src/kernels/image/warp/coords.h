// The float source coordinates of an affine warp's output pixels, shared by the float rows
// (warp_u8f32_impl.h) and the fixed-point uint8 rows (warp_u8_fixed.h): a row's coordinate rule
// and the clamped integer part of a coordinate.
#pragma once

#include <cmath>
#include <cstddef>

#include "foveal/kernels.h"

namespace foveal {
namespace {

// Integer part of a float coordinate, clamped far outside any image so the cast is defined.
inline ptrdiff_t coord(float v) {
  const float lim = 1073741824.0f;  // 2^30
  return static_cast<ptrdiff_t>(v < -lim ? -lim : (v > lim ? lim : v));
}

// The float source coordinates of one output row, rounded as OpenCV 5 rounds them (and as
// warp_row and the vector rows of every ISA do): fma(m0, x, m1*y + m2) over blocks of 16 pixels,
// fma(m0, x, m1*y) + m2 for the last out_w % 16 pixels of the row.
struct RowCoords {
  float m0, m2, m3, m5, ry, ryy, base_x, base_y;
  size_t blocks_end;
  RowCoords(const WarpRowParams& p, size_t y)
      : m0(static_cast<float>(p.m[0])), m2(static_cast<float>(p.m[2])), m3(static_cast<float>(p.m[3])),
        m5(static_cast<float>(p.m[5])), ry(static_cast<float>(p.m[1]) * static_cast<float>(y)),
        ryy(static_cast<float>(p.m[4]) * static_cast<float>(y)), base_x(ry + m2), base_y(ryy + m5),
        blocks_end(p.out_w - p.out_w % 16) {}
  float sx(size_t x) const {
    const float xf = static_cast<float>(x);
    return x < blocks_end ? std::fma(m0, xf, base_x) : std::fma(m0, xf, ry) + m2;
  }
  float sy(size_t x) const {
    const float xf = static_cast<float>(x);
    return x < blocks_end ? std::fma(m3, xf, base_y) : std::fma(m3, xf, ryy) + m5;
  }
};

}  // namespace
}  // namespace foveal
