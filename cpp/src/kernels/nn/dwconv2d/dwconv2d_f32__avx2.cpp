// Depthwise convolution row kernels, avx2: the forward row, the kernel-gradient row and the
// input-gradient row.
#include "kernels/common/simd/vec_avx2.h"
#include "kernels/nn/dwconv2d/dwconv2d_backward_f32_impl.h"
#include "kernels/nn/dwconv2d/dwconv2d_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void dwconv2d_f32_row__avx2(const DwConvRowParams& p, const float* const* rows, size_t nrows,
                            const float* w, const float* bias, float* out) {
  dwconv_row<VecAvx2>(p, rows, nrows, w, bias, out);
}

void dwconv2d_f32_kgrad_row__avx2(const DwConvRowParams& p, const float* const* rows, size_t nrows,
                                  const float* dy, float* dk, float* db) {
  dwconv_kgrad_row<VecAvx2>(p, rows, nrows, dy, dk, db);
}

void dwconv2d_f32_dx_row__avx2(const DwConvRowParams& p, const float* const* dy_rows,
                               const float* const* k_rows, size_t nrows, float* dx) {
  dwconv_dx_row<VecAvx2>(p, dy_rows, k_rows, nrows, dx);
}

}  // namespace foveal
