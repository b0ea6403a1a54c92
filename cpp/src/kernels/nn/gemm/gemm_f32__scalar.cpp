// Indirect GEMM micro-kernel, scalar: a 4x8 register tile (4 rows x 8 vectors of 1 float).
#include "kernels/nn/gemm/transpose_impl.h"
#include "kernels/common/simd/vec_scalar.h"
#include "kernels/nn/gemm/gemm_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

using Tiles = GemmTiles<VecScalar, 4, 8>;
const GemmTile gemm_f32_tile__scalar = Tiles::tile;

void gemm_f32__scalar(size_t mr, size_t nc, size_t kc, size_t ntaps, const float* const* a,
    const float* packed_b, float* c, size_t c_stride, const GemmEpilogue& ep) {
  Tiles::run(mr, nc, kc, ntaps, a, packed_b, c, c_stride, ep);
}
void gemm_f32_strips__scalar(size_t strips, size_t nc, size_t kc, size_t ntaps,
    const float* const* a, size_t a_stride, const float* packed_b, float* c, size_t c_stride,
    const GemmEpilogue& ep) {
  Tiles::run_strips(strips, nc, kc, ntaps, a, a_stride, packed_b, c, c_stride, ep);
}
void gemm_f32_at__scalar(size_t mr, size_t nc, size_t kc, const float* a, size_t lda,
    const float* packed_b, float* c, size_t c_stride, const GemmEpilogue& ep) {
  Tiles::run_at(mr, nc, kc, a, lda, packed_b, c, c_stride, ep);
}
void gemm_f32_strip__scalar(const IgemmProblem& g, size_t m0, size_t mr, const float* const* ptrs,
    const float** scratch, size_t p0, size_t p1) {
  Tiles::strip(g, m0, mr, ptrs, scratch, p0, p1);
}

void gemm_f32_transpose__scalar(size_t rows, size_t cols, const float* src, size_t lds, float* dst,
                                size_t ldd) {
  // 8 x 8 blocks: a block's source lines stay in L1 while its rows are written
  transpose_blocks<8>(rows, cols, src, lds, dst, ldd,
                      [](const float* s, size_t ls, float* d, size_t ld) {
                        for (size_t i = 0; i < 8; ++i)
                          for (size_t j = 0; j < 8; ++j) d[i * ld + j] = s[j * ls + i];
                      });
}

}  // namespace foveal
