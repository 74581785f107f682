// Attacks on the reference model 784 -> Linear(2048) -> NmOde(lambda 3, t_end 1)
// -> Linear(10), 256 random images labelled with the model's own predictions:
// PGD-10 and APGD-10 (L∞, CE) and Square with 100 queries. On the CPU
// (BM_AttackCpu, the active SIMD target) and, where a GPU answers, through
// CudaModel: on the device's own attack kernels (BM_AttackCuda) against the
// portable loop over the same CudaModel (BM_AttackCudaPortable, in the same
// run), which sends every step's inputs and gradients through the host. The ratio
// of the two is what keeping a batch on the device saves.
#include <benchmark/benchmark.h>

#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "bench_context.hpp"
#include "nmode/attack.hpp"
#include "nmode/cuda_model.hpp"
#include "nmode/device.hpp"
#include "nmode/model.hpp"
#include "nmode/predict.hpp"

namespace {

constexpr int64_t kExamples = 256;
const char* const kAttackNames[] = {"pgd10", "apgd10", "square100"};

nmode::AttackConfig attack_config(int64_t which) {
  nmode::AttackConfig c;
  c.eps = 0.05;
  c.batch = kExamples;
  c.kind = which == 0 ? nmode::AttackKind::PGD : which == 1 ? nmode::AttackKind::APGD : nmode::AttackKind::Square;
  if (which < 2) c.steps = 10;
  c.n_queries = 100;
  return c;
}

struct AttackBench {
  std::unique_ptr<nmode::Sequential> model = nmode::make_model(nmode::ModelSpec{}, 0);
  nmode::Tensor x;
  std::vector<int32_t> y;

  AttackBench() {
    nmode::bench::random_batch(kExamples, model->input_dim(), 10, 1, x, y);
    y = nmode::predict(*model, x).classes;  // every example starts correct, so every one is attacked
  }

  // Runs the attack state.range(0) names on `target` for every iteration.
  void run(benchmark::State& state, nmode::Classifier& target) {
    const nmode::AttackConfig config = attack_config(state.range(0));
    int64_t queries = 0, fooled = 0;
    for (auto _ : state) {
      const nmode::AttackResult r = nmode::run_attack(target, x.data(), y.data(), kExamples, config);
      queries += std::accumulate(r.queries.begin(), r.queries.end(), int64_t{0});
      fooled = r.count_fooled();
    }
    state.counters["examples_per_s"] =
        benchmark::Counter(double(kExamples) * double(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["queries_per_s"] = benchmark::Counter(double(queries), benchmark::Counter::kIsRate);
    state.counters["fooled"] = double(fooled);
    state.SetLabel(kAttackNames[state.range(0)]);
  }
};

void BM_AttackCpu(benchmark::State& state) {
  AttackBench bench;
  bench.run(state, *bench.model);
}

void BM_AttackCuda(benchmark::State& state) {
  AttackBench bench;
  nmode::CudaModel gpu(*bench.model);
  bench.run(state, gpu);
}

void BM_AttackCudaPortable(benchmark::State& state) {
  AttackBench bench;
  nmode::CudaModel gpu(*bench.model);
  gpu.set_attacks_on_device(false);
  bench.run(state, gpu);
}

}  // namespace

BENCHMARK(BM_AttackCpu)->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
  if (!nmode::bench::add_simd_context("bench_attack")) return 2;
  std::string reason;
  if (nmode::cuda_available(&reason)) {
    for (auto* bm : {benchmark::RegisterBenchmark("BM_AttackCuda", BM_AttackCuda),
                     benchmark::RegisterBenchmark("BM_AttackCudaPortable", BM_AttackCudaPortable)})
      bm->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->UseRealTime();
  } else {
    benchmark::AddCustomContext("gpu", "none (" + reason + "): BM_AttackCuda* not registered");
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
