// Activation and softmax kernels, avx512.
#include "kernels/common/simd/vec_avx512.h"
#include "kernels/nn/activation/activation_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void activation_f32__avx512(size_t n, const float* x, float* y, Activation act) {
  activation<VecAvx512>(n, x, y, act);
}
void activation_f32_backward__avx512(size_t n, const float* dy, const float* src, float* dx, Activation act) {
  activation_backward<VecAvx512>(n, dy, src, dx, act);
}
void softmax_f32_row__avx512(size_t n, const float* x, float* y) { softmax_row<VecAvx512>(n, x, y); }

}  // namespace foveal
