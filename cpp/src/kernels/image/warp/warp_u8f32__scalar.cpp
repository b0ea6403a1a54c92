// Affine warp row kernels, scalar.
#include "kernels/common/simd/vec_scalar.h"
#include "kernels/image/warp/warp_u8f32_impl.h"
#include "kernels/image/warp/warp_u8_fixed.h"
#include "kernels/registry.h"

namespace foveal {

void warp_u8_row__scalar(const WarpRowParams& p, const uint8_t* src, size_t y, uint8_t* out) {
  if (fixed_bilinear_u8(p)) bilinear_row_u8_fixed_scalar(p, src, y, out);
  else warp_row<VecScalar>(p, src, y, out);
}
void warp_f32_row__scalar(const WarpRowParams& p, const float* src, size_t y, float* out) { warp_row<VecScalar>(p, src, y, out); }
void warp_u8_to_f32_row__scalar(const WarpRowParams& p, const uint8_t* src, size_t y, float* out,
                              const WarpIntensity& ie) {
  warp_row_u8_to_f32_pixels(p, src, y, out, ie);
}
void warp_f32_intensity_row__scalar(const WarpRowParams& p, const float* src, size_t y, float* out,
                                  const WarpIntensity& ie) {
  warp_row_f32_intensity<VecScalar>(p, src, y, out, ie);
}

}  // namespace foveal
