// GEMM micro-kernel, AVX2+FMA: a 6x16 register tile (12 ymm accumulators), B streamed from a
// packed 16-wide panel, A broadcast from six row pointers. Column tails are masked.
#include <immintrin.h>

#include "kernels/registry.h"

namespace foveal {
namespace {

inline __m256i tail_mask(size_t valid) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(valid)), lane);
}

template <int MR, int NV>
void tile(size_t nc, size_t kc, size_t ntaps, const float* const* a, const float* b, float* c,
          size_t ldc, const GemmEpilogue& ep) {
  __m256i mask[NV];
  #pragma GCC unroll 16
  for (int j = 0; j < NV; ++j) {
    const size_t lo = 8 * static_cast<size_t>(j);
    mask[j] = tail_mask(nc > lo ? (nc - lo < 8 ? nc - lo : 8) : 0);
  }
  __m256 acc[MR][NV];
  if (ep.accumulate) {
    #pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
      #pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm256_maskload_ps(c + i * ldc + 8 * j, mask[j]);
  } else {
    #pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) {
      const __m256 init = ep.bias ? _mm256_maskload_ps(ep.bias + 8 * j, mask[j]) : _mm256_setzero_ps();
      #pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) acc[i][j] = init;
    }
  }
  for (size_t t = 0; t < ntaps; ++t, a += MR) {
    const float* ar[MR];
    #pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) ar[i] = a[i];
#pragma GCC unroll 4
    for (size_t k = 0; k < kc; ++k) {
      __m256 bv[NV];
      #pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) bv[j] = _mm256_loadu_ps(b + 8 * j);
      b += 16;
      #pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const __m256 av = _mm256_broadcast_ss(ar[i] + k);
        #pragma GCC unroll 16
        for (int j = 0; j < NV; ++j) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
      }
    }
  }
  if (ep.relu) {
    const __m256 zero = _mm256_setzero_ps();
    #pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
      #pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm256_max_ps(acc[i][j], zero);
  }
  #pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
    #pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) _mm256_maskstore_ps(c + i * ldc + 8 * j, mask[j], acc[i][j]);
}

using tile_fn = void (*)(size_t, size_t, size_t, const float* const*, const float*, float*, size_t,
                         const GemmEpilogue&);
template <int MR>
constexpr tile_fn row_of_tiles[2] = {tile<MR, 1>, tile<MR, 2>};
constexpr const tile_fn* tiles[6] = {row_of_tiles<1>, row_of_tiles<2>, row_of_tiles<3>,
                                     row_of_tiles<4>, row_of_tiles<5>, row_of_tiles<6>};

}  // namespace

void gemm_f32_6x16__avx2(size_t mr, size_t nc, size_t kc, size_t ntaps, const float* const* a,
    const float* packed_b, float* c, size_t c_stride, const GemmEpilogue& ep) {
  tiles[mr - 1][(nc + 7) / 8 - 1](nc, kc, ntaps, a, packed_b, c, c_stride, ep);
}

}  // namespace foveal
