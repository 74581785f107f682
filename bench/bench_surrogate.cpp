// The nmODE surrogate layer (NmOdeSurrogate: closed-form steady state or frozen
// forcing) against the layer it stands in for (NmOde: the adaptive DP5(4) solver),
// both as surrogate-pgd and pgd call them: a training forward (keeping dy/dγ) then
// backward, on 256·2048 elements of γ ~ N(0, 2²), λ = 3, rtol = atol = 1e-3. Timed
// alternately in each iteration, so both see the same machine state; ratio =
// surrogate time / solver time. Per SIMD target (or the one NMODE_SIMD names).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>


#include "bench_context.hpp"
#include "nmode/layers.hpp"
#include "nmode/random.hpp"
#include "nmode/simd.hpp"
#include "nmode/surrogate.hpp"
#include "nmode/tensor.hpp"

namespace {

constexpr int64_t kRows = 256, kFeatures = 2048;

// A training forward and the input-gradient backward, in seconds.
double time_layer(nmode::Layer& layer, const nmode::Tensor& x, nmode::Tensor& y, const nmode::Tensor& dy,
                  nmode::Tensor& dx) {
  const auto t0 = std::chrono::steady_clock::now();
  layer.forward(x, y, true);
  layer.backward(dy, dx, true, false);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  benchmark::DoNotOptimize(y.data());
  benchmark::DoNotOptimize(dx.data());
  return seconds;
}

// Args: t_end * 100, threads, SIMD target.
void BM_SurrogateVsSolver(benchmark::State& state) {
  const double lambda = 3.0, t_end = double(state.range(0)) / 100.0;
  const int threads = int(state.range(1));
  const nmode::SimdTarget target = static_cast<nmode::SimdTarget>(state.range(2));
  nmode::set_simd_target(target);
  nmode::bench::set_threads(threads);
  nmode::Tensor x({kRows, kFeatures}), dy({kRows, kFeatures}), y, dx;
  nmode::SplitMix64 rng(42);
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(2.0 * rng.next_normal());
  for (int64_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(rng.next_normal());
  nmode::NmOde solver(kFeatures, lambda, t_end, 1e-3, 1e-3);
  nmode::NmOdeSurrogate surrogate(kFeatures, lambda, t_end);
  time_layer(solver, x, y, dy, dx);  // warm-up: buffers sized, pages touched
  time_layer(surrogate, x, y, dy, dx);
  double solver_total = 0, surrogate_total = 0;
  for (auto _ : state) {
    solver_total += time_layer(solver, x, y, dy, dx);
    surrogate_total += time_layer(surrogate, x, y, dy, dx);
  }
  const double n = double(x.size()) * double(state.iterations());
  state.counters["solver_elements_per_s"] = n / solver_total;
  state.counters["surrogate_elements_per_s"] = n / surrogate_total;
  state.counters["ratio"] = surrogate_total / solver_total;
  state.counters["solver_steps"] = solver.last_stats().mean_accepted();
  state.SetLabel(std::string(nmode::to_string(target)) + " " + nmode::to_string(surrogate.regime()) +
                 " threads=" + std::to_string(threads));
}

// t̄ = 1 (the reference model: steady state, λt̄ = 3) and t̄ = 0.2 (frozen forcing).
void sweep(benchmark::internal::Benchmark* b) {
  for (nmode::SimdTarget target : nmode::bench::measured_targets())
    for (int64_t t : {100, 20})
      for (int64_t threads : {1, 2}) b->Args({t, threads, int64_t(target)});
}

}  // namespace

BENCHMARK(BM_SurrogateVsSolver)->Apply(sweep)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
  if (!nmode::bench::add_simd_context("bench_surrogate")) return 2;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
