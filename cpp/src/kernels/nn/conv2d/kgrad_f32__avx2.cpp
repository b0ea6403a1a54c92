// Convolution kernel-gradient tile, avx2: 6x16 (6 rows x 2 vectors of 8 floats), as the GEMM's tile.
#include "kernels/common/simd/vec_avx2.h"
#include "kernels/nn/conv2d/kgrad_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

using Tiles = KgradTiles<VecAvx2, 6, 2>;
const KgradTile kgrad_f32_tile__avx2 = Tiles::tile;

void kgrad_f32__avx2(const ConvKgradParams& p, const float* x, const float* dy, const size_t* x_off,
                  const size_t* dy_off, const size_t* count, size_t nruns, float* c, size_t ldc) {
  Tiles::run(p, x, dy, x_off, dy_off, count, nruns, c, ldc);
}

}  // namespace foveal
