// One training step (forward + backward + Adam) of the reference model
// 784 -> Linear(2048) -> NmOde(lambda 3, t_end 1) -> Linear(10) at batch 256,
// with the time split into GEMM (the Linear layers), ODE (the NmOde layer) and
// other (loss, zero_grad, Adam), each timed inside the same steps, on the active
// SIMD target (NMODE_SIMD forces one); and whole-model steps of the reference
// model beside the neural-ODE baseline (BM_ModelStep); where a GPU answers, the
// reference model's step as `nmode train --device cuda` takes it (BM_TrainStepCuda),
// against the host-staged step (BM_TrainStepCudaStaged).
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <vector>


#include "bench_context.hpp"
#include "nmode/cuda_model.hpp"
#include "nmode/device.hpp"
#include "nmode/layers.hpp"
#include "nmode/loss.hpp"
#include "nmode/model.hpp"
#include "nmode/optim.hpp"
#include "nmode/random.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void BM_TrainStep(benchmark::State& state) {
  nmode::bench::set_threads(int(state.range(0)));
  const int64_t batch = 256;
  nmode::ModelSpec spec;  // the reference model
  auto model = nmode::make_model(spec, 0);
  nmode::Adam adam;
  nmode::Tensor x;
  std::vector<int32_t> y;
  nmode::bench::random_batch(batch, spec.input, 10, 1, x, y);
  std::vector<nmode::Tensor> acts(3), grads(3);
  nmode::Tensor dlogits, dx_unused;
  double gemm = 0, ode = 0, other = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    model->zero_grad();
    other += since(t0);
    const nmode::Tensor* in = &x;
    for (size_t l = 0; l < 3; ++l) {  // layer by layer, to time each
      t0 = Clock::now();
      model->layer(l).forward(*in, acts[l], true);
      (l == 1 ? ode : gemm) += since(t0);
      in = &acts[l];
    }
    t0 = Clock::now();
    nmode::softmax_cross_entropy(acts[2], y.data(), &dlogits);
    other += since(t0);
    const nmode::Tensor* dy = &dlogits;
    for (int l = 2; l >= 0; --l) {
      t0 = Clock::now();
      model->layer(size_t(l)).backward(*dy, grads[size_t(l)], l > 0);
      (l == 1 ? ode : gemm) += since(t0);
      dy = &grads[size_t(l)];
    }
    t0 = Clock::now();
    adam.step(model->parameters());
    other += since(t0);
  }
  const double n = double(state.iterations());
  state.counters["steps_per_s"] = benchmark::Counter(n, benchmark::Counter::kIsRate);
  state.counters["gemm_ms"] = 1e3 * gemm / n;
  state.counters["ode_ms"] = 1e3 * ode / n;
  state.counters["other_ms"] = 1e3 * other / n;
  state.counters["epoch_s_estimate"] = (gemm + ode + other) / n * (60000.0 / double(batch));
}

// One whole-model training step (Sequential forward/backward + Adam, batch 256) of
// the reference nmODE model (arg 0) or the neural-ODE baseline (arg 1: 784 ->
// Linear(256) -> ReLU -> NeuralOde(256, t_end 1) -> Linear(10)), so the two epoch
// estimates come from the same run.
void BM_ModelStep(benchmark::State& state) {
  nmode::bench::set_threads(2);
  const int64_t batch = 256;
  nmode::ModelSpec spec;
  if (state.range(0) == 1) {
    spec.kind = "node";
    spec.hidden = 256;
  }
  state.SetLabel(spec.kind);
  auto model = nmode::make_model(spec, 0);
  nmode::Adam adam;
  nmode::Tensor x, logits, dlogits;
  std::vector<int32_t> y;
  nmode::bench::random_batch(batch, spec.input, 10, 1, x, y);
  const auto t0 = Clock::now();
  for (auto _ : state) {
    model->zero_grad();
    model->forward(x, logits, true);
    nmode::softmax_cross_entropy(logits, y.data(), &dlogits);
    model->backward(dlogits);
    adam.step(model->parameters());
  }
  state.counters["epoch_s_estimate"] = since(t0) / double(state.iterations()) * (60000.0 / double(batch));
}

// The reference model's step on the GPU as Trainer::set_device(Cuda) runs it:
// CudaModel::train_step, the loss and Adam on the device, one read-back.
void BM_TrainStepCuda(benchmark::State& state) {
  const int64_t batch = 256;
  nmode::ModelSpec spec;
  auto model = nmode::make_model(spec, 0);
  nmode::CudaModel gpu(*model);
  nmode::Adam adam;
  gpu.upload_training_state(adam);
  nmode::Tensor x;
  std::vector<int32_t> y;
  nmode::bench::random_batch(batch, spec.input, 10, 1, x, y);
  const auto t0 = Clock::now();
  for (auto _ : state) benchmark::DoNotOptimize(gpu.train_step(x, y, adam));
  state.counters["epoch_s_estimate"] = since(t0) / double(state.iterations()) * (60000.0 / double(batch));
  state.SetLabel(nmode::cuda_device_name());
}

// The same step staged through the host, as before the loss and Adam moved to the
// device (the reference for BM_TrainStepCuda, in the same run), stage by stage:
// forward and backward on the device (every stage returns synchronised, so host
// clocks time it), the loss and Adam on the host, the parameters uploaded.
void BM_TrainStepCudaStaged(benchmark::State& state) {
  const int64_t batch = 256;
  nmode::ModelSpec spec;
  auto model = nmode::make_model(spec, 0);
  nmode::CudaModel gpu(*model);
  nmode::Adam adam;
  nmode::Tensor x, logits, dlogits;
  std::vector<int32_t> y;
  nmode::bench::random_batch(batch, spec.input, 10, 1, x, y);
  double forward = 0, loss = 0, backward = 0, optimizer = 0, upload = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    model->zero_grad();
    gpu.forward(x, logits, true);
    forward += since(t0);
    t0 = Clock::now();
    nmode::softmax_cross_entropy(logits, y.data(), &dlogits);
    loss += since(t0);
    t0 = Clock::now();
    gpu.backward(dlogits);
    backward += since(t0);
    t0 = Clock::now();
    adam.step(model->parameters());
    optimizer += since(t0);
    t0 = Clock::now();
    gpu.upload_parameters();
    upload += since(t0);
  }
  const double n = double(state.iterations());
  state.counters["forward_ms"] = 1e3 * forward / n;
  state.counters["loss_ms"] = 1e3 * loss / n;
  state.counters["backward_ms"] = 1e3 * backward / n;
  state.counters["adam_ms"] = 1e3 * optimizer / n;
  state.counters["upload_ms"] = 1e3 * upload / n;
  state.counters["epoch_s_estimate"] = (forward + loss + backward + optimizer + upload) / n * (60000.0 / double(batch));
  state.SetLabel(nmode::cuda_device_name());
}

}  // namespace

BENCHMARK(BM_TrainStep)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ModelStep)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
int main(int argc, char** argv) {
  if (!nmode::bench::add_simd_context("bench_train")) return 2;
  std::string reason;
  if (nmode::cuda_available(&reason)) {
    benchmark::RegisterBenchmark("BM_TrainStepCuda", BM_TrainStepCuda)->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark("BM_TrainStepCudaStaged", BM_TrainStepCudaStaged)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  } else {
    benchmark::AddCustomContext("gpu", "none (" + reason + "): BM_TrainStepCuda* not registered");
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
