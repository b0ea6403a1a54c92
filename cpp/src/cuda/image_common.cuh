// Pieces shared by the CUDA image kernels (image.cu, resize.cu, filter.cu), each the device twin
// of a CPU kernel helper: border extrapolation (kernels/image/border.h), OpenCV 5.1's nearest
// tie rule and the clamped float-to-index cast (warp_u8f32_impl.h), the bicubic weights
// (kernels/image/cubic.h), and the uint8 store (round half to even, saturate; NaN to 0).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "cuda/common.cuh"
#include "kernels/image/cubic.h"
#include "foveal/kernels.h"

namespace foveal::cuda {

// The source index position i reads (OpenCV's borderInterpolate), or -1 for a constant border.
FOVEAL_HD ptrdiff_t border_index(ptrdiff_t i, ptrdiff_t n, Border b) {
  if (i >= 0 && i < n) return i;
  switch (b) {
    case Border::constant: return -1;
    case Border::replicate: return i < 0 ? 0 : n - 1;
    case Border::wrap: return ((i % n) + n) % n;
    case Border::reflect:
    case Border::reflect101: {
      if (n == 1) return 0;
      const ptrdiff_t period = b == Border::reflect ? 2 * n : 2 * n - 2;
      const ptrdiff_t j = ((i % period) + period) % period;
      return j < n ? j : period - 1 - j + (b == Border::reflect ? 0 : 1);
    }
  }
  return -1;
}

// Nearest source index of coordinate s with OpenCV 5.1's tie rule (the CPU's nearest_index).
FOVEAL_HD ptrdiff_t nearest_index(double s, ptrdiff_t n, Border border) {
  const double lim = 1073741824.0;
  s = s < -lim ? -lim : (s > lim ? lim : s);
  const double f = floor(s), d = s - f - 0.5;
  const ptrdiff_t lo = static_cast<ptrdiff_t>(f);
  if (d < -1e-9) return lo;
  if (d > 1e-9) return lo + 1;
  if (border == Border::constant) return lo + 1 == n ? lo : lo + 1;
  if (border == Border::replicate) return lo + 1;
  return (lo & 1) == 0 ? lo : lo + 1;
}

// Integer part of a float coordinate, clamped far outside any image so the cast is defined.
FOVEAL_HD ptrdiff_t coord(float v) {
  const float lim = 1073741824.0f;
  return static_cast<ptrdiff_t>(v < -lim ? -lim : (v > lim ? lim : v));
}

FOVEAL_HD void put(float* dst, float v) { *dst = v; }
FOVEAL_HD void put(uint8_t* dst, float v) {
  *dst = !(v > 0.0f) ? 0 : (v >= 255.0f ? 255 : static_cast<uint8_t>(rintf(v)));
}

// Keys' cubic weights: the CPU's own cubic_weights (kernels/image/cubic.h, host and device).
using foveal::cubic_weights;

}  // namespace foveal::cuda
