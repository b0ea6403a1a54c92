// filter2d row correlation kernels, avx512.
#include "kernels/common/simd/vec_avx512.h"
#include "kernels/image/filter2d/filter2d_u8f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void filter2d_f32_row__avx512(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                              size_t n, float* out) {
  correlate<VecAvx512>(rows, nrows, k, kw, step, n, out);
}
void filter2d_u8_row__avx512(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                             size_t n, uint8_t* out) {
  correlate<VecAvx512>(rows, nrows, k, kw, step, n, out);
}

void filter2d_f32_row2__avx512(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                               size_t n, float* out0, float* out1) {
  correlate2<VecAvx512>(rows, nrows, k, kw, step, n, out0, out1);
}
void filter2d_u8_row2__avx512(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                              size_t n, uint8_t* out0, uint8_t* out1) {
  correlate2<VecAvx512>(rows, nrows, k, kw, step, n, out0, out1);
}

}  // namespace foveal
