// Winograd F(2x2, 3x3) input and output transforms, scalar.
#include "kernels/simd/vec_scalar.h"
#include "kernels/winograd/winograd_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void winograd_input_f32__scalar(size_t c, const float* const* d, float* v, size_t xi_stride) {
  winograd_input<VecScalar>(c, d, v, xi_stride);
}
void winograd_output_f32__scalar(size_t c, const float* m, size_t xi_stride, const float* bias, bool relu,
                             float* const* y) {
  winograd_output<VecScalar>(c, m, xi_stride, bias, relu, y);
}

}  // namespace foveal
