#include "nn/device_context.cuh"

#include <cstdio>

#include "cuda_check.cuh"

namespace nmode {

DeviceContext::DeviceContext() {
  NMODE_CUBLAS_CHECK(cublasCreate(&handle));
  const cublasStatus_t status = cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH);
  if (status != CUBLAS_STATUS_SUCCESS) {
    cublasDestroy(handle);
    detail::throw_cublas_error(status, "cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH)", __FILE__, __LINE__);
  }
}

DeviceContext::~DeviceContext() {
  const cublasStatus_t status = cublasDestroy(handle);
  if (status != CUBLAS_STATUS_SUCCESS)
    std::fprintf(stderr, "nmode: cublasDestroy failed: %s\n", cublasGetStatusString(status));
}

void DeviceContext::add_to_host(const float* device, Tensor& target, size_t count) {
  staging.resize(count);
  NMODE_CUDA_CHECK(cudaMemcpy(staging.data(), device, count * sizeof(float), cudaMemcpyDeviceToHost));
  float* t = target.data();
  for (size_t i = 0; i < count; ++i) t[i] += staging[i];
}

}  // namespace nmode
