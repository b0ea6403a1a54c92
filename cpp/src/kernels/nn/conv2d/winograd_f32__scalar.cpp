// Winograd F(2x2, 3x3) transforms (input, output, output gradient) and F(4x4, 3x3) ones (input, output, output gradient), scalar.
#include "kernels/common/simd/vec_scalar.h"
#include "kernels/nn/conv2d/winograd_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void winograd_f32_input__scalar(size_t c, const float* const* d, float* v, size_t xi_stride) {
  winograd_input<VecScalar>(c, d, v, xi_stride);
}
void winograd_f32_output__scalar(size_t c, const float* m, size_t xi_stride, const float* bias, bool relu,
                                 float* const* y) {
  winograd_output<VecScalar>(c, m, xi_stride, bias, relu, y);
}

void winograd_f32_input4__scalar(size_t c, const float* const* d, float* v, size_t xi_stride) {
  winograd4_input<VecScalar>(c, d, v, xi_stride);
}
void winograd_f32_output4__scalar(size_t c, const float* m, size_t xi_stride, const float* bias, bool relu,
                                  float* const* y) {
  winograd4_output<VecScalar>(c, m, xi_stride, bias, relu, y);
}

void winograd_f32_dy__scalar(size_t c, const float* const* dy, float* w, size_t xi_stride) {
  winograd_dy<VecScalar>(c, dy, w, xi_stride);
}
void winograd_f32_dy4__scalar(size_t c, const float* const* dy, float* w, size_t xi_stride) {
  winograd4_dy<VecScalar>(c, dy, w, xi_stride);
}

}  // namespace foveal
