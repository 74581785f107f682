// The CUDA device queries of nmode/device.hpp (the device names and the auto/cpu/cuda
// choice are in src/core/device.cpp, and so are these queries in a build without
// CUDA).
#include <string>

#include <cuda_runtime.h>

#include "nmode/device.hpp"

namespace nmode {

bool cuda_compiled() { return true; }

bool cuda_available(std::string* reason) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    // Any failure here (no driver, driver too old, no device) means "no GPU".
    if (reason) *reason = cudaGetErrorString(status);
    cudaGetLastError();  // clear the sticky error state
    return false;
  }
  if (count == 0) {
    if (reason) *reason = "no CUDA device found";
    return false;
  }
  return true;
}

std::string cuda_device_name() {
  if (!cuda_available()) return "";
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return "";
  return prop.name;
}

}  // namespace nmode
