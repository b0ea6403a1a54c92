// Affine warp row kernels, avx512.
#include "kernels/simd/vec_avx512.h"
#include "kernels/warp/warp_impl.h"
#include "kernels/registry.h"

namespace foveal {

void warp_row_u8__avx512(const WarpRowParams& p, const uint8_t* src, size_t y, uint8_t* out) { warp_row<VecAvx512>(p, src, y, out); }
void warp_row_f32__avx512(const WarpRowParams& p, const float* src, size_t y, float* out) { warp_row<VecAvx512>(p, src, y, out); }

}  // namespace foveal
