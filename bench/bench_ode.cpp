// Solver throughput (elements/s) on gamma ~ N(0, 2^2), lambda = 3, next to its
// floor (nmode::rhs_floor: the right-hand side evaluated as many times as the
// solver did, in the same SIMD lanes, the arithmetic no solver can avoid), for
// every SIMD target this CPU supports (or the one NMODE_SIMD names). Each solver
// benchmark reports floor_ratio = solver rate / floor rate, measured in the same
// process, and the share of idle lane slots.
// GPU benchmarks (CUDA events) register only when a GPU is usable.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <type_traits>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>


#include "bench_context.hpp"
#include "nmode/cuda_solver.hpp"
#include "nmode/device.hpp"
#include "nmode/device_buffer.hpp"
#include "nmode/ode.hpp"
#include "nmode/random.hpp"
#include "nmode/simd.hpp"

#if defined(NMODE_HAS_CUDA)
#include <cuda_runtime.h>
#endif

namespace {

using nmode::SolveOutputs;
using nmode::SolverOptions;
using nmode::SolveStats;

template <class T>
std::vector<T> random_gamma(int64_t n) {
  nmode::SplitMix64 rng(42);
  std::vector<T> g(static_cast<size_t>(n));
  for (auto& v : g) v = static_cast<T>(2.0 * rng.next_normal());
  return g;
}

// Times the solver and its floor alternately in each iteration, so both see the
// same machine state; floor_ratio = solver rate / floor rate.
template <class T>
void BM_SolverVsFloor(benchmark::State& state) {
  const int64_t n = state.range(0);
  const double t_end = double(state.range(1)) / 100.0;
  const bool sens = state.range(2) != 0;
  const int threads = int(state.range(3));
  const nmode::SimdTarget target = static_cast<nmode::SimdTarget>(state.range(4));
  nmode::set_simd_target(target);
  nmode::bench::set_threads(threads);
  const std::vector<T> gamma = random_gamma<T>(n);
  std::vector<T> y(gamma.size()), s(sens ? gamma.size() : 0), q(sens ? gamma.size() : 0), sink(gamma.size());
  SolveOutputs<T> out;
  out.y = y.data();
  if (sens) {
    out.dy_dgamma = s.data();
    out.dy_dlambda = q.data();
  }
  SolverOptions o;
  o.t_end = t_end;
  SolveStats stats = nmode::solve_cpu<T>(o, n, gamma.data(), nullptr, out);  // warm-up
  const int evals = int(std::lround(double(stats.rhs_evaluations()) / double(n)));
  double solver_total = 0, floor_total = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    stats = nmode::solve_cpu<T>(o, n, gamma.data(), nullptr, out);
    solver_total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto t1 = std::chrono::steady_clock::now();
    nmode::rhs_floor<T>(n, gamma.data(), evals, sens, sink.data());
    floor_total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(sink.data());
  }
  const double iters = double(state.iterations());
  state.counters["solver_elements_per_s"] = double(n) * iters / solver_total;
  state.counters["floor_elements_per_s"] = double(n) * iters / floor_total;
  state.counters["floor_ratio"] = floor_total / solver_total;  // = solver rate / floor rate
  state.counters["steps"] = stats.mean_accepted();
  state.counters["rhs_per_element"] = evals;
  state.counters["idle_lanes"] = stats.idle_lane_fraction();
  state.SetLabel(std::string(nmode::to_string(target)) + (sizeof(T) == 4 ? " float" : " double") +
                 (sens ? " sens" : " value") + " threads=" + std::to_string(threads));
}

// Args: elements, t_end * 100, sensitivities, threads, SIMD target.
void size_sweep(benchmark::internal::Benchmark* b) {
  for (nmode::SimdTarget target : nmode::bench::measured_targets())
    for (int p = 10; p <= 22; p += 2) b->Args({int64_t(1) << p, 100, 1, 2, int64_t(target)});
}

void config_sweep(benchmark::internal::Benchmark* b) {
  for (nmode::SimdTarget target : nmode::bench::measured_targets())
    for (int64_t t : {5, 100, 500})
      for (int64_t sens : {0, 1})
        for (int64_t threads : {1, 2}) b->Args({256 * 2048, t, sens, threads, int64_t(target)});
}

#if defined(NMODE_HAS_CUDA)
void BM_SolverCuda(benchmark::State& state) {
  const int64_t n = state.range(0);
  const bool sens = state.range(2) != 0;
  SolverOptions o;
  o.t_end = double(state.range(1)) / 100.0;
  const std::vector<float> gamma = random_gamma<float>(n);
  nmode::DeviceBuffer<float> d_gamma(gamma.size()), d_y(gamma.size()), d_s(gamma.size()), d_q(gamma.size());
  d_gamma.copy_from_host(gamma.data(), gamma.size());
  SolveOutputs<float> out;
  out.y = d_y.data();
  if (sens) {
    out.dy_dgamma = d_s.data();
    out.dy_dlambda = d_q.data();
  }
  SolveStats stats = nmode::solve_cuda(o, n, d_gamma.data(), nullptr, out);  // warm-up
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  for (auto _ : state) {
    cudaEventRecord(start);
    stats = nmode::solve_cuda(o, n, d_gamma.data(), nullptr, out);
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(ms / 1e3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["steps"] = stats.mean_accepted();
  state.SetLabel(nmode::cuda_device_name() + (sens ? " sens" : " value"));
}
#endif

}  // namespace

BENCHMARK_TEMPLATE(BM_SolverVsFloor, float)->Apply(size_sweep)->Apply(config_sweep)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_SolverVsFloor, double)->Apply(config_sweep)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
#if defined(NMODE_HAS_CUDA)
  std::string reason;
  if (nmode::cuda_available(&reason)) {
    auto* b = benchmark::RegisterBenchmark("BM_SolverCuda", BM_SolverCuda);
    for (int p = 10; p <= 22; p += 2) b->Args({int64_t(1) << p, 100, 1, 0});
    for (int64_t t : {5, 100, 500})
      for (int64_t sens : {0, 1}) b->Args({256 * 2048, t, sens, 0});
    b->UseManualTime()->Unit(benchmark::kMillisecond);
    benchmark::AddCustomContext("gpu", nmode::cuda_device_name());
  } else {
    benchmark::AddCustomContext("gpu", "none: " + reason);
  }
#endif
  if (!nmode::bench::add_simd_context("bench_ode")) return 2;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
