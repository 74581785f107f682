// Launch shapes and block reductions for the attacks' kernels: work spread over
// a grid-stride loop, or one block per listed row where a row needs a sum or a
// maximum.
#pragma once

#include <cuda_runtime.h>

#include <climits>
#include <string>

#include "core/block_reduce.cuh"
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

// The attacks' per-row sums and maxima (see core/block_reduce.cuh).
__device__ inline double block_sum(double value, double* shared) { return block_reduce::sum(value, shared); }
__device__ inline double block_max(double value, double* shared) { return block_reduce::max(value, shared); }

}  // namespace nmode::cuda_attack_kernels
