// Row correlation kernels, scalar.
#include "kernels/simd/vec_scalar.h"
#include "kernels/filter2d/correlate_impl.h"
#include "kernels/registry.h"

namespace foveal {

void correlate_f32__scalar(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                       size_t n, float* out) {
  correlate<VecScalar>(rows, nrows, k, kw, step, n, out);
}
void correlate_u8__scalar(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                      size_t n, uint8_t* out) {
  correlate<VecScalar>(rows, nrows, k, kw, step, n, out);
}

void correlate2_f32__scalar(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                        size_t n, float* out0, float* out1) {
  correlate2<VecScalar>(rows, nrows, k, kw, step, n, out0, out1);
}
void correlate2_u8__scalar(const float* const* rows, size_t nrows, const float* k, size_t kw, size_t step,
                       size_t n, uint8_t* out0, uint8_t* out1) {
  correlate2<VecScalar>(rows, nrows, k, kw, step, n, out0, out1);
}

}  // namespace foveal
