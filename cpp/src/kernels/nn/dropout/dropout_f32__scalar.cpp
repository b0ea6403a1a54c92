// Dropout kernel, scalar.
#include "kernels/common/simd/vec_scalar.h"
#include "kernels/nn/dropout/dropout_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void dropout_f32__scalar(size_t n, const float* x, float* y, float* mask, const DropoutParams& p) {
  dropout<VecScalar>(n, x, y, mask, p);
}

}  // namespace foveal
