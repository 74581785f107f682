// The CUDA device queries of nmode/device.hpp (the device names and the auto/cpu/cuda
// choice are in src/core/device.cpp, and so are these queries in a build without
// CUDA). A GPU counts as available only once a context exists on it and this
// binary has code for it: a listed device can still be unusable.
#include <string>

#include <cuda_runtime.h>

#include "nmode/device.hpp"

namespace nmode {
namespace {

// Compiled for the same architectures as every other kernel of the library, so
// "no kernel image for this device" here means none of them can run either.
__global__ void availability_probe_kernel() {}

struct Availability {
  bool usable = false;
  std::string reason;  // why not, when not
};

Availability failed(const std::string& what, cudaError_t status) {
  cudaGetLastError();  // clear the error state, so later calls start clean
  return {false, what + ": " + cudaGetErrorString(status)};
}

// The probe: device count, compute mode, a context
// (cudaFree(0) fails for exclusive or prohibited devices and MIG without an
// instance) and the attributes of a kernel of this binary (fails for a compute
// capability below the compiled ones).
Availability probe() {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) return failed("no usable CUDA driver or device", status);
  if (count == 0) return {false, "no CUDA device found"};
  cudaDeviceProp prop{};
  status = cudaGetDeviceProperties(&prop, 0);
  if (status != cudaSuccess) return failed("cannot query CUDA device 0", status);
  const std::string name = std::string(prop.name) + " (compute capability " + std::to_string(prop.major) + "." +
                           std::to_string(prop.minor) + ")";
  int mode = cudaComputeModeDefault;
  if (cudaDeviceGetAttribute(&mode, cudaDevAttrComputeMode, 0) == cudaSuccess && mode == cudaComputeModeProhibited)
    return {false, name + " is in prohibited compute mode"};
  status = cudaFree(nullptr);
  if (status != cudaSuccess) return failed(name + " refuses a context (exclusive mode, or MIG without an instance?)", status);
  cudaFuncAttributes attributes{};
  status = cudaFuncGetAttributes(&attributes, availability_probe_kernel);
  if (status != cudaSuccess)
    return failed(name + " cannot run this build's kernels (built for other architectures: see CMAKE_CUDA_ARCHITECTURES)",
                  status);
  return {true, ""};
}

const Availability& availability() {
  static const Availability result = probe();  // once: creating a context costs
  return result;
}

}  // namespace

bool cuda_compiled() { return true; }

bool cuda_available(std::string* reason) {
  const Availability& a = availability();
  if (!a.usable && reason) *reason = a.reason;
  return a.usable;
}

std::string cuda_device_name() {
  if (!cuda_available()) return "";
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return "";
  return prop.name;
}

}  // namespace nmode
