// Horizontal resampling kernels, scalar.
#include "kernels/simd/vec_scalar.h"
#include "kernels/resize/resample_impl.h"
#include "kernels/registry.h"

namespace foveal {

void resample_row_u8__scalar(const uint8_t* row, size_t row_values, size_t channels, size_t out_w,
                         size_t taps, const int32_t* idx, const float* w, float* out) {
  resample_row<VecScalar>(row, row_values, channels, out_w, taps, idx, w, out);
}
void resample_row_f32__scalar(const float* row, size_t row_values, size_t channels, size_t out_w,
                          size_t taps, const int32_t* idx, const float* w, float* out) {
  resample_row<VecScalar>(row, row_values, channels, out_w, taps, idx, w, out);
}

}  // namespace foveal
