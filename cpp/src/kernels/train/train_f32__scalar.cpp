// Training kernels (batch normalization, dropout, optimizer steps), scalar.
#include "kernels/simd/vec_scalar.h"
#include "kernels/train/train_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void channel_moments_f32__scalar(size_t rows, size_t c, const float* x, const float* shift, float* sum, float* sumsq) {
  channel_moments<VecScalar>(rows, c, x, shift, sum, sumsq);
}
void channel_dot_f32__scalar(size_t rows, size_t c, const float* a, const float* b, float* sum_a, float* sum_ab) {
  channel_dot<VecScalar>(rows, c, a, b, sum_a, sum_ab);
}
void channel_affine_f32__scalar(size_t rows, size_t c, const float* x, const ChannelAffine& p, float* y, float* t_out) {
  channel_affine<VecScalar>(rows, c, x, p, y, t_out);
}
void bn_backward_f32__scalar(size_t rows, size_t c, const float* dy, const float* xhat, const float* mean_dy,
                         const float* mean_dy_xhat, const float* scale, float* dx) {
  bn_backward<VecScalar>(rows, c, dy, xhat, mean_dy, mean_dy_xhat, scale, dx);
}
void dropout_f32__scalar(size_t n, const float* x, float* y, float* mask, const DropoutParams& p) {
  dropout<VecScalar>(n, x, y, mask, p);
}
void sgd_step_f32__scalar(size_t n, float* w, const float* g, float* m, const SgdParams& p) { sgd_step<VecScalar>(n, w, g, m, p); }
void adam_step_f32__scalar(size_t n, float* w, const float* g, float* m, float* v, const AdamParams& p) {
  adam_step<VecScalar>(n, w, g, m, v, p);
}
void rmsprop_step_f32__scalar(size_t n, float* w, const float* g, float* v, float* m, float* a, const RmspropParams& p) {
  rmsprop_step<VecScalar>(n, w, g, v, m, a, p);
}

}  // namespace foveal
