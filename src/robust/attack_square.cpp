// Square Attack, L∞ (Andriushchenko et al. 2020): score-based random search over
// ±eps squares with the margin loss, vertical-stripe start and the p schedule
// (docs/attacks.md §6). Queries logits only; finished examples are not queried.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "robust/attack_common.hpp"
#include "nmode/attack_ops.hpp"
#include "nmode/detail/attack_step.hpp"
#include "nmode/error.hpp"

namespace nmode {

using attack_impl::example_id;
using attack_impl::LogitOracle;

double square_fraction(double p_init, int iteration, int n_queries, bool rescale_schedule) {
  double it = iteration;
  if (rescale_schedule) it = std::floor(static_cast<double>(iteration) / n_queries * 10000.0);
  static const double bounds[] = {10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000};
  double p = p_init;
  for (double b : bounds) {
    if (it <= b) return p;
    p /= 2.0;
  }
  return p;  // p_init / 512
}

int square_size(double p_init, int iteration, int n_queries, bool rescale_schedule, int channels, int height,
                int width) {
  (void)channels;  // n_features / C = H·W
  const double p = square_fraction(p_init, iteration, n_queries, rescale_schedule);
  // nearbyint rounds half to even in the default mode, as Python's round does.
  int s = static_cast<int>(std::nearbyint(std::sqrt(p * height * width)));
  s = std::max(s, 1);
  return std::min(s, std::min(height, width));
}

namespace {

// One Square Attack over all batches: a vertical-stripe start, then one random
// square per query on the examples whose margin is still positive (§6).
class SquareRun : attack_impl::AttackRun {
 public:
  SquareRun(Classifier& model, const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
            const int64_t* example_ids, SquareTrace* trace)
      : AttackRun({x, y, n, model.input_dim(), config, example_ids}), trace_(trace),
        eps_(static_cast<float>(config.eps)), oracle_(model, capacity_), proposal_(static_cast<size_t>(capacity_ * in_.d)),
        m_best_(static_cast<size_t>(capacity_)), m_new_(static_cast<size_t>(capacity_)),
        correct_best_(static_cast<size_t>(capacity_)), correct_new_(static_cast<size_t>(capacity_)) {
    attack_impl::square_image_shape(config, in_.d, channels_, height_, width_);
    plane_ = static_cast<int64_t>(height_) * width_;
    signs_.resize(static_cast<size_t>(capacity_) * static_cast<size_t>(channels_));
    if (trace_) {
      trace_->n_queries = config.n_queries;
      trace_->margin_best.assign(static_cast<size_t>(n * (config.n_queries + 1)),
                                 std::numeric_limits<double>::quiet_NaN());
    }
  }

  AttackResult run() {
    return run_batches([this](int64_t count) { batch(count); });
  }

 private:
  void batch(int64_t count) {
    nb_ = count;
    rng_.clear();
    for (int64_t j = 0; j < nb_; ++j)
      rng_.push_back(attack_impl::example_stream(in_.config.seed, attack_impl::kStreamSquare,
                                                 example_id(in_.example_ids, b0_ + j), 0));
    start_with_stripes();
    const int n_queries = in_.config.n_queries;
    for (int it = 0; it < n_queries; ++it) {
      std::vector<int64_t> active;
      for (int64_t j = 0; j < nb_; ++j)
        if (m_best_[j] > 0.0) active.push_back(j);  // NaN or <= 0: stopped
      if (active.empty()) {
        for (int slot = it + 1; slot <= n_queries; ++slot) record(slot);
        break;
      }
      propose(active, square_size(in_.config.p_init, it, n_queries, in_.config.rescale_schedule, channels_, height_, width_));
      accept_improvements(active);
      record(it + 1);
    }
    for (int64_t j = 0; j < nb_; ++j) res_.fooled[b0_ + j] = correct_best_[j] ? 0 : 1;
  }

  // Vertical stripes: one sign per (channel, column), constant down the column.
  void start_with_stripes() {
    float* best = advb();
    const float* x = xb();
    NMODE_ATTACK_PARALLEL_FOR(nb_ * in_.d)
    for (int64_t j = 0; j < nb_; ++j) {
      for (int ch = 0; ch < channels_; ++ch)
        for (int col = 0; col < width_; ++col) {
          const float sigma = detail::square_stripe_sign(rng_[j].state, ch, col, width_);
          for (int row = 0; row < height_; ++row) {
            const int64_t idx = j * in_.d + ch * plane_ + static_cast<int64_t>(row) * width_ + col;
            best[idx] = vertex(x[idx], sigma);
          }
        }
      rng_[j].state = detail::square_stream_after_stripes(rng_[j].state, channels_, width_);
    }
    std::vector<int64_t> all(static_cast<size_t>(nb_));
    for (int64_t j = 0; j < nb_; ++j) all[j] = j;
    oracle_.evaluate(best, yb(), all, m_best_.data(), correct_best_.data(), nonfinite());
    for (int64_t j = 0; j < nb_; ++j) res_.queries[b0_ + j] = 1;
    record(0);
  }

  // Each active example's best point with one random s x s square set to x +- eps.
  void propose(const std::vector<int64_t>& active, int s) {
    const float* best = advb();
    const float* x = xb();
    const int64_t na = static_cast<int64_t>(active.size());
    NMODE_ATTACK_PARALLEL_FOR(na * in_.d)
    for (int64_t a = 0; a < na; ++a) {
      const int64_t j = active[a];
      float* prop = proposal_.data() + j * in_.d;
      std::copy(best + j * in_.d, best + (j + 1) * in_.d, prop);
      int64_t r0 = 0, c0 = 0;
      float* signs = signs_.data() + j * channels_;
      detail::square_draw_proposal(rng_[j].state, height_, width_, s, channels_, r0, c0, signs);
      for (int ch = 0; ch < channels_; ++ch) {
        const float sigma = signs[ch];
        for (int64_t row = r0; row < r0 + s; ++row)
          for (int64_t col = c0; col < c0 + s; ++col) {
            const int64_t idx = ch * plane_ + row * width_ + col;
            prop[idx] = vertex(x[j * in_.d + idx], sigma);
          }
      }
    }
  }

  // Keeps a proposal that strictly improves the margin or is misclassified.
  void accept_improvements(const std::vector<int64_t>& active) {
    oracle_.evaluate(proposal_.data(), yb(), active, m_new_.data(), correct_new_.data(), nonfinite());
    for (int64_t j : active) {
      ++res_.queries[b0_ + j];
      if (m_new_[j] < m_best_[j] || m_new_[j] <= 0.0) {
        m_best_[j] = m_new_[j];
        correct_best_[j] = correct_new_[j];
        attack_impl::copy_row(proposal_.data(), j, in_.d, advb());
      }
    }
  }

  float vertex(float x, float sigma) const {
    return detail::square_vertex_element(x, eps_, sigma, in_.config.box.lo, in_.config.box.hi);
  }

  void record(int slot) {
    if (!trace_) return;
    for (int64_t j = 0; j < nb_; ++j) trace_->margin_best[(b0_ + j) * (in_.config.n_queries + 1) + slot] = m_best_[j];
  }

  SquareTrace* trace_;
  float eps_;
  LogitOracle oracle_;
  std::vector<float> proposal_;
  std::vector<float> signs_;  // (capacity, channels): each proposal's signs
  std::vector<double> m_best_, m_new_;
  std::vector<uint8_t> correct_best_, correct_new_;
  int channels_ = 0, height_ = 0, width_ = 0;
  int64_t plane_ = 0;
  std::vector<SplitMix64> rng_;
  int64_t nb_ = 0;  // examples in the batch
};

}  // namespace

AttackResult square_attack(Classifier& model, const float* x, const int32_t* y, int64_t n,
                           const AttackConfig& config, const int64_t* example_ids, SquareTrace* trace) {
  return attack_impl::check_and_run<SquareRun>(model, x, y, n, config, example_ids, trace);
}

}  // namespace nmode
