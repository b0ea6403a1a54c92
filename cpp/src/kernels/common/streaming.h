// When an operator writes its output with streaming (non-temporal) stores.
#pragma once

#include <cstddef>

namespace foveal {

// The last-level cache one core complex shares (8 MiB on the AMD EPYCs measured; more on newer
// parts, where the rule below streams a little early).
constexpr size_t kLastLevelCacheBytes = size_t{8} << 20;

// An output larger than the last-level cache, or streaming past with an input that together
// are twice its size, leaves the cache before anything reads it again: written with streaming
// stores, its lines are not read in first (a third of the traffic of a copy-like pass).
inline bool stream_output(size_t in_bytes, size_t out_bytes) {
  return out_bytes > kLastLevelCacheBytes || in_bytes + out_bytes > 2 * kLastLevelCacheBytes;
}

}  // namespace foveal
