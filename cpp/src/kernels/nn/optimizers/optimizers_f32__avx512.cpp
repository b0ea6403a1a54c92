// Optimizer update kernels (SGD, Adam, RMSprop), avx512.
#include "kernels/common/simd/vec_avx512.h"
#include "kernels/nn/optimizers/optimizers_f32_impl.h"
#include "kernels/registry.h"

namespace foveal {

void sgd_step_f32__avx512(size_t n, float* w, const float* g, float* m, const SgdParams& p) { sgd_step<VecAvx512>(n, w, g, m, p); }
void adam_step_f32__avx512(size_t n, float* w, const float* g, float* m, float* v, const AdamParams& p) { adam_step<VecAvx512>(n, w, g, m, v, p); }
void rmsprop_step_f32__avx512(size_t n, float* w, const float* g, float* v, float* m, float* a, const RmspropParams& p) { rmsprop_step<VecAvx512>(n, w, g, v, m, a, p); }

}  // namespace foveal
