// Dropout kernel, avx2.
#include "kernels/common/simd/vec_avx2.h"
#include "kernels/nn/dropout/dropout_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void dropout_f32__avx2(size_t n, const float* x, float* y, float* mask, const DropoutParams& p) {
  dropout<VecAvx2>(n, x, y, mask, p);
}

}  // namespace foveal
