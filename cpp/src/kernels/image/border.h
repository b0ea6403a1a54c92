// Border extrapolation, as OpenCV's borderInterpolate: the source index a position outside
// [0, n) reads, or -1 for a constant border.
#pragma once

#include <cstddef>

#include "foveal/kernels.h"

namespace foveal {

inline ptrdiff_t border_index(ptrdiff_t i, ptrdiff_t n, Border b) {
  if (i >= 0 && i < n) return i;
  switch (b) {
    case Border::constant: return -1;
    case Border::replicate: return i < 0 ? 0 : n - 1;
    case Border::wrap: return ((i % n) + n) % n;
    case Border::reflect:      // fedcba|abcdef|fedcba  (period 2n)
    case Border::reflect101: { // fedcb|abcdef|edcba    (period 2n - 2)
      if (n == 1) return 0;
      const ptrdiff_t period = b == Border::reflect ? 2 * n : 2 * n - 2;
      const ptrdiff_t j = ((i % period) + period) % period;
      return j < n ? j : period - 1 - j + (b == Border::reflect ? 0 : 1);
    }
  }
  return -1;
}

}  // namespace foveal
