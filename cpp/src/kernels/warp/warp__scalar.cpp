// Affine warp row kernels, scalar.
#include "kernels/simd/vec_scalar.h"
#include "kernels/warp/warp_impl.h"
#include "kernels/registry.h"

namespace foveal {

void warp_row_u8__scalar(const WarpRowParams& p, const uint8_t* src, size_t y, uint8_t* out) { warp_row<VecScalar>(p, src, y, out); }
void warp_row_f32__scalar(const WarpRowParams& p, const float* src, size_t y, float* out) { warp_row<VecScalar>(p, src, y, out); }

}  // namespace foveal
