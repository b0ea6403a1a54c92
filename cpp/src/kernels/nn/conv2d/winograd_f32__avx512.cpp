// Winograd F(2x2, 3x3) transforms (input, output, output gradient) and F(4x4, 3x3) ones (input, output, output gradient), avx512.
#include "kernels/common/simd/vec_avx512.h"
#include "kernels/nn/conv2d/winograd_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void winograd_f32_input__avx512(size_t c, const float* const* d, float* v, size_t xi_stride) {
  winograd_input<VecAvx512>(c, d, v, xi_stride);
}
void winograd_f32_output__avx512(size_t c, const float* m, size_t xi_stride, const float* bias, bool relu,
                                 float* const* y) {
  winograd_output<VecAvx512>(c, m, xi_stride, bias, relu, y);
}

void winograd_f32_input4__avx512(size_t c, const float* const* d, float* v, size_t xi_stride) {
  winograd4_input<VecAvx512>(c, d, v, xi_stride);
}
void winograd_f32_output4__avx512(size_t c, const float* m, size_t xi_stride, const float* bias, bool relu,
                                  float* const* y) {
  winograd4_output<VecAvx512>(c, m, xi_stride, bias, relu, y);
}

void winograd_f32_dy__avx512(size_t c, const float* const* dy, float* w, size_t xi_stride) {
  winograd_dy<VecAvx512>(c, dy, w, xi_stride);
}
void winograd_f32_dy4__avx512(size_t c, const float* const* dy, float* w, size_t xi_stride) {
  winograd4_dy<VecAvx512>(c, dy, w, xi_stride);
}

}  // namespace foveal
