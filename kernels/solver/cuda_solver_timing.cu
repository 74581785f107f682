// bench-solver's GPU timing (nmode/cuda_solver.hpp): the solver on data that
// stays on the device, timed with CUDA events, apart from the end-to-end call
// that also allocates and copies, so the report separates the solver from PCIe.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "cuda_check.cuh"
#include "nmode/cuda_solver.hpp"
#include "nmode/device_buffer.hpp"
#include "nmode/error.hpp"

namespace nmode {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct EventPair {
  cudaEvent_t start = nullptr, stop = nullptr;
  EventPair() {
    NMODE_CUDA_CHECK(cudaEventCreate(&start));
    NMODE_CUDA_CHECK(cudaEventCreate(&stop));
  }
  ~EventPair() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;
};

}  // namespace

CudaSolveTiming time_solve_cuda(const SolverOptions& options, int64_t n, const float* gamma, bool sensitivities,
                                int repeat, CudaOrder order) {
  if (repeat < 1) throw InvalidArgument("time_solve_cuda: repeat must be >= 1, got " + std::to_string(repeat));
  const size_t count = static_cast<size_t>(n > 0 ? n : 0);
  CudaSolveTiming timing;
  {
    DeviceBuffer<float> d_gamma(count), d_y(count), d_s(sensitivities ? count : 0), d_q(sensitivities ? count : 0);
    d_gamma.copy_from_host(gamma, count);
    SolveOutputs<float> d_out;
    d_out.y = d_y.data();
    if (sensitivities) {
      d_out.dy_dgamma = d_s.data();
      d_out.dy_dlambda = d_q.data();
    }
    CudaSolveOptions gpu;
    gpu.order = order;
    timing.stats = solve_cuda(options, n, d_gamma.data(), nullptr, d_out, gpu);  // warm-up: module load, memory pool
    EventPair events;
    std::vector<double> seconds;
    for (int r = 0; r < repeat; ++r) {
      NMODE_CUDA_CHECK(cudaEventRecord(events.start));
      timing.stats = solve_cuda(options, n, d_gamma.data(), nullptr, d_out, gpu);
      NMODE_CUDA_CHECK(cudaEventRecord(events.stop));
      NMODE_CUDA_CHECK(cudaEventSynchronize(events.stop));
      float ms = 0.0f;
      NMODE_CUDA_CHECK(cudaEventElapsedTime(&ms, events.start, events.stop));
      seconds.push_back(1e-3 * double(ms));
    }
    timing.kernel_seconds = median(seconds);
  }  // the device buffers go before the end-to-end runs allocate their own
  std::vector<float> y(count), s(sensitivities ? count : 0), q(sensitivities ? count : 0);
  SolveOutputs<float> out;
  out.y = y.data();
  if (sensitivities) {
    out.dy_dgamma = s.data();
    out.dy_dlambda = q.data();
  }
  std::vector<double> seconds;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    solve_cuda_from_host(options, n, gamma, nullptr, out);  // in the default order; stats are the timed runs'
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  timing.end_to_end_seconds = median(seconds);
  return timing;
}

}  // namespace nmode
