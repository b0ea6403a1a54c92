#include "core/buffer_pool.h"

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

namespace foveal {
namespace {

constexpr size_t kHeader = 64;              // keeps the block size; the data stays 64-byte aligned
constexpr size_t kGranule = size_t{1} << 16;  // sizes are rounded up to 64 KiB classes

size_t capacity_from_env() {
  const char* env = std::getenv("FOVEAL_BUFFER_CACHE_MB");
  if (env != nullptr && *env != '\0') {
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(env, &end, 10);
    if (end != nullptr && *end == '\0') return static_cast<size_t>(mb) << 20;
  }
  return size_t{1024} << 20;
}

struct Pool {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // by block size
  size_t cached = 0;
  const size_t capacity = capacity_from_env();
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: arrays may be freed during interpreter exit
  return *p;
}

}  // namespace

void* pool_alloc(size_t bytes) {
  const size_t block = (bytes + kHeader + kGranule - 1) / kGranule * kGranule;
  Pool& p = pool();
  void* raw = nullptr;
  {
    std::lock_guard<std::mutex> lock(p.mu);
    auto it = p.free_blocks.find(block);
    if (it != p.free_blocks.end() && !it->second.empty()) {
      raw = it->second.back();
      it->second.pop_back();
      p.cached -= block;
    }
  }
  if (raw == nullptr) {
    raw = std::aligned_alloc(64, block);
    if (raw == nullptr) throw std::bad_alloc();
    *static_cast<size_t*>(raw) = block;
  }
  return static_cast<char*>(raw) + kHeader;
}

void pool_free(void* ptr) {
  if (ptr == nullptr) return;
  void* raw = static_cast<char*>(ptr) - kHeader;
  const size_t block = *static_cast<size_t*>(raw);
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    if (p.cached + block <= p.capacity) {
      p.free_blocks[block].push_back(raw);
      p.cached += block;
      return;
    }
  }
  std::free(raw);
}

size_t pool_cached_bytes() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return p.cached;
}

size_t pool_capacity_bytes() { return pool().capacity; }

void pool_release() {
  std::vector<void*> blocks;
  {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    for (auto& kv : p.free_blocks) blocks.insert(blocks.end(), kv.second.begin(), kv.second.end());
    p.free_blocks.clear();
    p.cached = 0;
  }
  for (void* b : blocks) std::free(b);
}

}  // namespace foveal
