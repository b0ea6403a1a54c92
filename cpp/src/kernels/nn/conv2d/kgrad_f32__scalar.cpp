// Convolution kernel-gradient tile, scalar: 4x8 (4 rows x 8 floats), as the GEMM's tile.
#include "kernels/common/simd/vec_scalar.h"
#include "kernels/nn/conv2d/kgrad_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

using Tiles = KgradTiles<VecScalar, 4, 8>;
const KgradTile kgrad_f32_tile__scalar = Tiles::tile;

void kgrad_f32__scalar(const ConvKgradParams& p, const float* x, const float* dy, const size_t* x_off,
                  const size_t* dy_off, const size_t* count, size_t nruns, float* c, size_t ldc) {
  Tiles::run(p, x, dy, x_off, dy_off, count, nruns, c, ldc);
}

}  // namespace foveal
