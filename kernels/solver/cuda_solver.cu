// CUDA backend of the solver: one thread per element, each running the same
// per-element driver as the CPU (include/nmode/detail/), with per-element
// statistics in 32-bit registers, reduced per warp and then with one atomic per
// statistic and block. By default each block sorts tiles of elements by gamma mod
// pi before its threads take them (CudaOrder::Grouped), as the CPU sorts its work
// items: a warp runs until its slowest lane is done.
//
// Variants considered: thread-per-element (shipped): elements are independent and
// need ~4 to 15 steps, so a warp-cooperative scheme has nothing to share.
#include <cuda_runtime.h>

#include <cstdio>
#include <limits>
#include <string>

#include "cuda_check.cuh"
#include "core/numbers.hpp"
#include "nmode/cuda_solver.hpp"
#include "nmode/detail/element_outputs.hpp"
#include "nmode/detail/element_solver.hpp"
#include "nmode/detail/gamma_group.hpp"
#include "nmode/device_buffer.hpp"
#include "nmode/error.hpp"
#include "solver/ode_common.hpp"

namespace nmode {
namespace {

using detail::kTallySlots;

constexpr int kThreads = 128;  // per block, a multiple of the warp size
constexpr int kWarps = kThreads / 32;

// Grouped order: tiles of kTile elements, kTilePerThread per thread. 512 keeps
// about 1000 blocks in flight for the reference batch (256 * 2048 elements), enough
// to fill a Hopper GPU, while a warp's 32 lanes come from 1/16 of the range of
// gamma mod pi. (Not yet measured against other sizes on a GPU.)
constexpr int kTilePerThread = 4;
constexpr int kTile = kThreads * kTilePerThread;
static_assert(kTile <= 65536, "tile positions are kept as unsigned short");

// Beyond SolveTally's slots: the attempt slots the warps ran, 32 per attempt of a
// warp (SolveStats::lane_slots).
constexpr int kLaneSlotsSlot = kTallySlots;
constexpr int kStatSlots = kTallySlots + 1;

// A thread's statistics in 32-bit registers, which halves their registers and
// their warp reductions against 64-bit slots. A sum slot is flushed to the
// global 64-bit slot once it reaches 2^26 (one element adds at most
// kMaxStepsLimit = 2^24 attempts, a warp's lane slots 32 times that, so a slot
// never wraps before its flush), so a warp's 32 partial sums stay below 2^31 and
// its reduction cannot overflow; for the model's solves the flush never runs.
constexpr unsigned kFlushAt = 1u << 26;

struct ThreadTally {
  unsigned slot[kStatSlots] = {};

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
  __shared__ unsigned partial[kWarps][kStatSlots];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int s = 0; s < kStatSlots; ++s) {
    const unsigned v = detail::is_max_slot(s) ? warp_reduce<true>(local.slot[s]) : warp_reduce<false>(local.slot[s]);
    if (lane == 0) partial[warp][s] = v;
  }
  __syncthreads();
  if (threadIdx.x < kStatSlots) {
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

// What a thread reads for element i: gamma, with the Linear layer's bias added
// when it is fused (CudaSolveOptions::bias), and y0 (0 when null).
struct ElementInput {
  const float* gamma;
  const float* y0;
  const float* bias;
  int64_t bias_period;

  __device__ float gamma_at(int64_t i) const { return bias ? gamma[i] + bias[i % bias_period] : gamma[i]; }
  __device__ float y0_at(int64_t i) const { return y0 ? y0[i] : 0.0f; }
};

// Element i on this lane when `active`. Every lane of the warp must call it (the
// warp's slowest attempt count is reduced across all 32 lanes).
template <class State>
__device__ inline void solve_lane(const detail::ElementParams<float>& p, const ElementInput& in, bool active,
                                  int64_t i, const SolveOutputs<float>& out, ThreadTally& local,
                                  unsigned long long* stats) {
  unsigned attempts = 0;
  if (active) {
    detail::ElementSolver<float, State> e;
    detail::element_begin(e, in.gamma_at(i), in.y0_at(i), p);
    while (!e.done) detail::element_attempt(e, p);
    detail::write_element(e, i, out);
    // Counts are whole numbers held in floats, at most kMaxStepsLimit.
    const unsigned accepted = static_cast<unsigned>(e.accepted), rejected = static_cast<unsigned>(e.rejected);
    local.add(accepted, rejected, static_cast<int>(e.status), stats);
    attempts = accepted + rejected;
  }
  const unsigned slowest = warp_reduce<true>(attempts);
  if ((threadIdx.x & 31) == 0) local.count(kLaneSlotsSlot, 32u * slowest, stats);
}

// CudaOrder::InOrder: element i on thread i of a grid-stride loop. The loop runs
// whole blocks, so every lane of a warp takes each turn (the last turn's extra
// lanes inactive).
template <class State>
__global__ void solve_in_order_kernel(detail::ElementParams<float> p, int64_t n, ElementInput in,
                                      SolveOutputs<float> out, unsigned long long* __restrict__ stats) {
  ThreadTally local;
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t first = int64_t(blockIdx.x) * blockDim.x; first < n; first += stride) {
    const int64_t i = first + threadIdx.x;
    solve_lane<State>(p, in, i < n, i, out, local, stats);
  }
  reduce_block(local, stats);
}

// CudaOrder::Grouped: the block takes tiles of kTile elements in turn, sorts each
// tile's positions by gamma_group with a counting sort in shared memory, and its
// threads solve the sorted positions so that a warp's lanes hold neighbouring
// groups. The order within a group follows the shared-memory atomics, which is
// harmless: every element's result is its own.
template <class State>
__global__ void solve_grouped_kernel(detail::ElementParams<float> p, int64_t n, ElementInput in,
                                     SolveOutputs<float> out, unsigned long long* __restrict__ stats) {
  static_assert(detail::kGammaGroups == 64, "the scan below gives each lane of one warp two groups");
  __shared__ int start[detail::kGammaGroups + 1];  // counts of group g - 1, then the first position of group g
  __shared__ unsigned short order[kTile];          // tile positions in group order
  ThreadTally local;
  const int64_t tiles = ceil_div(n, kTile);
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t base = tile * kTile;
    const int size = static_cast<int>(n - base < kTile ? n - base : kTile);
    for (int g = threadIdx.x; g <= detail::kGammaGroups; g += kThreads) start[g] = 0;
    __syncthreads();
    int group[kTilePerThread];
#pragma unroll
    for (int j = 0; j < kTilePerThread; ++j) {
      const int k = j * kThreads + threadIdx.x;
      group[j] = k < size ? detail::gamma_group(in.gamma_at(base + k)) : -1;
      if (group[j] >= 0) atomicAdd(&start[group[j] + 1], 1);
    }
    __syncthreads();
    if (threadIdx.x < 32) {  // exclusive scan: start[g] = elements in groups below g
      const int lane = threadIdx.x;
      const int a = start[2 * lane + 1], b = start[2 * lane + 2];
      int scan = a + b;
      for (int offset = 1; offset < 32; offset *= 2) {
        const int o = __shfl_up_sync(0xffffffffu, scan, offset);
        if (lane >= offset) scan += o;
      }
      const int before = scan - (a + b);
      start[2 * lane + 1] = before + a;
      start[2 * lane + 2] = before + a + b;
    }
    __syncthreads();
#pragma unroll
    for (int j = 0; j < kTilePerThread; ++j)
      if (group[j] >= 0)
        order[atomicAdd(&start[group[j]], 1)] = static_cast<unsigned short>(j * kThreads + threadIdx.x);
    __syncthreads();
    for (int j = 0; j < kTilePerThread; ++j) {
      const int at = j * kThreads + threadIdx.x;
      solve_lane<State>(p, in, at < size, at < size ? base + order[at] : 0, out, local, stats);
    }
    __syncthreads();  // the next tile rewrites start and order
  }
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
    const cudaError_t pooled = cudaMallocAsync(&p, kStatSlots * sizeof(unsigned long long), stream);
    if (pooled == cudaErrorNotSupported) {
      (void)cudaGetLastError();  // so a later cudaGetLastError does not report this one
      pooled_ = false;
      NMODE_CUDA_CHECK(cudaMalloc(&p, kStatSlots * sizeof(unsigned long long)));
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
void launch_solve(const detail::ElementParams<float>& p, int64_t n, const ElementInput& in,
                  const SolveOutputs<float>& out, unsigned long long* stats, CudaOrder order, cudaStream_t stream) {
  int device = 0, sms = 1;
  NMODE_CUDA_CHECK(cudaGetDevice(&device));
  NMODE_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  // Enough blocks to fill the GPU a few times over; the loops over turns or tiles cover the rest.
  const int64_t wanted = ceil_div(n, order == CudaOrder::Grouped ? kTile : kThreads);
  const int blocks = static_cast<int>(wanted < int64_t(sms) * 32 ? wanted : int64_t(sms) * 32);
  if (order == CudaOrder::Grouped)
    solve_grouped_kernel<State><<<blocks, kThreads, 0, stream>>>(p, n, in, out, stats);
  else
    solve_in_order_kernel<State><<<blocks, kThreads, 0, stream>>>(p, n, in, out, stats);
  NMODE_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

int cuda_solve_stat_slots() { return kStatSlots; }

SolveStats cuda_solve_stats(const unsigned long long* host_slots) {
  detail::SolveTally tally;
  for (int k = 0; k < kTallySlots; ++k) tally.slot[k] = host_slots[k];
  SolveStats stats = stats_of(tally);
  stats.lane_slots = static_cast<int64_t>(host_slots[kLaneSlotsSlot]);
  return stats;
}

SolveStats solve_cuda(const SolverOptions& options, int64_t n, const float* d_gamma, const float* d_y0,
                      const SolveOutputs<float>& d_out, const CudaSolveOptions& gpu) {
  check_solve_arguments(options, n, d_gamma, d_out);
  if (gpu.bias && gpu.bias_period <= 0)
    throw InvalidArgument("solve_cuda: bias_period must be > 0 with a bias, got " + std::to_string(gpu.bias_period));
  if (n == 0) return SolveStats{};
  cudaStream_t stream = static_cast<cudaStream_t>(gpu.stream);
  const detail::ElementParams<float> p = element_params<float>(options);
  const ElementInput in{d_gamma, d_y0, gpu.bias, gpu.bias_period};
  auto launch = [&](unsigned long long* slots) {
    if (d_out.dy_dy0)
      launch_solve<detail::SensY0State<float>>(p, n, in, d_out, slots, gpu.order, stream);
    else if (d_out.wants_sensitivities())
      launch_solve<detail::SensState<float>>(p, n, in, d_out, slots, gpu.order, stream);
    else
      launch_solve<detail::ValueState<float>>(p, n, in, d_out, slots, gpu.order, stream);
  };
  if (gpu.deferred_stats) {
    launch(gpu.deferred_stats);
    return SolveStats{};
  }
  StatSlots d_stats(stream);
  NMODE_CUDA_CHECK(cudaMemsetAsync(d_stats.data(), 0, kStatSlots * sizeof(unsigned long long), stream));
  launch(d_stats.data());
  unsigned long long host[kStatSlots];
  NMODE_CUDA_CHECK(cudaMemcpyAsync(host, d_stats.data(), sizeof(host), cudaMemcpyDeviceToHost, stream));
  NMODE_CUDA_CHECK(cudaStreamSynchronize(stream));
  return cuda_solve_stats(host);
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
  const SolveStats stats = solve_cuda(options, n, d_gamma.data(), y0 ? d_y0.data() : nullptr, d_out);
  d_y.copy_to_host(out.y, count);
  if (out.dy_dgamma) d_s.copy_to_host(out.dy_dgamma, count);
  if (out.dy_dlambda) d_q.copy_to_host(out.dy_dlambda, count);
  if (out.dy_dy0) d_r.copy_to_host(out.dy_dy0, count);
  if (out.status) d_status.copy_to_host(out.status, count);
  if (out.accepted_steps) d_steps.copy_to_host(out.accepted_steps, count);
  return stats;
}

}  // namespace nmode
