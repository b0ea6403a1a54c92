// resize: horizontal resampling kernels, avx2.
#include "kernels/common/simd/vec_avx2.h"
#include "kernels/image/resize/resize_u8f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void resize_u8_row__avx2(const uint8_t* row, size_t row_values, size_t channels, size_t out_w,
                         size_t taps, const int32_t* idx, const float* w, float* out) {
  resample_row<VecAvx2>(row, row_values, channels, out_w, taps, idx, w, out);
}
void resize_f32_row__avx2(const float* row, size_t row_values, size_t channels, size_t out_w,
                          size_t taps, const int32_t* idx, const float* w, float* out) {
  resample_row<VecAvx2>(row, row_values, channels, out_w, taps, idx, w, out);
}

}  // namespace foveal
