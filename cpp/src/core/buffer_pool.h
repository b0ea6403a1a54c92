// A cache of large output buffers. The arrays the operators return are freed and allocated again
// at the same sizes every training step; fresh memory from the OS costs a page fault and a zeroed
// page per 4 KiB (about a third of a small CNN's training step), reused memory costs nothing.
// Buffers of at least kPoolMinBytes go through the cache; at most FOVEAL_BUFFER_CACHE_MB
// (default 1024) MiB stay cached, beyond that freed buffers go back to the system.
#pragma once

#include <cstddef>

namespace foveal {

constexpr size_t kPoolMinBytes = size_t{1} << 18;

// 64-byte aligned; throws std::bad_alloc.
void* pool_alloc(size_t bytes);
// Returns a buffer from pool_alloc to the cache (or to the system when the cache is full).
void pool_free(void* p);
// Bytes held in the cache now (not in use), and the cap.
size_t pool_cached_bytes();
size_t pool_capacity_bytes();
// Frees every cached buffer.
void pool_release();

}  // namespace foveal
