// The GPU's FGSM and PGD (nmode/cuda_attack.hpp), and the dispatch to its APGD
// (cuda_apgd.cu) and Square Attack (cuda_square.cu): the CPU attacks' batch and restart loop
// (src/robust/attack_fgsm_pgd.cpp), with each step's work queued as kernels on
// device-resident batches. Per step the host waits once, for the solves'
// statistics and, with track_success, the verdicts that decide which examples
// go on.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cuda_check.cuh"
#include "nmode/cuda_attack.hpp"
#include "nmode/device_buffer.hpp"
#include "nmode/error.hpp"
#include "robust/attack_common.hpp"
#include "robust/attack_kernels.cuh"
#include "robust/cuda_attack_runs.cuh"

namespace nmode {

namespace {

namespace k = cuda_attack_kernels;

class CudaAttackRun : attack_impl::AttackRun {
 public:
  CudaAttackRun(CudaModel& model, const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
                const int64_t* example_ids)
      : AttackRun({x, y, n, model.input_dim(), config, example_ids}), model_(model), k_(model.num_classes()),
        fgsm_(config.kind == AttackKind::FGSM), steps_(fgsm_ ? 1 : config.resolved_steps()),
        restarts_(fgsm_ ? 1 : config.restarts) {
    const size_t rows = size_t(capacity_), values = rows * size_t(in_.d);
    x_ = DeviceBuffer<float>(values);
    cur_ = DeviceBuffer<float>(values);
    adv_ = DeviceBuffer<float>(values);
    y_ = DeviceBuffer<int32_t>(rows);
    rows_ = DeviceBuffer<int32_t>(rows);
    streams_ = DeviceBuffer<uint64_t>(rows);
    scratch_ = DeviceBuffer<double>(rows * 2 * size_t(k_));
    correct_ = DeviceBuffer<uint8_t>(rows);
    fooled_ = DeviceBuffer<uint8_t>(rows);
    nonfinite_ = DeviceBuffer<uint8_t>(rows);
    zero_grad_ = DeviceBuffer<uint8_t>(rows);
    host_correct_.resize(rows);
    model_.device_input(capacity_);
  }

  AttackResult run() {
    return run_batches([this](int64_t count) { batch(count); });
  }

 private:
  void batch(int64_t nb) {
    nb_ = nb;
    const size_t values = size_t(nb * in_.d);
    x_.copy_from_host(xb(), values);
    adv_.copy_from_host(xb(), values);
    y_.copy_from_host(yb(), size_t(nb));
    for (DeviceBuffer<uint8_t>* flags : {&fooled_, &nonfinite_, &zero_grad_})
      NMODE_CUDA_CHECK(cudaMemset(flags->data(), 0, size_t(nb)));
    for (int r = 0; r < restarts_; ++r) {
      std::vector<int32_t> active;
      for (int64_t j = 0; j < nb; ++j)
        if (!fooled()[j]) active.push_back(int32_t(j));
      if (active.empty()) break;
      restart(active, r);
    }
    model_.synchronize({{advb(), adv_.data(), values * sizeof(float)},
                        {res_.zero_grad_start.data() + b0_, zero_grad_.data(), size_t(nb)},
                        {nonfinite(), nonfinite_.data(), size_t(nb)}});
  }

  void restart(std::vector<int32_t>& active, int r) {
    const AttackConfig& c = in_.config;
    const int64_t d = in_.d;
    upload_rows(active);
    const std::vector<uint64_t> streams = stream_states(attack_impl::kStreamPgd, active, r);
    streams_.copy_from_host(streams.data(), streams.size());
    k::StartParams start{k::StartKind::None, c.eps, c.l2_start == L2Start::Sphere,
                         c.l2_start == L2Start::UniformVolume, c.box.lo, c.box.hi};
    if (!fgsm_ && c.random_start) start.kind = c.norm == Norm::Linf ? k::StartKind::Linf : k::StartKind::L2;
    k::random_start(rows_.data(), int64_t(active.size()), d, x_.data(), streams_.data(), start, cur_.data());

    k::StepParams step{fgsm_ ? k::StepKind::Fgsm : (c.norm == Norm::Linf ? k::StepKind::Linf : k::StepKind::L2),
                       static_cast<float>(fgsm_ ? c.eps : c.resolved_step_size()),
                       static_cast<float>(c.eps),
                       c.eps,
                       c.box.lo,
                       c.box.hi,
                       false,
                       !fgsm_ && c.track_success};  // FGSM has one step and no iterates to keep
    for (int t = 0; t < steps_ && !active.empty(); ++t) {
      const int64_t na = int64_t(active.size());
      k::gather_rows(rows_.data(), na, d, cur_.data(), model_.device_input(na));
      const float* logits = model_.forward_on_device(na, true);
      k::loss_gradients(rows_.data(), na, k_, logits, y_.data(), c.loss == AttackLoss::DLR, scratch_.data(),
                        model_.device_dlogits(), correct_.data(), nonfinite_.data());
      float* g = model_.backward_input_on_device();  // the model's scratch: sanitised in place
      step.first = r == 0 && t == 0;
      k::step(rows_.data(), na, d, x_.data(), g, step, correct_.data(), cur_.data(), adv_.data(), fooled_.data(),
              nonfinite_.data(), zero_grad_.data());
      for (int32_t j : active) ++res_.queries[b0_ + j];
      if (!step.track_success) {
        model_.synchronize();
        continue;
      }
      model_.synchronize({{host_correct_.data(), correct_.data(), size_t(nb_)}});
      std::vector<int32_t> still;
      for (int32_t j : active) {
        if (host_correct_[size_t(j)]) still.push_back(j);
        else fooled()[j] = 1;  // the step kernel kept its iterate
      }
      if (still.size() != active.size()) {
        active.swap(still);
        upload_rows(active);
      }
    }
    const int64_t na = int64_t(active.size());
    if (na == 0) return;
    k::gather_rows(rows_.data(), na, d, cur_.data(), model_.device_input(na));
    const float* logits = model_.forward_on_device(na, false);
    k::final_verdicts(rows_.data(), na, k_, logits, y_.data(), fooled_.data(), nonfinite_.data());
    k::copy_listed_rows(rows_.data(), na, d, cur_.data(), adv_.data());
    model_.synchronize({{fooled(), fooled_.data(), size_t(nb_)}});
    for (int32_t j : active) ++res_.queries[b0_ + j];
  }

  void upload_rows(const std::vector<int32_t>& active) { rows_.copy_from_host(active.data(), active.size()); }

  CudaModel& model_;
  const int64_t k_;
  const bool fgsm_;
  const int steps_, restarts_;
  int64_t nb_ = 0;  // rows of the batch in progress
  DeviceBuffer<float> x_, cur_, adv_;  // the batch: (capacity, d)
  DeviceBuffer<int32_t> y_, rows_;
  DeviceBuffer<uint64_t> streams_;
  DeviceBuffer<double> scratch_;  // (capacity, 2k): each row's logits and their gradient, in double
  DeviceBuffer<uint8_t> correct_, fooled_, nonfinite_, zero_grad_;
  std::vector<uint8_t> host_correct_;
};

}  // namespace

AttackResult cuda_attack(CudaModel& model, const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
                         const int64_t* example_ids) {
  if (!cuda_attack_supports(config))
    throw InvalidArgument(std::string("cuda_attack: ") + to_string(config.kind) +
                          (config.gradient_model ? " with a gradient model" : "") +
                          " runs through the Classifier interface, not on the GPU's own attack kernels");
  attack_impl::check_attack_inputs(model.input_dim(), model.num_classes(), x, y, n, config);
  if (config.kind == AttackKind::APGD) return cuda_attack_runs::apgd(model, x, y, n, config, example_ids);
  if (config.kind == AttackKind::Square) return cuda_attack_runs::square(model, x, y, n, config, example_ids);
  return CudaAttackRun(model, x, y, n, config, example_ids).run();
}

}  // namespace nmode
