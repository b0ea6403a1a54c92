// Dropout driver: the kernel over chunks of the array in parallel; each element's draw depends
// only on the key and its index.
#include <cmath>

#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"

namespace foveal {
namespace {
constexpr size_t kChunk = 1 << 15;  // elements per task
}  // namespace

void dropout_f32(size_t n, const float* x, float* y, float* mask, uint64_t key, float keep) {
  const KernelTable& t = kernels();
  const int32_t threshold = static_cast<int32_t>(std::llround(static_cast<double>(keep) * 16777216.0));
  const float scale = 1.0f / keep;
  parallel_for_chunks(n, kChunk, [&](size_t i0, size_t len) {
    // Chunks never straddle a multiple of 2^32, so the index's high word goes into the key.
    const uint32_t hi = static_cast<uint32_t>(static_cast<uint64_t>(i0) >> 32);
    const DropoutParams p{static_cast<uint32_t>(key) + hi * 0x632BE5ABu,
                          static_cast<uint32_t>(key >> 32), static_cast<uint32_t>(i0), threshold, scale};
    t.dropout(len, x + i0, y + i0, mask + i0, p);
  });
}

}  // namespace foveal
