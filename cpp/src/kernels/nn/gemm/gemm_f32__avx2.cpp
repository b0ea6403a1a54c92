// Indirect GEMM micro-kernel, avx2: a 6x16 register tile (6 rows x 2 vectors of 8 floats).
#include <immintrin.h>

#include "kernels/nn/gemm/transpose_impl.h"
#include "kernels/common/simd/vec_avx2.h"
#include "kernels/nn/gemm/gemm_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

using Tiles = GemmTiles<VecAvx2, 6, 2>;
const GemmTile gemm_f32_tile__avx2 = Tiles::tile;

void gemm_f32__avx2(size_t mr, size_t nc, size_t kc, size_t ntaps, const float* const* a,
    const float* packed_b, float* c, size_t c_stride, const GemmEpilogue& ep) {
  Tiles::run(mr, nc, kc, ntaps, a, packed_b, c, c_stride, ep);
}
void gemm_f32_strips__avx2(size_t strips, size_t nc, size_t kc, size_t ntaps,
    const float* const* a, size_t a_stride, const float* packed_b, float* c, size_t c_stride,
    const GemmEpilogue& ep) {
  Tiles::run_strips(strips, nc, kc, ntaps, a, a_stride, packed_b, c, c_stride, ep);
}
void gemm_f32_at__avx2(size_t mr, size_t nc, size_t kc, const float* a, size_t lda,
    const float* packed_b, float* c, size_t c_stride, const GemmEpilogue& ep) {
  Tiles::run_at(mr, nc, kc, a, lda, packed_b, c, c_stride, ep);
}
void gemm_f32_strip__avx2(const IgemmProblem& g, size_t m0, size_t mr, const float* const* ptrs,
    const float** scratch, size_t p0, size_t p1) {
  Tiles::strip(g, m0, mr, ptrs, scratch, p0, p1);
}

// An 8 x 8 block in registers: pairs of rows interleaved by 32 bits, then by 64, then the
// 128-bit halves exchanged.
static inline void transpose8(const float* src, size_t lds, float* dst, size_t ldd) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int k = 0; k < 4; ++k) {
    t[k] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x20);
    t[k + 4] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x31);
  }
  for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + i * ldd, t[i]);
}

void gemm_f32_transpose__avx2(size_t rows, size_t cols, const float* src, size_t lds, float* dst,
                              size_t ldd) {
  transpose_blocks<8>(rows, cols, src, lds, dst, ldd, transpose8);
}

}  // namespace foveal
