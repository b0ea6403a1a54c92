// Optimizer-step drivers: the update kernels over chunks of the parameter arrays in parallel.
#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"

namespace foveal {
namespace {
constexpr size_t kChunk = 1 << 15;  // elements per task
}  // namespace

void sgd_step_f32(size_t n, float* w, const float* g, float* m, const SgdParams& p) {
  const KernelTable& t = kernels();
  parallel_for_chunks(n, kChunk, [&](size_t i0, size_t len) {
    t.sgd_step(len, w + i0, g + i0, m ? m + i0 : nullptr, p);
  });
}

void adam_step_f32(size_t n, float* w, const float* g, float* m, float* v, const AdamParams& p) {
  const KernelTable& t = kernels();
  parallel_for_chunks(n, kChunk, [&](size_t i0, size_t len) {
    t.adam_step(len, w + i0, g + i0, m + i0, v + i0, p);
  });
}

void rmsprop_step_f32(size_t n, float* w, const float* g, float* v, float* m, float* a,
                      const RmspropParams& p) {
  const KernelTable& t = kernels();
  parallel_for_chunks(n, kChunk, [&](size_t i0, size_t len) {
    t.rmsprop_step(len, w + i0, g + i0, v + i0, m ? m + i0 : nullptr, a ? a + i0 : nullptr, p);
  });
}

}  // namespace foveal
