// Indirect GEMM micro-kernel, avx2: a 6x16 register tile (6 rows x 2 vectors of 8 floats).
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
void gemm_f32_at__avx2(size_t mr, size_t nc, size_t kc, const float* a, size_t lda,
    const float* packed_b, float* c, size_t c_stride, const GemmEpilogue& ep) {
  Tiles::run_at(mr, nc, kc, a, lda, packed_b, c, c_stride, ep);
}
void gemm_f32_strip__avx2(const IgemmProblem& g, size_t m0, size_t mr, const float* const* ptrs,
    const float** scratch, size_t p0, size_t p1) {
  Tiles::strip(g, m0, mr, ptrs, scratch, p0, p1);
}

}  // namespace foveal
