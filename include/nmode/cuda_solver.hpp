// The CUDA backend of the solver (float). Host functions only: the kernels live in
// kernels/solver/cuda_solver.cu. Calling these in a build without CUDA throws nmode::Error.
#pragma once

#include <cstdint>

#include "nmode/ode.hpp"

namespace nmode {

// Device pointers in and out; d_y0 may be null (y0 = 0). `stream` is a
// cudaStream_t (nullptr: the default stream). Synchronises on the stream to
// return the statistics.
SolveStats solve_cuda(const SolverOptions& options, int64_t n, const float* d_gamma, const float* d_y0,
                      const SolveOutputs<float>& d_out, void* stream = nullptr);

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
  SolveStats stats;  // of the last run
};
// Outputs y, and dy/dgamma and dy/dlambda when `sensitivities`, are discarded.
// Throws InvalidArgument for repeat < 1 and as solve_cuda does.
CudaSolveTiming time_solve_cuda(const SolverOptions& options, int64_t n, const float* gamma, bool sensitivities,
                                int repeat);

}  // namespace nmode
