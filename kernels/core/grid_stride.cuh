// Launch shapes for grid-stride kernels: blocks of kThreads threads, at most
// kMaxBlocks of them (the loop covers the rest), and a checked launch that does
// nothing for no work.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "cuda_check.cuh"
#include "core/numbers.hpp"

namespace nmode::grid_stride {

constexpr int kThreads = 256;  // a power of two: the block reductions halve it
constexpr int64_t kMaxBlocks = 4096;

inline int blocks_for(int64_t count, int64_t max_blocks = kMaxBlocks) {
  return static_cast<int>(std::min(ceil_div(count, int64_t(kThreads)), max_blocks));
}

// Runs kernel(args...) over `work` items, which the kernel's grid-stride loop covers.
template <class... Params, class... Args>
void launch(int64_t work, void (*kernel)(Params...), Args... args) {
  if (work == 0) return;
  kernel<<<blocks_for(work), kThreads>>>(args...);
  NMODE_CUDA_CHECK(cudaGetLastError());
}

}  // namespace nmode::grid_stride
