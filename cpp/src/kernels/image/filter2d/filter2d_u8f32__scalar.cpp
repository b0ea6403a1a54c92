// filter2d row correlation kernels, scalar.
#include "kernels/common/simd/vec_scalar.h"
#include "kernels/image/filter2d/filter2d_u8f32_impl.h"
#include "kernels/image/filter2d/filter_int_u8.h"
#include "kernels/registry.h"

namespace foveal {

void filter2d_f32_row__scalar(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                              size_t n, float* out) {
  correlate<VecScalar>(rows, nrows, k, kw, step, n, out);
}
void filter2d_u8_row__scalar(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                             size_t n, uint8_t* out) {
  correlate<VecScalar>(rows, nrows, k, kw, step, n, out);
}

void filter2d_f32_row2__scalar(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                               size_t n, float* out0, float* out1) {
  correlate2<VecScalar>(rows, nrows, k, kw, step, n, out0, out1);
}
void filter2d_u8_row2__scalar(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                              size_t n, uint8_t* out0, uint8_t* out1) {
  correlate2<VecScalar>(rows, nrows, k, kw, step, n, out0, out1);
}

void filter2d_u8_fixcol__scalar(const uint8_t* const* rows, size_t nrows, const uint16_t* k, size_t n, uint16_t* out) {
  fixed_col(rows, nrows, k, n, out);
}
void filter2d_u8_fixrow__scalar(const uint16_t* row, const uint16_t* k, size_t kw, size_t step, unsigned shift,
                              size_t n, uint8_t* out) {
  fixed_row(row, k, kw, step, shift, n, out);
}

void filter2d_u8_int__scalar(const uint8_t* const* rows, size_t nrows, const int16_t* k, size_t kw, size_t step,
                            size_t n, uint8_t* out) {
  filter_int_u8_values(rows, nrows, k, kw, step, 0, n, out);
}

}  // namespace foveal
