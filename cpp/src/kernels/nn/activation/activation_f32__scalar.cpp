// Activation and softmax kernels, scalar.
#include "kernels/common/simd/vec_scalar.h"
#include "kernels/nn/activation/activation_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void activation_f32__scalar(size_t n, const float* x, float* y, Activation act) {
  activation<VecScalar>(n, x, y, act);
}
void activation_f32_backward__scalar(size_t n, const float* dy, const float* src, float* dx, Activation act) {
  activation_backward<VecScalar>(n, dy, src, dx, act);
}
void softmax_f32_row__scalar(size_t n, const float* x, float* y) { softmax_row<VecScalar>(n, x, y); }

}  // namespace foveal
