// CUDA backend of the solver: one thread per element in a grid-stride loop, each
// running the same per-element driver as the CPU (include/nmode/detail/), with
// per-element statistics in 32-bit registers, reduced per warp and then with one
// atomic per statistic and block.
//
// Variants considered: thread-per-element (shipped, "kernel1"): elements are
// independent and need ~4 steps, so a warp-cooperative scheme has nothing to share.
#include <cuda_runtime.h>

#include <cstdio>
#include <limits>

#include "cuda_check.cuh"
#include "core/numbers.hpp"
#include "nmode/cuda_solver.hpp"
#include "nmode/detail/element_outputs.hpp"
#include "nmode/detail/element_solver.hpp"
#include "nmode/device_buffer.hpp"
#include "solver/ode_common.hpp"

namespace nmode {
namespace {

using detail::kTallySlots;

constexpr int kThreads = 128;  // per block, a multiple of the warp size
constexpr int kWarps = kThreads / 32;

// A thread's statistics in 32-bit registers, which halves their registers and
// their warp reductions against 64-bit slots. A sum slot is flushed to the
// global 64-bit slot once it reaches 2^26 (one element adds at most
// kMaxStepsLimit = 2^24 attempts), so a warp's 32 partial sums stay below 2^31
// and its reduction cannot overflow; for the model's solves the flush never runs.
constexpr unsigned kFlushAt = 1u << 26;

struct ThreadTally {
  unsigned slot[kTallySlots] = {};

  __device__ void count(int s, unsigned v, unsigned long long* global) {
    slot[s] += v;
    if (slot[s] >= kFlushAt) {
      atomicAdd(&global[s], static_cast<unsigned long long>(slot[s]));
      slot[s] = 0;
    }
  }
  __device__ void add(unsigned accepted, unsigned rejected, int status, unsigned long long* global) {
    count(detail::kElementsSlot, 1u, global);
    count(detail::kAcceptedSlot, accepted, global);
    count(detail::kRejectedSlot, rejected, global);
    slot[detail::kMostAcceptedSlot] = max(slot[detail::kMostAcceptedSlot], accepted);
    slot[detail::kMostAttemptsSlot] = max(slot[detail::kMostAttemptsSlot], accepted + rejected);
    // Compile-time indices: a register array indexed by a run-time value would live
    // in local memory.
#pragma unroll
    for (int k = 0; k < kElementStatuses; ++k)
      count(detail::kFirstStatusSlot + k, status == k ? 1u : 0u, global);
  }
};

template <bool kMax>
__device__ inline unsigned warp_reduce(unsigned v) {
#if __CUDA_ARCH__ >= 800
  return kMax ? __reduce_max_sync(0xffffffffu, v) : __reduce_add_sync(0xffffffffu, v);
#else
  for (int offset = 16; offset > 0; offset /= 2) {
    const unsigned o = __shfl_xor_sync(0xffffffffu, v, offset);
    v = kMax ? max(v, o) : v + o;
  }
  return v;
#endif
}

// The block's tallies into the global slots: warp reductions, then one atomic per
// slot and block. Every thread of the block must call it.
__device__ inline void reduce_block(const ThreadTally& local, unsigned long long* __restrict__ stats) {
  __shared__ unsigned partial[kWarps][kTallySlots];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int s = 0; s < kTallySlots; ++s) {
    const unsigned v = detail::is_max_slot(s) ? warp_reduce<true>(local.slot[s]) : warp_reduce<false>(local.slot[s]);
    if (lane == 0) partial[warp][s] = v;
  }
  __syncthreads();
  if (threadIdx.x < kTallySlots) {
    const int s = threadIdx.x;
    unsigned long long v = 0;
    for (int w = 0; w < kWarps; ++w) {
      const unsigned long long p = partial[w][s];
      v = detail::is_max_slot(s) ? (p > v ? p : v) : v + p;
    }
    if (v != 0) {
      if (detail::is_max_slot(s)) atomicMax(&stats[s], v);
      else atomicAdd(&stats[s], v);
    }
  }
}

// gamma, y0 (nullable): (n); outputs: (n); stats: the slots of a detail::SolveTally,
// zeroed by the caller. Launched with kThreads threads per block.
template <class State>
__global__ void solve_kernel1(detail::ElementParams<float> p, int64_t n, const float* __restrict__ gamma,
                              const float* __restrict__ y0, SolveOutputs<float> out,
                              unsigned long long* __restrict__ stats) {
  ThreadTally local;
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    detail::ElementSolver<float, State> e;
    detail::element_begin(e, gamma[i], y0 ? y0[i] : 0.0f, p);
    while (!e.done) detail::element_attempt(e, p);
    detail::write_element(e, i, out);
    // Counts are whole numbers held in floats, at most kMaxStepsLimit.
    local.add(static_cast<unsigned>(e.accepted), static_cast<unsigned>(e.rejected), static_cast<int>(e.status),
              stats);
  }
  // Every thread of a launched block reaches here, so full-warp reductions and
  // the barrier are safe.
  reduce_block(local, stats);
}

// The statistics slots of one solve, from the stream-ordered pool: cudaMalloc and
// cudaFree per call cost tens of microseconds, and cudaFree waits for the whole
// device, which would serialise solves running on other streams. Devices without
// memory pools get a plain cudaMalloc.
class StatSlots {
 public:
  explicit StatSlots(cudaStream_t stream) : stream_(stream) {
    void* p = nullptr;
    const cudaError_t pooled = cudaMallocAsync(&p, kTallySlots * sizeof(unsigned long long), stream);
    if (pooled == cudaErrorNotSupported) {
      (void)cudaGetLastError();  // so a later cudaGetLastError does not report this one
      pooled_ = false;
      NMODE_CUDA_CHECK(cudaMalloc(&p, kTallySlots * sizeof(unsigned long long)));
    } else {
      NMODE_CUDA_CHECK(pooled);
    }
    data_ = static_cast<unsigned long long*>(p);
  }
  ~StatSlots() {
    const cudaError_t status = pooled_ ? cudaFreeAsync(data_, stream_) : cudaFree(data_);
    if (status != cudaSuccess) std::fprintf(stderr, "nmode: freeing solver statistics failed: %s\n",
                                            cudaGetErrorString(status));
  }
  StatSlots(const StatSlots&) = delete;
  StatSlots& operator=(const StatSlots&) = delete;
  unsigned long long* data() { return data_; }

 private:
  cudaStream_t stream_;
  bool pooled_ = true;
  unsigned long long* data_ = nullptr;
};

template <class State>
void launch_solve(const detail::ElementParams<float>& p, int64_t n, const float* gamma, const float* y0,
                  const SolveOutputs<float>& out, unsigned long long* stats, cudaStream_t stream) {
  int device = 0, sms = 1;
  NMODE_CUDA_CHECK(cudaGetDevice(&device));
  NMODE_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  // Enough blocks to fill the GPU a few times over; the grid-stride loop covers the rest.
  const int64_t wanted = ceil_div(n, kThreads);
  const int blocks = static_cast<int>(wanted < int64_t(sms) * 32 ? wanted : int64_t(sms) * 32);
  solve_kernel1<State><<<blocks, kThreads, 0, stream>>>(p, n, gamma, y0, out, stats);
  NMODE_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

SolveStats solve_cuda(const SolverOptions& options, int64_t n, const float* d_gamma, const float* d_y0,
                      const SolveOutputs<float>& d_out, void* stream_ptr) {
  check_solve_arguments(options, n, d_gamma, d_out);
  SolveStats stats;
  if (n == 0) return stats;
  cudaStream_t stream = static_cast<cudaStream_t>(stream_ptr);
  StatSlots d_stats(stream);
  NMODE_CUDA_CHECK(cudaMemsetAsync(d_stats.data(), 0, kTallySlots * sizeof(unsigned long long), stream));
  const detail::ElementParams<float> p = element_params<float>(options);
  if (d_out.dy_dy0)
    launch_solve<detail::SensY0State<float>>(p, n, d_gamma, d_y0, d_out, d_stats.data(), stream);
  else if (d_out.wants_sensitivities())
    launch_solve<detail::SensState<float>>(p, n, d_gamma, d_y0, d_out, d_stats.data(), stream);
  else
    launch_solve<detail::ValueState<float>>(p, n, d_gamma, d_y0, d_out, d_stats.data(), stream);
  detail::SolveTally host;
  NMODE_CUDA_CHECK(cudaMemcpyAsync(host.slot, d_stats.data(), sizeof(host.slot), cudaMemcpyDeviceToHost, stream));
  NMODE_CUDA_CHECK(cudaStreamSynchronize(stream));
  return stats_of(host);
}

SolveStats solve_cuda_from_host(const SolverOptions& options, int64_t n, const float* gamma, const float* y0,
                                const SolveOutputs<float>& out) {
  check_solve_arguments(options, n, gamma, out);
  if (n == 0) return SolveStats{};
  const size_t count = static_cast<size_t>(n);
  DeviceBuffer<float> d_gamma(count), d_y0(y0 ? count : 0), d_y(count);
  DeviceBuffer<float> d_s(out.dy_dgamma ? count : 0), d_q(out.dy_dlambda ? count : 0), d_r(out.dy_dy0 ? count : 0);
  DeviceBuffer<ElementStatus> d_status(out.status ? count : 0);
  DeviceBuffer<int32_t> d_steps(out.accepted_steps ? count : 0);
  d_gamma.copy_from_host(gamma, count);
  if (y0) d_y0.copy_from_host(y0, count);
  SolveOutputs<float> d_out;
  d_out.y = d_y.data();
  d_out.dy_dgamma = out.dy_dgamma ? d_s.data() : nullptr;
  d_out.dy_dlambda = out.dy_dlambda ? d_q.data() : nullptr;
  d_out.dy_dy0 = out.dy_dy0 ? d_r.data() : nullptr;
  d_out.status = out.status ? d_status.data() : nullptr;
  d_out.accepted_steps = out.accepted_steps ? d_steps.data() : nullptr;
  const SolveStats stats = solve_cuda(options, n, d_gamma.data(), y0 ? d_y0.data() : nullptr, d_out, nullptr);
  d_y.copy_to_host(out.y, count);
  if (out.dy_dgamma) d_s.copy_to_host(out.dy_dgamma, count);
  if (out.dy_dlambda) d_q.copy_to_host(out.dy_dlambda, count);
  if (out.dy_dy0) d_r.copy_to_host(out.dy_dy0, count);
  if (out.status) d_status.copy_to_host(out.status, count);
  if (out.accepted_steps) d_steps.copy_to_host(out.accepted_steps, count);
  return stats;
}

}  // namespace nmode
