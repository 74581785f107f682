// The GPU's APGD (nmode/cuda_attack.hpp): the CPU's batch, restart and iteration
// loop (src/robust/attack_apgd.cpp) with every per-example decision in kernels
// (apgd_kernels.cuh), so the host decides nothing per iteration; it waits once
// per iteration for the solves' statistics, and reads the verdicts back after
// each restart, which decide the next restart's examples.
#include <cuda_runtime.h>

#include <limits>
#include <vector>

#include "cuda_check.cuh"
#include "nmode/device_buffer.hpp"
#include "robust/apgd_kernels.cuh"
#include "robust/attack_common.hpp"
#include "robust/attack_kernels.cuh"
#include "robust/cuda_attack_runs.cuh"

namespace nmode::cuda_attack_runs {
namespace {

namespace k = cuda_attack_kernels;

class CudaApgdRun : attack_impl::AttackRun {
 public:
  CudaApgdRun(CudaModel& model, const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
              const int64_t* example_ids)
      : AttackRun({x, y, n, model.input_dim(), config, example_ids}), model_(model), k_(model.num_classes()),
        n_iter_(config.resolved_steps()), eta0_(config.resolved_step_size()) {
    const std::vector<int> checks = apgd_checkpoints(n_iter_);
    window_.assign(static_cast<size_t>(n_iter_) + 1, 0);
    for (size_t c = 0; c < checks.size(); ++c) window_[checks[c]] = checks[c] - (c ? checks[c - 1] : 0);
    const size_t rows = size_t(capacity_), values = rows * size_t(in_.d);
    for (DeviceBuffer<float>* v : {&x_, &adv_, &x_best_, &cur_, &prev_, &best_, &g_, &g_best_, &tmp_, &found_})
      *v = DeviceBuffer<float>(values);
    for (DeviceBuffer<double>* v : {&loss_, &loss_best_, &loss_prev_, &loss_best_at_check_, &eta_, &loss_result_})
      *v = DeviceBuffer<double>(rows);
    for (DeviceBuffer<uint8_t>* v : {&reduced_at_check_, &correct_, &fooled_, &nonfinite_, &zero_grad_})
      *v = DeviceBuffer<uint8_t>(rows);
    increases_ = DeviceBuffer<int32_t>(rows);
    y_ = DeviceBuffer<int32_t>(rows);
    rows_ = DeviceBuffer<int32_t>(rows);
    streams_ = DeviceBuffer<uint64_t>(rows);
    scratch_ = DeviceBuffer<double>(rows * 2 * size_t(k_));
    b_ = {cur_.data(),     prev_.data(),      best_.data(),  g_.data(),
          g_best_.data(),  tmp_.data(),       found_.data(), loss_.data(),
          loss_best_.data(), loss_prev_.data(), loss_best_at_check_.data(), eta_.data(),
          increases_.data(), reduced_at_check_.data(), correct_.data(), fooled_.data(),
          nonfinite_.data(), zero_grad_.data()};
    model_.device_input(capacity_);
  }

  AttackResult run() {
    res_.x_best.assign(in_.x, in_.x + in_.n * in_.d);
    res_.loss_best.assign(static_cast<size_t>(in_.n), -std::numeric_limits<double>::infinity());
    return run_batches([this](int64_t count) { batch(count); });
  }

 private:
  static constexpr double kMomentum = 0.75;  // the CPU's ApgdRun::kMomentum

  void batch(int64_t nb) {
    const size_t values = size_t(nb * in_.d), rows = size_t(nb);
    x_.copy_from_host(xb(), values);
    adv_.copy_from_host(xb(), values);
    x_best_.copy_from_host(xb(), values);
    loss_result_.copy_from_host(res_.loss_best.data() + b0_, rows);
    y_.copy_from_host(yb(), rows);
    for (DeviceBuffer<uint8_t>* flags : {&fooled_, &nonfinite_, &zero_grad_})
      NMODE_CUDA_CHECK(cudaMemset(flags->data(), 0, rows));
    for (int r = 0; r < in_.config.restarts; ++r) {
      std::vector<int32_t> active;
      for (int64_t j = 0; j < nb; ++j)
        if (!fooled()[j]) active.push_back(int32_t(j));
      if (active.empty()) break;
      restart(active, r);
      model_.synchronize({{fooled(), fooled_.data(), rows}});
    }
    k::apgd_answers(nb, in_.d, b_, adv_.data());
    model_.synchronize({{advb(), adv_.data(), values * sizeof(float)},
                        {res_.x_best.data() + b0_ * in_.d, x_best_.data(), values * sizeof(float)},
                        {res_.loss_best.data() + b0_, loss_result_.data(), rows * sizeof(double)},
                        {res_.zero_grad_start.data() + b0_, zero_grad_.data(), rows},
                        {nonfinite(), nonfinite_.data(), rows}});
  }

  void restart(const std::vector<int32_t>& active, int r) {
    const AttackConfig& c = in_.config;
    const int64_t d = in_.d, na = int64_t(active.size());
    rows_.copy_from_host(active.data(), active.size());
    const std::vector<uint64_t> streams = stream_states(attack_impl::kStreamApgd, active, r);
    streams_.copy_from_host(streams.data(), streams.size());
    const k::ApgdParams p{c.norm == Norm::Linf, c.eps, c.box.lo, c.box.hi};
    k::apgd_start(rows_.data(), na, d, x_.data(), streams_.data(), p, cur_.data());
    evaluate(na, r == 0);
    k::apgd_begin(rows_.data(), na, d, eta0_, b_);
    for (int i = 0; i < n_iter_; ++i) {
      k::apgd_step(rows_.data(), na, d, x_.data(), p, i == 0 ? 1.0 : kMomentum, b_);
      evaluate(na, false);
      k::apgd_update(rows_.data(), na, d, window_[size_t(i) + 1], b_);
    }
    k::apgd_keep_best(rows_.data(), na, d, r == 0, b_, loss_result_.data(), x_best_.data());
    for (int32_t j : active) res_.queries[b0_ + j] += n_iter_ + 1;
  }

  // Loss and gradient at the current iterates of the listed rows; a misclassified
  // one is kept (the last such point is returned).
  void evaluate(int64_t na, bool record_zero_grad) {
    k::gather_rows(rows_.data(), na, in_.d, cur_.data(), model_.device_input(na));
    const float* logits = model_.forward_on_device(na, true);
    k::loss_gradients(rows_.data(), na, k_, logits, y_.data(), in_.config.loss == AttackLoss::DLR, scratch_.data(),
                      model_.device_dlogits(), correct_.data(), nonfinite_.data(), loss_.data());
    k::apgd_take_gradient(rows_.data(), na, in_.d, model_.backward_input_on_device(), record_zero_grad, b_);
    model_.synchronize();  // the solves' statistics: a failed solve throws here, as on the CPU
  }

  CudaModel& model_;
  const int64_t k_;
  const int n_iter_;
  const double eta0_;
  std::vector<int> window_;  // window_[i + 1] = k when a check closes after i + 1 iterations, else 0
  DeviceBuffer<float> x_, adv_, x_best_, cur_, prev_, best_, g_, g_best_, tmp_, found_;  // (capacity, d)
  DeviceBuffer<double> loss_, loss_best_, loss_prev_, loss_best_at_check_, eta_, loss_result_;
  DeviceBuffer<uint8_t> reduced_at_check_, correct_, fooled_, nonfinite_, zero_grad_;
  DeviceBuffer<int32_t> increases_, y_, rows_;
  DeviceBuffer<uint64_t> streams_;
  DeviceBuffer<double> scratch_;  // (capacity, 2k): each row's logits and their gradient, in double
  k::ApgdBuffers b_{};
};

}  // namespace

AttackResult apgd(CudaModel& model, const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
                  const int64_t* example_ids) {
  return CudaApgdRun(model, x, y, n, config, example_ids).run();
}

}  // namespace nmode::cuda_attack_runs
