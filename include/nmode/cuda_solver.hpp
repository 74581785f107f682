// The CUDA backend of the solver (float). Host functions only: the kernels live in
// kernels/solver/cuda_solver.cu. Calling these in a build without CUDA throws nmode::Error.
#pragma once

#include <cstdint>

#include "nmode/ode.hpp"

namespace nmode {

// How a GPU solve deals elements to threads.
//  - Grouped (the default): each block takes tiles of elements and sorts each tile by
//    gamma mod pi (detail/gamma_group.hpp, as the CPU orders its work items), so the
//    32 lanes of a warp need about the same number of steps; a warp runs until its
//    slowest lane is done.
//  - InOrder: element i on thread i of a grid-stride loop, for comparison.
// The results are the same bit for bit: each element is solved on its own.
enum class CudaOrder { Grouped, InOrder };

// The choices of a GPU solve beyond the problem itself.
struct CudaSolveOptions {
  void* stream = nullptr;  // a cudaStream_t; nullptr: the default stream
  CudaOrder order = CudaOrder::Grouped;
  // Device pointer, nullable: solves gamma_i + bias[i % bias_period] (one float
  // addition) instead of gamma_i, so the bias of the Linear layer before an nmODE
  // layer is added as the solver reads its input rather than in a pass of its own.
  const float* bias = nullptr;
  int64_t bias_period = 0;  // > 0 when bias is set: the row length
  // Device memory of cuda_solve_stat_slots() values, zeroed by the caller, or null.
  // When set, the solve adds its statistics there and returns without waiting for
  // the GPU, with empty SolveStats; once the caller has copied the slots back (with
  // whatever else it reads), cuda_solve_stats() turns them into SolveStats. A
  // training step then synchronises once, and checks the solver at that point.
  unsigned long long* deferred_stats = nullptr;
};

// The slots a deferred solve fills, and their SolveStats (lane slots included).
int cuda_solve_stat_slots();
SolveStats cuda_solve_stats(const unsigned long long* host_slots);

// Device pointers in and out; d_y0 may be null (y0 = 0). Synchronises on the
// stream to return the statistics (unless they are deferred). Their lane_slots
// count the attempts the warps ran (32 per attempt of a warp), so
// idle_lane_fraction() is the warps' idle share.
SolveStats solve_cuda(const SolverOptions& options, int64_t n, const float* d_gamma, const float* d_y0,
                      const SolveOutputs<float>& d_out, const CudaSolveOptions& gpu = {});

// Host pointers: copies to the device, solves, copies back.
SolveStats solve_cuda_from_host(const SolverOptions& options, int64_t n, const float* gamma, const float* y0,
                                const SolveOutputs<float>& out);

// What `nmode bench-solver --device cuda` reports, each the median of `repeat`
// runs after one warm-up: the solve on device-resident data (buffers allocated
// once; CUDA events around solve_cuda, whose tiny statistics copy is included),
// and the same solve end to end from host arrays (solve_cuda_from_host: device
// allocation and both copies included).
struct CudaSolveTiming {
  double kernel_seconds = 0.0;
  double end_to_end_seconds = 0.0;
  SolveStats stats;  // of the last device-resident run, in the order asked for
};
// `order` applies to the device-resident runs (the end-to-end runs take the
// default). Outputs y, and dy/dgamma and dy/dlambda when `sensitivities`, are discarded.
// Throws InvalidArgument for repeat < 1 and as solve_cuda does.
CudaSolveTiming time_solve_cuda(const SolverOptions& options, int64_t n, const float* gamma, bool sensitivities,
                                int repeat, CudaOrder order = CudaOrder::Grouped);

}  // namespace nmode
