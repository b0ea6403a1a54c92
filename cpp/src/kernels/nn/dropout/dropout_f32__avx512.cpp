// Dropout kernel, avx512.
#include "kernels/common/simd/vec_avx512.h"
#include "kernels/nn/dropout/dropout_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void dropout_f32__avx512(size_t n, const float* x, float* y, float* mask, const DropoutParams& p) {
  dropout<VecAvx512>(n, x, y, mask, p);
}

}  // namespace foveal
