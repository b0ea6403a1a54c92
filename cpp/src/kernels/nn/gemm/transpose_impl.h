// The transpose kernel's walk (shared by the ISA files): whole B x B blocks by the ISA's
// register transpose, the edges element by element. Copies only: the same values on every ISA.
#pragma once

#include <cstddef>

namespace foveal {
namespace {

// dst[i * ldd + j] = src[j * lds + i] for i < rows, j < cols; block(src, lds, dst, ldd) does a
// B x B block.
template <size_t B, typename Block>
inline void transpose_blocks(size_t rows, size_t cols, const float* src, size_t lds, float* dst,
                             size_t ldd, Block block) {
  size_t j0 = 0;
  for (; j0 + B <= cols; j0 += B) {
    size_t i0 = 0;
    for (; i0 + B <= rows; i0 += B) block(src + j0 * lds + i0, lds, dst + i0 * ldd + j0, ldd);
    for (size_t i = i0; i < rows; ++i)
      for (size_t j = j0; j < j0 + B; ++j) dst[i * ldd + j] = src[j * lds + i];
  }
  if (j0 < cols)
    for (size_t i = 0; i < rows; ++i)
      for (size_t j = j0; j < cols; ++j) dst[i * ldd + j] = src[j * lds + i];
}

}  // namespace
}  // namespace foveal
