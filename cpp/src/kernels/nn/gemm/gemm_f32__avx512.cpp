// Indirect GEMM micro-kernel, avx512: a 6x64 register tile (6 rows x 4 vectors of 16 floats).
#include <immintrin.h>

#include "kernels/nn/gemm/transpose_impl.h"
#include "kernels/common/simd/vec_avx512.h"
#include "kernels/nn/gemm/gemm_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

using Tiles = GemmTiles<VecAvx512, 6, 4>;
const GemmTile gemm_f32_tile__avx512 = Tiles::tile;

void gemm_f32__avx512(size_t mr, size_t nc, size_t kc, size_t ntaps, const float* const* a,
    const float* packed_b, float* c, size_t c_stride, const GemmEpilogue& ep) {
  Tiles::run(mr, nc, kc, ntaps, a, packed_b, c, c_stride, ep);
}
void gemm_f32_strips__avx512(size_t strips, size_t nc, size_t kc, size_t ntaps,
    const float* const* a, size_t a_stride, const float* packed_b, float* c, size_t c_stride,
    const GemmEpilogue& ep) {
  Tiles::run_strips(strips, nc, kc, ntaps, a, a_stride, packed_b, c, c_stride, ep);
}
void gemm_f32_at__avx512(size_t mr, size_t nc, size_t kc, const float* a, size_t lda,
    const float* packed_b, float* c, size_t c_stride, const GemmEpilogue& ep) {
  Tiles::run_at(mr, nc, kc, a, lda, packed_b, c, c_stride, ep);
}
void gemm_f32_strip__avx512(const IgemmProblem& g, size_t m0, size_t mr, const float* const* ptrs,
    const float** scratch, size_t p0, size_t p1) {
  Tiles::strip(g, m0, mr, ptrs, scratch, p0, p1);
}

static inline __m512 lo64(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}
static inline __m512 hi64(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}

// A 16 x 16 block in registers: pairs of rows interleaved by 32 bits, then by 64, then the
// 128-bit lanes gathered in two rounds.
static inline void transpose16(const float* src, size_t lds, float* dst, size_t ldd) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = lo64(t[i], t[i + 2]);
    r[i + 1] = hi64(t[i], t[i + 2]);
    r[i + 2] = lo64(t[i + 1], t[i + 3]);
    r[i + 3] = hi64(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 16; i += 8)
    for (int k = 0; k < 4; ++k) {
      t[i + k] = _mm512_shuffle_f32x4(r[i + k], r[i + 4 + k], 0x88);
      t[i + 4 + k] = _mm512_shuffle_f32x4(r[i + k], r[i + 4 + k], 0xdd);
    }
  for (int k = 0; k < 8; ++k) {
    r[k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0x88);
    r[8 + k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0xdd);
  }
  for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + i * ldd, r[i]);
}

void gemm_f32_transpose__avx512(size_t rows, size_t cols, const float* src, size_t lds, float* dst,
                                size_t ldd) {
  transpose_blocks<16>(rows, cols, src, lds, dst, ldd, transpose16);
}

}  // namespace foveal
