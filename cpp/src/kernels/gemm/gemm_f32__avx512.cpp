// GEMM micro-kernel, AVX-512: a 6x64 register tile (24 zmm accumulators), B streamed from a
// packed 64-wide panel, A broadcast from six row pointers. Column tails are masked.
#include <immintrin.h>

#include "kernels/registry.h"

namespace foveal {
namespace {

template <int MR, int NV>
void tile(size_t nc, size_t kc, size_t ntaps, const float* const* a, const float* b, float* c,
          size_t ldc, const GemmEpilogue& ep) {
  __mmask16 mask[NV];
  #pragma GCC unroll 16
  for (int j = 0; j < NV; ++j) {
    const size_t lo = 16 * static_cast<size_t>(j);
    const size_t valid = nc > lo ? (nc - lo < 16 ? nc - lo : 16) : 0;
    mask[j] = static_cast<__mmask16>((1u << valid) - 1u);
  }
  __m512 acc[MR][NV];
  if (ep.accumulate) {
    #pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
      #pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_maskz_loadu_ps(mask[j], c + i * ldc + 16 * j);
  } else {
    #pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) {
      const __m512 init = ep.bias ? _mm512_maskz_loadu_ps(mask[j], ep.bias + 16 * j) : _mm512_setzero_ps();
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
      __m512 bv[NV];
      #pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) bv[j] = _mm512_loadu_ps(b + 16 * j);
      b += 64;
      #pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const __m512 av = _mm512_set1_ps(ar[i][k]);
        #pragma GCC unroll 16
        for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
      }
    }
  }
  if (ep.relu) {
    const __m512 zero = _mm512_setzero_ps();
    #pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
      #pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_max_ps(acc[i][j], zero);
  }
  #pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
    #pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) _mm512_mask_storeu_ps(c + i * ldc + 16 * j, mask[j], acc[i][j]);
}

using tile_fn = void (*)(size_t, size_t, size_t, const float* const*, const float*, float*, size_t,
                         const GemmEpilogue&);
template <int MR>
constexpr tile_fn row_of_tiles[4] = {tile<MR, 1>, tile<MR, 2>, tile<MR, 3>, tile<MR, 4>};
constexpr const tile_fn* tiles[6] = {row_of_tiles<1>, row_of_tiles<2>, row_of_tiles<3>,
                                     row_of_tiles<4>, row_of_tiles<5>, row_of_tiles<6>};

}  // namespace

void gemm_f32_6x64__avx512(size_t mr, size_t nc, size_t kc, size_t ntaps, const float* const* a,
    const float* packed_b, float* c, size_t c_stride, const GemmEpilogue& ep) {
  tiles[mr - 1][(nc + 15) / 16 - 1](nc, kc, ntaps, a, packed_b, c, c_stride, ep);
}

}  // namespace foveal
