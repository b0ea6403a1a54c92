// Activation and softmax kernels, avx2.
#include "kernels/common/simd/vec_avx2.h"
#include "kernels/nn/activation/activation_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void activation_f32__avx2(size_t n, const float* x, float* y, Activation act) {
  activation<VecAvx2>(n, x, y, act);
}
void activation_f32_backward__avx2(size_t n, const float* dy, const float* src, float* dx, Activation act) {
  activation_backward<VecAvx2>(n, dy, src, dx, act);
}
void softmax_f32_row__avx2(size_t n, const float* x, float* y) { softmax_row<VecAvx2>(n, x, y); }

}  // namespace foveal
