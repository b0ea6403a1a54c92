// Inverted dropout with the CPU's counter-based draw (kernels/nn/dropout): element i is kept when
// a keyed hash of (key, i) falls below keep * 2^24, so the GPU, the host run and the CPU draw the
// same mask for the same key; the backward recomputes it instead of reading a stored mask.
#include <cmath>

#include "cuda/launch.h"

namespace foveal::cuda {
namespace {

// Two rounds of the murmur3 finalizer over the index's low word, keyed before each round (the
// CPU's dropout_hash); the index's high word goes into the first key, as the CPU driver does.
FOVEAL_HD uint32_t dropout_hash(uint64_t index, uint64_t key) {
  const uint32_t hi = static_cast<uint32_t>(index >> 32);
  const uint32_t key0 = static_cast<uint32_t>(key) + hi * 0x632BE5ABu, key1 = static_cast<uint32_t>(key >> 32);
  uint32_t x = static_cast<uint32_t>(index) * 0x9E3779B1u + key0;
  x = (x ^ (x >> 16)) * 0x85EBCA6Bu;
  x = (x ^ (x >> 13)) * 0xC2B2AE35u;
  x = (x ^ (x >> 16)) ^ key1;
  x = (x ^ (x >> 16)) * 0x7FEB352Du;
  x = (x ^ (x >> 15)) * 0x846CA68Bu;
  return x ^ (x >> 16);
}

// y = x * mask (mask = scale where kept, else 0); mask nullptr: not written (the backward, x = dy).
struct Dropout {
  uint64_t key, first;
  int32_t threshold;
  float scale;
  const float* x;
  float* y;
  float* mask;
  FOVEAL_HD void operator()(size_t i) const {
    const uint32_t h = dropout_hash(first + i, key);
    const float m = static_cast<int32_t>(h >> 8) < threshold ? scale : 0.0f;
    if (mask != nullptr) mask[i] = m;
    y[i] = x[i] * m;
  }
};

Dropout make(uint64_t key, float keep, uint64_t first, const float* x, float* y, float* mask) {
  // keep * 2^24 rounded (the CPU driver's threshold) and the float scale 1/keep.
  const int32_t threshold = static_cast<int32_t>(std::llround(static_cast<double>(keep) * 16777216.0));
  return Dropout{key, first, threshold, 1.0f / keep, x, y, mask};
}

}  // namespace

void dropout_f32(Where w, size_t n, const float* x, float* y, float* mask, uint64_t key, float keep,
                 uint64_t first) {
  for_each(w, n, make(key, keep, first, x, y, mask), "dropout");
}

void dropout_backward_f32(Where w, size_t n, const float* dy, float* dx, uint64_t key, float keep,
                          uint64_t first) {
  for_each(w, n, make(key, keep, first, dy, dx, nullptr), "dropout_backward");
}

}  // namespace foveal::cuda
