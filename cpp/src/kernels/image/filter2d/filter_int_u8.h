// The uint8 2-D filter with small whole-number taps (filter_int_u8_fn in foveal/kernels.h), value
// by value: the scalar kernel, and the ends of rows the vector kernel (filter_int_u8_x86.h)
// leaves. Integer sums, the same on every ISA.
#pragma once

#include <cstddef>
#include <cstdint>

namespace foveal {
namespace {

inline void filter_int_u8_values(const uint8_t* const* rows, size_t nrows, const int16_t* k, size_t kw,
                                 size_t step, size_t j0, size_t j1, uint8_t* out) {
  for (size_t j = j0; j < j1; ++j) {
    int32_t acc = 0;
    for (size_t r = 0; r < nrows; ++r)
      for (size_t s = 0; s < kw; ++s) acc += k[r * kw + s] * rows[r][j + s * step];
    out[j] = static_cast<uint8_t>(acc < 0 ? 0 : (acc > 255 ? 255 : acc));
  }
}

}  // namespace
}  // namespace foveal
