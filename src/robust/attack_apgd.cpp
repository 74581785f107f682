// APGD (Auto-PGD, Croce & Hein 2020), L∞ and L2, CE or DLR loss: momentum,
// step size halved at the integer checkpoint schedule, restart from the best
// point (docs/attacks.md §5). All state is per example except the schedule.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "robust/attack_common.hpp"
#include "nmode/attack_ops.hpp"
#include "nmode/error.hpp"

namespace nmode {

using attack_impl::example_id;
using attack_impl::GradientOracle;

std::vector<int> apgd_checkpoints(int n_iter) {
  if (n_iter < 1) throw InvalidArgument("apgd_checkpoints: n_iter must be >= 1, got " + std::to_string(n_iter));
  // Integer schedule of the auto-attack code (normative), products truncated like a C cast.
  const int n = n_iter;
  int k = std::max(static_cast<int>(0.22 * n), 1);
  const int k_dec = std::max(static_cast<int>(0.03 * n), 1);
  const int k_min = std::max(static_cast<int>(0.06 * n), 1);
  std::vector<int> checks;
  for (int done = k; done <= n; done += k) {
    checks.push_back(done);
    k = std::max(k - k_dec, k_min);
  }
  return checks;
}

namespace {

// Per-example state of one APGD run on a batch of nb examples of dimension d.
struct ApgdState {
  std::vector<float> cur, prev, best, g, g_best, tmp;  // (nb, d) each
  std::vector<double> loss, loss_best, loss_prev, loss_best_at_check, eta;  // (nb)
  std::vector<int> increases;           // (nb) loss increases since the last checkpoint
  std::vector<uint8_t> reduced_at_check, correct;  // (nb)

  ApgdState(int64_t nb, int64_t d) {
    for (auto* v : {&cur, &prev, &best, &g, &g_best, &tmp}) v->resize(static_cast<size_t>(nb * d));
    for (auto* v : {&loss, &loss_best, &loss_prev, &loss_best_at_check, &eta}) v->resize(static_cast<size_t>(nb));
    increases.resize(static_cast<size_t>(nb));
    reduced_at_check.resize(static_cast<size_t>(nb));
    correct.resize(static_cast<size_t>(nb));
  }
};

// x0: the clean x moved to the boundary of the ball in a random direction, then
// clamped, drawn by position (detail/attack_step.hpp, as the GPU draws it). x, out: (d).
void apgd_start(const float* x, int64_t d, Norm norm, double eps, const Box& box, uint64_t stream, float* out) {
  std::vector<double> t(static_cast<size_t>(d));
  double scale = 0.0;
  if (norm == Norm::Linf) {
    double tmax = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      t[i] = detail::apgd_linf_start_direction(stream, uint64_t(i));
      tmax = std::max(tmax, std::fabs(t[i]));
    }
    scale = eps / (tmax + 1e-12);
  } else {
    double s = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      t[i] = detail::l2_start_direction(stream, uint64_t(i));
      s += t[i] * t[i];
    }
    scale = eps / (std::sqrt(s) + 1e-12);
  }
  for (int64_t i = 0; i < d; ++i) out[i] = detail::l2_start_element(x[i], scale, t[i], box.lo, box.hi);
}

// Gradient step then momentum step, each projected (§5 step 2). x, cur, prev, g, tmp: (d).
// a: momentum weight of the new step; prev becomes the old cur.
void apgd_step(const float* x, int64_t d, Norm norm, double eps, const Box& box, double eta, double a, float* cur,
               float* prev, const float* g, float* tmp) {
  const float fa = static_cast<float>(a);
  const float fb = static_cast<float>(1.0 - a);
  const float feta = static_cast<float>(eta);
  if (norm == Norm::Linf) {
    for (int64_t i = 0; i < d; ++i) tmp[i] = detail::apgd_linf_element(x[i], cur[i], g[i], feta, float(eps), box.lo, box.hi);
  } else {
    const double inv_norm = 1.0 / (l2_norm(g, d) + detail::kApgdL2Guard);
    for (int64_t i = 0; i < d; ++i) tmp[i] = detail::l2_move_element(cur[i], g[i], inv_norm, feta);
    project_l2(x, eps, tmp, d, box);
  }
  for (int64_t i = 0; i < d; ++i) {
    tmp[i] = detail::apgd_momentum_element(cur[i], prev[i], tmp[i], fa, fb);
    prev[i] = cur[i];
  }
  if (norm == Norm::Linf) project_linf(x, static_cast<float>(eps), tmp, d, box);
  else project_l2(x, eps, tmp, d, box);
  std::copy(tmp, tmp + d, cur);
}

// One APGD attack over all batches: a batch runs its restarts on the examples not
// yet fooled; each restart is a start followed by n_iter iterations (§5).
class ApgdRun : attack_impl::AttackRun {
 public:
  ApgdRun(Classifier& model, const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
          const int64_t* example_ids, ApgdTrace* trace)
      : AttackRun({x, y, n, model.input_dim(), config, example_ids}), trace_(trace),
        n_iter_(config.resolved_steps()), eta0_(config.resolved_step_size()), oracle_(model, config.loss, capacity_),
        s_(capacity_, in_.d), found_(static_cast<size_t>(capacity_ * in_.d)) {
    // window_[i + 1] = k when a check happens after i + 1 completed iterations, 0 otherwise.
    const std::vector<int> checks = apgd_checkpoints(n_iter_);
    window_.assign(static_cast<size_t>(n_iter_) + 1, 0);
    for (size_t c = 0; c < checks.size(); ++c) window_[checks[c]] = checks[c] - (c ? checks[c - 1] : 0);
    if (trace_) {
      trace_->n_iter = n_iter_;
      trace_->loss_best.assign(static_cast<size_t>(n * (n_iter_ + 1)), std::numeric_limits<double>::quiet_NaN());
      trace_->eta.assign(static_cast<size_t>(n * (n_iter_ + 1)), std::numeric_limits<double>::quiet_NaN());
    }
  }

  AttackResult run() {
    res_.x_best.assign(in_.x, in_.x + in_.n * in_.d);
    res_.loss_best.assign(static_cast<size_t>(in_.n), -std::numeric_limits<double>::infinity());
    return run_batches([this](int64_t count) { batch(count); });
  }

 private:
  static constexpr double kRho = 0.75, kMomentum = 0.75;

  void batch(int64_t count) {
    for (int r = 0; r < in_.config.restarts; ++r) {
      const std::vector<int64_t> active = attack_impl::not_fooled(fooled(), count);
      if (active.empty()) break;
      start(active, r);
      for (int i = 0; i < n_iter_; ++i) iterate(active, r, i);
      keep_best_of_restart(active, r);
    }
    for (int64_t j = 0; j < count; ++j)
      if (fooled()[j]) attack_impl::copy_row(found_.data(), j, in_.d, advb());
  }

  // The random start and its evaluation, which initialise the per-example state.
  void start(const std::vector<int64_t>& active, int r) {
    const int64_t na = static_cast<int64_t>(active.size());
    NMODE_ATTACK_PARALLEL_FOR(na * in_.d)
    for (int64_t a = 0; a < na; ++a) {
      const int64_t j = active[a];
      const SplitMix64 rng = attack_impl::example_stream(in_.config.seed, attack_impl::kStreamApgd,
                                                         example_id(in_.example_ids, b0_ + j), r);
      apgd_start(xb() + j * in_.d, in_.d, in_.config.norm, in_.config.eps, in_.config.box, rng.state,
                 s_.cur.data() + j * in_.d);
    }
    evaluate(active);
    for (int64_t j : active) {
      if (r == 0) res_.zero_grad_start[b0_ + j] = !nonfinite()[j] && attack_impl::is_zero(s_.g.data() + j * in_.d, in_.d);
      attack_impl::copy_row(s_.cur.data(), j, in_.d, s_.prev.data());
      attack_impl::copy_row(s_.cur.data(), j, in_.d, s_.best.data());
      attack_impl::copy_row(s_.g.data(), j, in_.d, s_.g_best.data());
      s_.loss_best[j] = s_.loss[j];
      s_.loss_prev[j] = s_.loss[j];
      s_.loss_best_at_check[j] = s_.loss[j];
      s_.reduced_at_check[j] = 1;  // condition 2 cannot fire at the first checkpoint
      s_.increases[j] = 0;
      s_.eta[j] = eta0_;
    }
    record(active, r, 0);
  }

  // Iteration i: the momentum step, its evaluation, the best point, and at a
  // checkpoint the step-size decision.
  void iterate(const std::vector<int64_t>& active, int r, int i) {
    const double a_mom = (i == 0) ? 1.0 : kMomentum;
    const int64_t na = static_cast<int64_t>(active.size());
    NMODE_ATTACK_PARALLEL_FOR(na * in_.d)
    for (int64_t a = 0; a < na; ++a) {
      const int64_t j = active[a];
      apgd_step(xb() + j * in_.d, in_.d, in_.config.norm, in_.config.eps, in_.config.box, s_.eta[j], a_mom, s_.cur.data() + j * in_.d,
                s_.prev.data() + j * in_.d, s_.g.data() + j * in_.d, s_.tmp.data() + j * in_.d);
    }
    evaluate(active);
    const int k = window_[i + 1];
    for (int64_t j : active) {
      const double li = s_.loss[j];  // NaN fails every comparison: no update, no increase
      if (li > s_.loss_best[j]) {
        s_.loss_best[j] = li;
        attack_impl::copy_row(s_.cur.data(), j, in_.d, s_.best.data());
        attack_impl::copy_row(s_.g.data(), j, in_.d, s_.g_best.data());
      }
      if (li > s_.loss_prev[j]) ++s_.increases[j];
      s_.loss_prev[j] = li;
      if (k != 0) checkpoint(j, k);
    }
    record(active, r, i + 1);
  }

  // Halve eta after too few successful steps in the last k (cond1, "<=" as the
  // reference code) or no progress since the last check at an unchanged eta (cond2).
  void checkpoint(int64_t j, int k) {
    const bool cond1 = s_.increases[j] <= kRho * k;
    const bool cond2 = !s_.reduced_at_check[j] && s_.loss_best_at_check[j] >= s_.loss_best[j];
    const bool reduce = cond1 || cond2;
    s_.reduced_at_check[j] = reduce ? 1 : 0;
    s_.loss_best_at_check[j] = s_.loss_best[j];
    s_.increases[j] = 0;
    if (reduce) {
      // Restart from the best point; prev is kept, so momentum is best - prev.
      s_.eta[j] *= 0.5;
      attack_impl::copy_row(s_.best.data(), j, in_.d, s_.cur.data());
      attack_impl::copy_row(s_.g_best.data(), j, in_.d, s_.g.data());
    }
  }

  void keep_best_of_restart(const std::vector<int64_t>& active, int r) {
    for (int64_t j : active) {
      const int64_t g = b0_ + j;
      res_.queries[g] += n_iter_ + 1;
      if (r == 0 || s_.loss_best[j] > res_.loss_best[g]) {
        res_.loss_best[g] = s_.loss_best[j];
        std::copy(s_.best.data() + j * in_.d, s_.best.data() + (j + 1) * in_.d, res_.x_best.data() + g * in_.d);
      }
    }
  }

  // Loss and gradient at the current iterates; the misclassified ones are found
  // (the last such point is returned).
  void evaluate(const std::vector<int64_t>& active) {
    oracle_.evaluate(s_.cur.data(), yb(), active, s_.loss.data(), s_.g.data(), s_.correct.data(), nonfinite());
    for (int64_t j : active)
      if (!s_.correct[j]) {
        fooled()[j] = 1;
        attack_impl::copy_row(s_.cur.data(), j, in_.d, found_.data());
      }
  }

  void record(const std::vector<int64_t>& active, int r, int slot) {
    if (!trace_ || r != 0) return;
    for (int64_t j : active) {
      trace_->loss_best[(b0_ + j) * (n_iter_ + 1) + slot] = s_.loss_best[j];
      trace_->eta[(b0_ + j) * (n_iter_ + 1) + slot] = s_.eta[j];
    }
  }

  ApgdTrace* trace_;
  int n_iter_;
  double eta0_;
  GradientOracle oracle_;
  ApgdState s_;
  std::vector<float> found_;
  std::vector<int> window_;
};

}  // namespace

AttackResult apgd_attack(Classifier& model, const float* x, const int32_t* y, int64_t n,
                         const AttackConfig& config, const int64_t* example_ids, ApgdTrace* trace) {
  return attack_impl::check_and_run<ApgdRun>(model, x, y, n, config, example_ids, trace);
}

}  // namespace nmode
