// NMODE_CUDA_CHECK / NMODE_CUBLAS_CHECK: throw nmode::CudaError with file:line,
// the call and the runtime's (or cuBLAS's) message when a call fails. Kernel-side
// code never throws.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "nmode/error.hpp"

namespace nmode::detail {
[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw CudaError(std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: " +
                  cudaGetErrorString(status));
}
[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw CudaError(std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: cuBLAS status " +
                  std::to_string(static_cast<int>(status)) + " (" + cublasGetStatusString(status) + ")");
}
}  // namespace nmode::detail

#define NMODE_CUDA_CHECK(call)                                                            \
  do {                                                                                    \
    const cudaError_t nmode_status_ = (call);                                             \
    if (nmode_status_ != cudaSuccess)                                                     \
      ::nmode::detail::throw_cuda_error(nmode_status_, #call, __FILE__, __LINE__);        \
  } while (0)

#define NMODE_CUBLAS_CHECK(call)                                                          \
  do {                                                                                    \
    const cublasStatus_t nmode_status_ = (call);                                          \
    if (nmode_status_ != CUBLAS_STATUS_SUCCESS)                                           \
      ::nmode::detail::throw_cublas_error(nmode_status_, #call, __FILE__, __LINE__);      \
  } while (0)
