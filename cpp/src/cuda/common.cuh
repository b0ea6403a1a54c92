// Shared pieces of the CUDA kernels (foveal._cuda): the host/device qualifier, the launch helper
// that runs a per-element body either as a CUDA grid or, for the tests on machines without a GPU,
// as a plain loop on the host (the same body, compiled twice), and error checks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#ifdef __CUDACC__
#define FOVEAL_HD __host__ __device__ inline
#else
#define FOVEAL_HD inline
#endif

namespace foveal::cuda {

// Where a launcher runs its kernel: on the current GPU (pointers are device memory) or on the host
// (pointers are host memory: the kernel bodies checked against the CPU kernels without a GPU).
enum class Where : int { device = 0, host = 1 };

// Throws std::runtime_error naming the CUDA error and what was being done.
inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorName(e) + " (" +
                             cudaGetErrorString(e) + ")");
}

// n values of T: stream-ordered device memory on the legacy default stream (freed after the work
// queued before it), or host memory for Where::host.
template <class T>
class Scratch {
 public:
  Scratch(Where w, size_t n) : where_(w) {
    if (w == Where::host) {
      host_.resize(n);
      p_ = host_.data();
    } else {
      check(cudaMallocAsync(reinterpret_cast<void**>(&p_), (n > 0 ? n : 1) * sizeof(T), 0), "scratch memory");
    }
  }
  ~Scratch() {
    if (where_ == Where::device && p_ != nullptr) cudaFreeAsync(p_, 0);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* get() const { return p_; }
  // Copies n host values in (a table made on the host). On the device the call returns once the
  // values are staged, so `values` may go right after.
  void upload(const T* values, size_t n) {
    if (n == 0) return;
    if (where_ == Where::host) {
      for (size_t i = 0; i < n; ++i) p_[i] = values[i];
    } else {
      check(cudaMemcpyAsync(p_, values, n * sizeof(T), cudaMemcpyHostToDevice, 0), "table upload");
    }
  }

 private:
  Where where_;
  T* p_ = nullptr;
  std::vector<T> host_;
};

constexpr unsigned kThreads = 256;

inline unsigned blocks_for(size_t n) {
  const size_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 0x7fffffff ? 0x7fffffff : b));
}

#ifdef __CUDACC__
// One thread per element (grid-stride, so any n fits the grid).
template <class Body>
__global__ void for_each_kernel(size_t n, Body body) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    body(i);
}

// body(i) for i in [0, n): a grid on the device, a loop on the host.
template <class Body>
void for_each(Where where, size_t n, const Body& body, const char* what) {
  if (n == 0) return;
  if (where == Where::host) {
    for (size_t i = 0; i < n; ++i) body(i);
    return;
  }
  for_each_kernel<<<blocks_for(n), kThreads>>>(n, body);
  check(cudaGetLastError(), what);
}
#endif

}  // namespace foveal::cuda
