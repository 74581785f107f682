// Launch shapes and block reductions shared by the attacks' kernels: work
// spread over a grid-stride loop, or one block per listed row where a row
// needs a sum or a maximum. The reductions are a fixed tree, so a run repeats
// bit for bit.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <string>

#include "core/grid_stride.cuh"
#include "cuda_check.cuh"
#include "core/numbers.hpp"
#include "nmode/error.hpp"

namespace nmode::cuda_attack_kernels {

using grid_stride::blocks_for;
using grid_stride::kMaxBlocks;
using grid_stride::kThreads;

// One block per listed row: the grid is the row count.
inline unsigned row_blocks(int64_t count) {
  if (count > INT_MAX) throw InvalidArgument("GPU attack: at most " + std::to_string(INT_MAX) + " rows per batch");
  return static_cast<unsigned>(count);
}

inline void check_launch() { NMODE_CUDA_CHECK(cudaGetLastError()); }

// The block's sum (or maximum) of `value`, returned to every thread.
template <bool kMax>
__device__ inline double block_reduce(double value, double* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) {
      const double other = shared[threadIdx.x + half];
      shared[threadIdx.x] = kMax ? fmax(shared[threadIdx.x], other) : shared[threadIdx.x] + other;
    }
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();  // shared is reused by the caller's next reduction
  return total;
}
__device__ inline double block_sum(double value, double* shared) { return block_reduce<false>(value, shared); }
__device__ inline double block_max(double value, double* shared) { return block_reduce<true>(value, shared); }

}  // namespace nmode::cuda_attack_kernels
