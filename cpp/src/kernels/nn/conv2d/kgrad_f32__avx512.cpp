// Convolution kernel-gradient tile, avx512: 6x64 (6 rows x 4 vectors of 16 floats), as the GEMM's tile.
#include "kernels/common/simd/vec_avx512.h"
#include "kernels/nn/conv2d/kgrad_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

using Tiles = KgradTiles<VecAvx512, 6, 4>;
const KgradTile kgrad_f32_tile__avx512 = Tiles::tile;

void kgrad_f32__avx512(const ConvKgradParams& p, const float* x, const float* dy, const size_t* x_off,
                  const size_t* dy_off, const size_t* count, size_t nruns, float* c, size_t ldc) {
  Tiles::run(p, x, dy, x_off, dy_off, count, nruns, c, ldc);
}

}  // namespace foveal
