// The GPU's Square Attack (nmode/cuda_attack.hpp): the CPU's batch and query loop
// (src/robust/attack_square.cpp) with the stripes, the proposals, the margins and
// the acceptances as kernels, so a batch stays on the device. Per query the host
// waits once, for the solves' statistics and the best margins, which decide the
// examples the next query goes to.
#include <cuda_runtime.h>

#include <vector>

#include "cuda_check.cuh"
#include "nmode/detail/attack_step.hpp"
#include "nmode/device_buffer.hpp"
#include "robust/attack_common.hpp"
#include "robust/attack_kernels.cuh"
#include "robust/cuda_attack_runs.cuh"
#include "robust/square_kernels.cuh"

namespace nmode::cuda_attack_runs {
namespace {

namespace k = cuda_attack_kernels;

class CudaSquareRun : attack_impl::AttackRun {
 public:
  CudaSquareRun(CudaModel& model, const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
                const int64_t* example_ids)
      : AttackRun({x, y, n, model.input_dim(), config, example_ids}), model_(model), k_(model.num_classes()) {
    int channels = 0, height = 0, width = 0;
    attack_impl::square_image_shape(config, in_.d, channels, height, width);
    p_ = {channels, height, width, static_cast<float>(config.eps), config.box.lo, config.box.hi};
    const size_t rows = size_t(capacity_), values = rows * size_t(in_.d);
    for (DeviceBuffer<float>* v : {&x_, &best_, &proposal_}) *v = DeviceBuffer<float>(values);
    signs_ = DeviceBuffer<float>(rows * size_t(channels));
    for (DeviceBuffer<double>* v : {&margin_best_, &margin_new_}) *v = DeviceBuffer<double>(rows);
    for (DeviceBuffer<uint8_t>* v : {&correct_best_, &correct_new_, &nonfinite_}) *v = DeviceBuffer<uint8_t>(rows);
    y_ = DeviceBuffer<int32_t>(rows);
    rows_ = DeviceBuffer<int32_t>(rows);
    streams_ = DeviceBuffer<uint64_t>(rows);
    scratch_ = DeviceBuffer<double>(rows * size_t(k_));
    margin_host_.resize(rows);
    correct_host_.resize(rows);
    model_.device_input(capacity_);
  }

  AttackResult run() {
    return run_batches([this](int64_t count) { batch(count); });
  }

 private:
  void batch(int64_t nb) {
    const AttackConfig& c = in_.config;
    const size_t values = size_t(nb * in_.d), rows = size_t(nb);
    nb_ = nb;
    x_.copy_from_host(xb(), values);
    y_.copy_from_host(yb(), rows);
    NMODE_CUDA_CHECK(cudaMemset(nonfinite_.data(), 0, rows));
    std::vector<int32_t> active(rows);
    for (size_t j = 0; j < rows; ++j) active[j] = int32_t(j);
    std::vector<uint64_t> streams = stream_states(attack_impl::kStreamSquare, active, 0);
    streams_.copy_from_host(streams.data(), rows);
    k::square_stripes(nb, p_, x_.data(), streams_.data(), best_.data());
    for (uint64_t& s : streams) s = detail::square_stream_after_stripes(s, p_.channels, p_.width);
    streams_.copy_from_host(streams.data(), rows);  // after the stripes: the default stream is in order

    evaluate(active, best_.data(), margin_best_.data(), correct_best_.data(), /*proposal=*/false);
    for (int64_t j = 0; j < nb; ++j) res_.queries[b0_ + j] = 1;
    for (int it = 0; it < c.n_queries; ++it) {
      active.clear();
      for (size_t j = 0; j < rows; ++j)
        if (margin_host_[j] > 0.0) active.push_back(int32_t(j));  // NaN or <= 0: stopped
      if (active.empty()) break;
      const int side = square_size(c.p_init, it, c.n_queries, c.rescale_schedule, p_.channels, p_.height, p_.width);
      rows_.copy_from_host(active.data(), active.size());
      const int64_t na = int64_t(active.size());
      k::square_propose(rows_.data(), na, p_, side, x_.data(), best_.data(), streams_.data(), signs_.data(),
                        proposal_.data(), model_.device_input(na));
      evaluate(active, nullptr, margin_new_.data(), correct_new_.data(), /*proposal=*/true);
      for (int32_t j : active) ++res_.queries[b0_ + j];
    }
    model_.synchronize({{advb(), best_.data(), values * sizeof(float)},
                        {correct_host_.data(), correct_best_.data(), rows},
                        {nonfinite(), nonfinite_.data(), rows}});
    for (size_t j = 0; j < rows; ++j) fooled()[j] = correct_host_[j] ? 0 : 1;
  }

  // The model at the listed rows, of `points` (batch rows) or of the proposals
  // already in the model's input; a proposal is then kept where it improves.
  // Reads the best margins back.
  void evaluate(const std::vector<int32_t>& active, const float* points, double* margin, uint8_t* correct,
                bool proposal) {
    const int64_t na = int64_t(active.size());
    if (!proposal) {
      rows_.copy_from_host(active.data(), active.size());
      k::gather_rows(rows_.data(), na, in_.d, points, model_.device_input(na));
    }
    const float* logits = model_.forward_on_device(na, false);
    k::square_margins(rows_.data(), na, k_, logits, y_.data(), scratch_.data(), margin, correct, nonfinite_.data());
    if (proposal)
      k::square_accept(rows_.data(), na, in_.d, proposal_.data(), margin_new_.data(), correct_new_.data(),
                       margin_best_.data(), correct_best_.data(), best_.data());
    // The solves' statistics (a failed solve throws here, as on the CPU) and the margins.
    model_.synchronize({{margin_host_.data(), margin_best_.data(), size_t(nb_) * sizeof(double)}});
  }

  CudaModel& model_;
  const int64_t k_;
  k::SquareParams p_{};
  int64_t nb_ = 0;  // rows of the batch in progress
  DeviceBuffer<float> x_, best_, proposal_;  // the batch (capacity, d); proposal compact
  DeviceBuffer<float> signs_;                // (capacity, channels)
  DeviceBuffer<double> margin_best_, margin_new_;
  DeviceBuffer<uint8_t> correct_best_, correct_new_, nonfinite_;
  DeviceBuffer<int32_t> y_, rows_;
  DeviceBuffer<uint64_t> streams_;  // per batch row, advanced by every proposal
  DeviceBuffer<double> scratch_;    // (capacity, k): each row's logits in double
  std::vector<double> margin_host_;
  std::vector<uint8_t> correct_host_;
};

}  // namespace

AttackResult square(CudaModel& model, const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
                    const int64_t* example_ids) {
  return CudaSquareRun(model, x, y, n, config, example_ids).run();
}

}  // namespace nmode::cuda_attack_runs
