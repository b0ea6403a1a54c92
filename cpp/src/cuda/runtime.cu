// The CUDA runtime as foveal uses it: whether a GPU answers (without crashing or hanging where no
// GPU or no driver is present), device memory, copies.
#include <cstring>
#include <string>

#include "cuda/runtime.h"

namespace foveal::cuda {

DeviceStatus device_status() {
  DeviceStatus s;
  int runtime = 0;
  if (cudaRuntimeGetVersion(&runtime) == cudaSuccess) s.runtime_version = runtime;
  int driver = 0;
  if (cudaDriverGetVersion(&driver) == cudaSuccess) s.driver_version = driver;
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    // cudaErrorNoDevice, cudaErrorInsufficientDriver (no driver at all), ...: no GPU answers.
    s.error = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return s;
  }
  s.devices = count;
  if (count > 0) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
      s.name = prop.name;
      s.capability = prop.major * 10 + prop.minor;
    }
  }
  return s;
}

DeviceBuffer::DeviceBuffer(size_t nbytes) : nbytes_(nbytes) {
  if (nbytes > 0) check(cudaMalloc(&ptr_, nbytes), "cudaMalloc");
}
DeviceBuffer::~DeviceBuffer() {
  if (ptr_ != nullptr) cudaFree(ptr_);
}

void copy_to_device(void* dst, const void* src, size_t nbytes) {
  if (nbytes) check(cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice), "copy to the GPU");
}
void copy_to_host(void* dst, const void* src, size_t nbytes) {
  if (nbytes) check(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost), "copy from the GPU");
}
void copy_on_device(void* dst, const void* src, size_t nbytes) {
  if (nbytes) check(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToDevice), "copy on the GPU");
}
void synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

}  // namespace foveal::cuda
