// Block-wide sum and maximum over a block of grid_stride::kThreads threads, shared
// by the model's and the attacks' kernels. The tree is fixed, so a run repeats bit
// for bit; every thread of the block must call it (it holds barriers).
#pragma once

#include <cuda_runtime.h>

#include "core/grid_stride.cuh"

namespace nmode::block_reduce {

// The block's sum (or maximum) of `value`, returned to every thread. `shared`
// holds kThreads doubles.
template <bool kMax>
__device__ inline double reduce(double value, double* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int half = grid_stride::kThreads / 2; half > 0; half /= 2) {
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

__device__ inline double sum(double value, double* shared) { return reduce<false>(value, shared); }
__device__ inline double max(double value, double* shared) { return reduce<true>(value, shared); }

}  // namespace nmode::block_reduce
