// resize: horizontal resampling and nearest-row kernels, avx512.
#include "kernels/common/simd/vec_avx512.h"
#include "kernels/image/resize/resize_u8f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void resize_u8_row__avx512(const uint8_t* row, size_t row_values, size_t channels, size_t out_w,
                           size_t taps, const int32_t* idx, const float* w, float* out) {
  resample_row<VecAvx512>(row, row_values, channels, out_w, taps, idx, w, out);
}
void resize_f32_row__avx512(const float* row, size_t row_values, size_t channels, size_t out_w,
                            size_t taps, const int32_t* idx, const float* w, float* out) {
  resample_row<VecAvx512>(row, row_values, channels, out_w, taps, idx, w, out);
}

void resize_x8_nearest__avx512(const uint8_t* row, size_t readable, size_t pixel_bytes, size_t out_w,
                               const int32_t* off, const NearestSegment* segs, size_t nsegs, uint8_t* out) {
  nearest_row<VecAvx512>(row, readable, pixel_bytes, out_w, off, segs, nsegs, out);
}

}  // namespace foveal
