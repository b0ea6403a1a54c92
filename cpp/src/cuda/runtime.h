// Device discovery, device memory and copies for foveal._cuda (runtime.cu).
#pragma once

#include <cstddef>
#include <string>

#include "cuda/common.cuh"

namespace foveal::cuda {

struct DeviceStatus {
  int devices = 0;          // GPUs that answer (0 where none, or no driver)
  int runtime_version = 0;  // e.g. 13000
  int driver_version = 0;   // 0: no driver
  int capability = 0;       // device 0's, e.g. 90
  std::string name;         // device 0's
  std::string error;        // why no GPU answers, when cudaGetDeviceCount failed
};
DeviceStatus device_status();

// Owns nbytes of device memory (cudaMalloc), freed with it.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t nbytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* ptr() const { return ptr_; }
  size_t nbytes() const { return nbytes_; }

 private:
  void* ptr_ = nullptr;
  size_t nbytes_;
};

// Blocking copies (they wait for the work queued before them on the legacy default stream).
void copy_to_device(void* dst, const void* src, size_t nbytes);
void copy_to_host(void* dst, const void* src, size_t nbytes);
void copy_on_device(void* dst, const void* src, size_t nbytes);
void synchronize();

}  // namespace foveal::cuda
