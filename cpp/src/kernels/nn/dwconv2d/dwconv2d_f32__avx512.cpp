// Depthwise convolution row kernel, avx512.
#include "kernels/common/simd/vec_avx512.h"
#include "kernels/nn/dwconv2d/dwconv2d_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void dwconv2d_f32_row__avx512(const DwConvRowParams& p, const float* const* rows, size_t nrows,
                              const float* w, const float* bias, float* out) {
  dwconv_row<VecAvx512>(p, rows, nrows, w, bias, out);
}

}  // namespace foveal
