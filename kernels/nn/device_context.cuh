// DeviceContext: what the layers' device forms share while CudaModel runs them:
// the cuBLAS handle, and the host staging through which gradients reach the host
// model's grad tensors.
#pragma once

#include <cublas_v2.h>

#include <cstddef>
#include <vector>

#include "nmode/tensor.hpp"

namespace nmode {

struct DeviceContext {
  // Creates the cuBLAS handle, in plain fp32 (no TF32 tensor-op rounding): results
  // stay comparable with the CPU's.
  DeviceContext();
  ~DeviceContext();  // never throws
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  // Adds `count` floats of device memory into a host tensor, after the work queued before.
  void add_to_host(const float* device, Tensor& target, size_t count);

  cublasHandle_t handle = nullptr;
  std::vector<float> staging;
};

}  // namespace nmode
