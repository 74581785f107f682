// FGSM (L∞) and PGD (L∞ and L2) with random starts, restarts and optional
// success tracking (docs/attacks.md §2-§4); both can take their gradients from
// another model (AttackConfig::gradient_model) while the attacked model judges.
#include <algorithm>
#include <cmath>

#include "robust/attack_common.hpp"
#include "nmode/attack_ops.hpp"

namespace nmode {

using attack_impl::copy_row;
using attack_impl::example_id;
using attack_impl::is_zero;
using attack_impl::GradientOracle;
using attack_impl::LogitOracle;

namespace {

// FGSM: one signed-gradient step of size eps from x and one check (§2).
class FgsmRun : attack_impl::AttackRun {
 public:
  FgsmRun(Classifier& model, const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
          const int64_t* example_ids)
      : AttackRun({x, y, n, model.input_dim(), config, example_ids}),
        grad_(model, AttackLoss::CE, capacity_, config.gradient_model),
        logit_(model, capacity_), loss_(static_cast<size_t>(capacity_)),
        g_(static_cast<size_t>(capacity_ * in_.d)), correct_(static_cast<size_t>(capacity_)) {}

  AttackResult run() {
    return run_batches([this](int64_t count) { batch(count); });
  }

 private:
  void batch(int64_t nb) {
    const int64_t d = in_.d;
    const float eps = static_cast<float>(in_.config.eps);
    std::vector<int64_t> active(static_cast<size_t>(nb));
    for (int64_t j = 0; j < nb; ++j) active[j] = j;
    grad_.evaluate(xb(), yb(), active, loss_.data(), g_.data(), nullptr, nonfinite());  // only the step judges
    const float* x = xb();
    float* adv = advb();
    NMODE_ATTACK_PARALLEL_FOR(nb * d)
    for (int64_t j = 0; j < nb; ++j) {
      const float* gj = g_.data() + j * d;
      res_.zero_grad_start[b0_ + j] = (!nonfinite()[j] && is_zero(gj, d)) ? 1 : 0;
      for (int64_t i = 0; i < d; ++i)
        adv[j * d + i] = detail::fgsm_element(x[j * d + i], gj[i], eps, in_.config.box.lo, in_.config.box.hi);
    }
    logit_.evaluate(adv, yb(), active, nullptr, correct_.data(), nonfinite());
    const int64_t queries = grad_.queries_attacked_model(false) ? 2 : 1;
    for (int64_t j = 0; j < nb; ++j) {
      fooled()[j] = correct_[j] ? 0 : 1;
      res_.queries[b0_ + j] = queries;
    }
  }

  GradientOracle grad_;
  LogitOracle logit_;
  std::vector<double> loss_;
  std::vector<float> g_;
  std::vector<uint8_t> correct_;
};

}  // namespace

AttackResult fgsm_attack(Classifier& model, const float* x, const int32_t* y, int64_t n,
                         const AttackConfig& config, const int64_t* example_ids) {
  return attack_impl::check_and_run<FgsmRun>(model, x, y, n, config, example_ids);  // FGSM draws nothing at random
}

// x0 for PGD: x itself, or x plus a random start drawn from the example's stream
// (detail/attack_step.hpp, as the GPU draws it). x, out: (d).
static void pgd_start(const float* x, int64_t d, const AttackConfig& config, uint64_t stream, float* out) {
  const float lo = config.box.lo, hi = config.box.hi;
  if (!config.random_start) {
    std::copy(x, x + d, out);
    return;
  }
  if (config.norm == Norm::Linf) {
    for (int64_t i = 0; i < d; ++i) out[i] = detail::linf_start_element(x[i], config.eps, stream, uint64_t(i), lo, hi);
    return;
  }
  std::vector<double> dir(static_cast<size_t>(d));
  double s = 0.0;
  for (int64_t i = 0; i < d; ++i) {
    dir[i] = detail::l2_start_direction(stream, uint64_t(i));
    s += dir[i] * dir[i];
  }
  const double r = detail::l2_start_radius(stream, d, config.l2_start == L2Start::Sphere,
                                           config.l2_start == L2Start::UniformVolume);
  const double scale = config.eps * r / (std::sqrt(s) + 1e-12);
  for (int64_t i = 0; i < d; ++i) out[i] = detail::l2_start_element(x[i], scale, dir[i], lo, hi);
}

// One PGD step from cur with gradient g, projected around x. x, g, cur: (d).
static void pgd_step(const float* x, const float* g, int64_t d, const AttackConfig& config, float alpha,
                     float* cur) {
  const float eps = static_cast<float>(config.eps), lo = config.box.lo, hi = config.box.hi;
  if (config.norm == Norm::Linf) {
    for (int64_t i = 0; i < d; ++i) cur[i] = detail::pgd_linf_element(x[i], cur[i], g[i], alpha, eps, lo, hi);
    return;
  }
  const double inv_norm = 1.0 / (l2_norm(g, d) + detail::kPgdL2Guard);
  for (int64_t i = 0; i < d; ++i) cur[i] = detail::l2_move_element(cur[i], g[i], inv_norm, alpha);
  project_l2(x, config.eps, cur, d, config.box);
}

namespace {

// PGD over all batches: per batch, restarts on the examples not yet fooled, each
// a random start and `steps` projected steps (§3, §4).
class PgdRun : attack_impl::AttackRun {
 public:
  PgdRun(Classifier& model, const float* x, const int32_t* y, int64_t n, const AttackConfig& config,
         const int64_t* example_ids)
      : AttackRun({x, y, n, model.input_dim(), config, example_ids}), steps_(config.resolved_steps()),
        alpha_(static_cast<float>(config.resolved_step_size())),
        grad_(model, config.loss, capacity_, config.gradient_model),
        logit_(model, capacity_), cur_(static_cast<size_t>(capacity_ * in_.d)),
        g_(static_cast<size_t>(capacity_ * in_.d)),
        loss_(static_cast<size_t>(capacity_)), correct_(static_cast<size_t>(capacity_)) {}

  AttackResult run() {
    return run_batches([this](int64_t count) {
      for (int r = 0; r < in_.config.restarts; ++r) {
        std::vector<int64_t> active = attack_impl::not_fooled(fooled(), count);
        if (active.empty()) break;
        restart(active, r);
      }
    });
  }

 private:
  void restart(std::vector<int64_t>& active, int r) {
    const int64_t d = in_.d;
    const int64_t na0 = static_cast<int64_t>(active.size());
    NMODE_ATTACK_PARALLEL_FOR(na0 * d)
    for (int64_t a = 0; a < na0; ++a) {
      const int64_t j = active[a];
      const SplitMix64 rng = attack_impl::example_stream(in_.config.seed, attack_impl::kStreamPgd,
                                                         example_id(in_.example_ids, b0_ + j), r);
      pgd_start(xb() + j * d, d, in_.config, rng.state, cur_.data() + j * d);
    }
    // Only track_success reads the verdict at the iterates; it is the attacked
    // model's even when the gradients come from a gradient model.
    uint8_t* judged = in_.config.track_success ? correct_.data() : nullptr;
    const bool query = grad_.queries_attacked_model(judged != nullptr);
    for (int t = 0; t < steps_ && !active.empty(); ++t) {
      grad_.evaluate(cur_.data(), yb(), active, loss_.data(), g_.data(), judged, nonfinite());
      if (query)
        for (int64_t j : active) ++res_.queries[b0_ + j];
      if (r == 0 && t == 0)
        for (int64_t j : active)
          res_.zero_grad_start[b0_ + j] = !nonfinite()[j] && is_zero(g_.data() + j * d, d);
      if (in_.config.track_success) keep_misclassified(active);
      const int64_t na = static_cast<int64_t>(active.size());
      NMODE_ATTACK_PARALLEL_FOR(na * d)
      for (int64_t a = 0; a < na; ++a) {
        const int64_t j = active[a];
        pgd_step(xb() + j * d, g_.data() + j * d, d, in_.config, alpha_, cur_.data() + j * d);
      }
    }
    logit_.evaluate(cur_.data(), yb(), active, nullptr, correct_.data(), nonfinite());
    for (int64_t j : active) {
      ++res_.queries[b0_ + j];
      copy_row(cur_.data(), j, d, advb());
      if (!correct_[j]) fooled()[j] = 1;
    }
  }

  // The gradient call's logits judge x_t for free: the first misclassified
  // iterate is kept and its example leaves `active`.
  void keep_misclassified(std::vector<int64_t>& active) {
    std::vector<int64_t> still;
    for (int64_t j : active) {
      if (correct_[j]) {
        still.push_back(j);
      } else {
        fooled()[j] = 1;
        copy_row(cur_.data(), j, in_.d, advb());
      }
    }
    active.swap(still);
  }

  int steps_;
  float alpha_;
  GradientOracle grad_;
  LogitOracle logit_;
  std::vector<float> cur_, g_;
  std::vector<double> loss_;
  std::vector<uint8_t> correct_;
};

}  // namespace

AttackResult pgd_attack(Classifier& model, const float* x, const int32_t* y, int64_t n,
                        const AttackConfig& config, const int64_t* example_ids) {
  return attack_impl::check_and_run<PgdRun>(model, x, y, n, config, example_ids);
}

}  // namespace nmode
