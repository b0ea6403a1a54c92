// Batch-normalization kernels, avx2.
#include "kernels/common/simd/vec_avx2.h"
#include "kernels/nn/batchnorm/batchnorm_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void channel_moments_f32__avx2(size_t rows, size_t c, const float* x, const float* shift, float* sum, float* sumsq) {
  channel_moments<VecAvx2>(rows, c, x, shift, sum, sumsq);
}
void channel_dot_f32__avx2(size_t rows, size_t c, const float* a, const float* b, float* sum_a, float* sum_ab) {
  channel_dot<VecAvx2>(rows, c, a, b, sum_a, sum_ab);
}
void channel_affine_f32__avx2(size_t rows, size_t c, const float* x, const ChannelAffine& p, float* y, float* t_out) {
  channel_affine<VecAvx2>(rows, c, x, p, y, t_out);
}
void batchnorm_f32_backward__avx2(size_t rows, size_t c, const float* dy, const float* xhat, const float* mean_dy,
                                  const float* mean_dy_xhat, const float* scale, float* dx) {
  bn_backward<VecAvx2>(rows, c, dy, xhat, mean_dy, mean_dy_xhat, scale, dx);
}
void batchnorm_f32_grad_sums__avx2(size_t rows, size_t c, const float* dy, const float* x,
                                  const BnBackwardParams& p, float* sum_dz, float* sum_dz_xhat) {
  bn_grad_sums<VecAvx2>(rows, c, dy, x, p, sum_dz, sum_dz_xhat);
}
void batchnorm_f32_grad_input__avx2(size_t rows, size_t c, const float* dy, const float* x,
                                   const BnBackwardParams& p, const float* mean_dz,
                                   const float* mean_dz_xhat, const float* scale, float* dx) {
  bn_grad_input<VecAvx2>(rows, c, dy, x, p, mean_dz, mean_dz_xhat, scale, dx);
}

}  // namespace foveal
