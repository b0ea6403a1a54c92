// resize: horizontal resampling, fixed-point bilinear uint8 and nearest-row kernels, scalar.
#include "kernels/common/simd/vec_scalar.h"
#include "kernels/image/resize/resize_u8f32_impl.h"
#include "kernels/image/resize/resize_u8_linear.h"
#include "kernels/registry.h"

namespace foveal {

void resize_u8_row__scalar(const uint8_t* row, size_t row_values, size_t channels, size_t out_w,
                           size_t taps, const int32_t* idx, const float* w, float* out) {
  resample_row<VecScalar>(row, row_values, channels, out_w, taps, idx, w, out);
}
void resize_f32_row__scalar(const float* row, size_t row_values, size_t channels, size_t out_w,
                            size_t taps, const int32_t* idx, const float* w, float* out) {
  resample_row<VecScalar>(row, row_values, channels, out_w, taps, idx, w, out);
}

void resize_u8_hlinear__scalar(const uint8_t* row, size_t row_bytes, size_t channels, size_t out_w,
                               const int32_t* off, const int16_t* w, int16_t* out) {
  if (channels == 3) hlinear_pixels<3>(row, off, w, 0, out_w, out);
  else hlinear_pixels<4>(row, off, w, 0, out_w, out);
}
void resize_u8_vlinear__scalar(const int16_t* r0, const int16_t* r1, int32_t b0, int32_t b1, size_t channels,
                               size_t out_w, uint8_t* out) {
  if (channels == 3) vlinear_pixels<3>(r0, r1, b0, b1, 0, out_w, out);
  else vlinear_pixels<4>(r0, r1, b0, b1, 0, out_w, out);
}

void resize_x8_nearest__scalar(const uint8_t* row, size_t readable, size_t pixel_bytes, size_t out_w,
                               const int32_t* off, const NearestSegment* segs, size_t nsegs, uint8_t* out) {
  nearest_row<VecScalar>(row, readable, pixel_bytes, out_w, off, segs, nsegs, out);
}

}  // namespace foveal
