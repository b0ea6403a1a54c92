// The fixed-point bilinear uint8 resize passes (see resize_hlinear_u8_fn / resize_vlinear_u8_fn in
// foveal/kernels.h), pixel by pixel: the scalar kernels, and the ends of rows the vector kernels
// (resize_u8_linear_x86.h) leave. Integer arithmetic only, the same on every ISA.
#pragma once

#include <cstddef>
#include <cstdint>

namespace foveal {
namespace {

// Horizontal pass, output pixels [x0, x1): 4 lanes each, lanes from C on zero.
template <size_t C>
inline void hlinear_pixels(const uint8_t* row, const int32_t* off, const int16_t* w, size_t x0,
                           size_t x1, int16_t* out) {
  for (size_t x = x0; x < x1; ++x) {
    const uint8_t* p = row + off[x];
    const int32_t w0 = w[2 * x], w1 = w[2 * x + 1];
    for (size_t c = 0; c < 4; ++c) {
      int32_t v = 0;
      if (c < C) v = (p[c] * w0 + (w1 != 0 ? p[C + c] * w1 : 0) + 64) >> 7;
      out[4 * x + c] = static_cast<int16_t>(v);
    }
  }
}

// Vertical pass, output pixels [x0, x1) of C channels.
template <size_t C>
inline void vlinear_pixels(const int16_t* r0, const int16_t* r1, int32_t b0, int32_t b1, size_t x0,
                           size_t x1, uint8_t* out) {
  for (size_t x = x0; x < x1; ++x)
    for (size_t c = 0; c < C; ++c) {
      const int32_t v = (r0[4 * x + c] * b0 + r1[4 * x + c] * b1 + (1 << 20)) >> 21;
      out[x * C + c] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
    }
}

}  // namespace
}  // namespace foveal
