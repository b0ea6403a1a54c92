// Pooling kernels, avx512.
#include "kernels/common/simd/vec_avx512.h"
#include "kernels/nn/pool2d/pool2d_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void maxpool2d_f32_row__avx512(const PoolRowParams& p, const float* const* rows, size_t nrows, float* out) {
  pool_row<VecAvx512, PoolMax, false>(p, rows, nrows, out);
}
void avgpool2d_f32_row__avx512(const PoolRowParams& p, const float* const* rows, size_t nrows, float* out) {
  pool_row<VecAvx512, PoolSum, true>(p, rows, nrows, out);
}
void maxpool2d_f32_backward_row__avx512(const PoolRowParams& p, const float* const* rows, float* const* drows,
                                        size_t nrows, const float* dy) {
  pool_backward_row<VecAvx512, false>(p, rows, drows, nrows, dy);
}
void avgpool2d_f32_backward_row__avx512(const PoolRowParams& p, const float* const* rows, float* const* drows,
                                        size_t nrows, const float* dy) {
  pool_backward_row<VecAvx512, true>(p, rows, drows, nrows, dy);
}
void global_maxpool_f32__avx512(size_t hw, size_t channels, size_t stride, const float* x, float* y) {
  global_pool<VecAvx512, PoolMax, false>(hw, channels, stride, x, y);
}
void global_avgpool_f32__avx512(size_t hw, size_t channels, size_t stride, const float* x, float* y) {
  global_pool<VecAvx512, PoolSum, true>(hw, channels, stride, x, y);
}

}  // namespace foveal
