// The robustness evaluation protocol (docs/attacks.md §1): clean pass, attacks
// on the still-robust points only, feasibility re-check of every returned point,
// re-evaluation by the caller, per-point worst case over an ensemble.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "robust/attack_common.hpp"
#include "nmode/attack_ops.hpp"
#include "nmode/error.hpp"

namespace nmode {

using attack_impl::LogitOracle;

// correct[i] = pred(f(pts_i)) == y_i with finite logits; nonfinite[i] |= non-finite logits.
// pts: (n, d); y, correct, nonfinite: (n).
static void evaluate_correct(Classifier& model, const float* pts, const int32_t* y, int64_t n, int64_t batch,
                             uint8_t* correct, uint8_t* nonfinite) {
  const int64_t d = model.input_dim();
  const int64_t cap = std::min<int64_t>(batch, std::max<int64_t>(n, 1));
  LogitOracle oracle(model, cap);
  for (int64_t b0 = 0; b0 < n; b0 += cap) {
    const int64_t nb = std::min(cap, n - b0);
    std::vector<int64_t> all(static_cast<size_t>(nb));
    for (int64_t j = 0; j < nb; ++j) all[j] = j;
    oracle.evaluate(pts + b0 * d, y + b0, all, nullptr, correct + b0, nonfinite + b0);
  }
}

void check_perturbation(const float* x, const float* x_adv, int64_t n, int64_t d, Norm norm, double eps,
                        const std::string& source, const int64_t* example_ids, const Box& box) {
  const bool linf_ball = norm == Norm::Linf;
  // Float rounding of x + δ moves each coordinate by at most half an ulp of 1.
  const double bound = linf_ball ? eps + 1e-6 : eps * (1.0 + 1e-5) + 1e-6;
  for (int64_t e = 0; e < n; ++e) {
    auto which = [&] { return std::to_string(attack_impl::example_id(example_ids, e)); };
    const float* xe = x + e * d;
    const float* ae = x_adv + e * d;
    double linf = 0.0, l2sq = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      if (!box.contains(ae[i]))
        throw Error(source + ": example " + which() + " is outside the threat model: value " +
                    std::to_string(ae[i]) + " at index " + std::to_string(i) + " is not a finite number in [" +
                    std::to_string(box.lo) + ", " + std::to_string(box.hi) + "]");
      const double delta = static_cast<double>(ae[i]) - xe[i];
      linf = std::max(linf, std::fabs(delta));
      l2sq += delta * delta;
    }
    const double dist = linf_ball ? linf : std::sqrt(l2sq);
    if (dist > bound) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s norm of the perturbation is %.9g > eps %.9g", to_string(norm), dist, eps);
      throw Error(source + ": example " + which() + " is outside the threat model: " + buf);
    }
  }
}

static int64_t count_ones(const std::vector<uint8_t>& v) {
  int64_t c = 0;
  for (uint8_t b : v) c += b ? 1 : 0;
  return c;
}

RobustReport evaluate_ensemble(Classifier& model, const float* x, const int32_t* y, int64_t n,
                               const std::vector<AttackConfig>& configs) {
  if (configs.empty()) throw InvalidArgument("evaluate_ensemble: the list of attacks is empty");
  for (const AttackConfig& c : configs) c.validate();  // fail before any work
  attack_impl::check_attack_inputs(model, x, y, n, configs.front());
  const int64_t d = model.input_dim();

  RobustReport rep;
  rep.n_total = n;
  rep.clean_correct.assign(static_cast<size_t>(n), 0);
  rep.numerical_failure.assign(static_cast<size_t>(n), 0);
  rep.broken_by.assign(static_cast<size_t>(n), -1);
  rep.x_adv.assign(x, x + n * d);
  std::vector<uint8_t> zero_grad(static_cast<size_t>(n), 0);
  evaluate_correct(model, x, y, n, configs.front().batch, rep.clean_correct.data(), rep.numerical_failure.data());
  rep.robust = rep.clean_correct;

  for (size_t stage = 0; stage < configs.size(); ++stage) {
    const AttackConfig& cfg = configs[stage];
    rep.attacks.push_back(cfg.describe());
    // Only the points every previous attack failed on (clean mistakes are never attacked).
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < n; ++i)
      if (rep.robust[i]) ids.push_back(i);
    const int64_t m = static_cast<int64_t>(ids.size());
    std::vector<float> xs(static_cast<size_t>(m * d));
    std::vector<int32_t> ys(static_cast<size_t>(m));
    for (int64_t a = 0; a < m; ++a) {
      std::copy(x + ids[a] * d, x + (ids[a] + 1) * d, xs.data() + a * d);
      ys[a] = y[ids[a]];
    }
    const AttackResult res = run_attack(model, xs.data(), ys.data(), m, cfg, ids.data());
    // A violation is a bug in the attack: abort instead of reporting a number.
    check_perturbation(xs.data(), res.x_adv.data(), m, d, cfg.norm, cfg.eps,
                       "attack " + cfg.describe() + " (a bug in the attack)", ids.data(), cfg.box);
    // The attack's own verdict is never trusted: evaluate the returned points again.
    std::vector<uint8_t> correct(static_cast<size_t>(m), 0), nonfinite(static_cast<size_t>(m), 0);
    evaluate_correct(model, res.x_adv.data(), ys.data(), m, cfg.batch, correct.data(), nonfinite.data());
    for (int64_t a = 0; a < m; ++a) {
      const int64_t i = ids[a];
      std::copy(res.x_adv.data() + a * d, res.x_adv.data() + (a + 1) * d, rep.x_adv.data() + i * d);
      if (!correct[a]) {
        rep.robust[i] = 0;
        rep.broken_by[i] = static_cast<int32_t>(stage);
      }
      if (nonfinite[a] || res.numerical_failure[a]) rep.numerical_failure[i] = 1;
      if (res.zero_grad_start[a]) zero_grad[i] = 1;
      rep.queries += res.queries[a];
    }
    rep.robust_after_stage.push_back(count_ones(rep.robust));
  }

  rep.n_clean_correct = count_ones(rep.clean_correct);
  rep.n_robust = count_ones(rep.robust);
  rep.numerical_failures = count_ones(rep.numerical_failure);
  rep.zero_grad_starts = count_ones(zero_grad);
  if (n > 0) {
    rep.clean_accuracy = static_cast<double>(rep.n_clean_correct) / static_cast<double>(n);
    rep.robust_accuracy = static_cast<double>(rep.n_robust) / static_cast<double>(n);
  }
  return rep;
}

RobustReport evaluate_robustness(Classifier& model, const float* x, const int32_t* y, int64_t n,
                                 const AttackConfig& config) {
  return evaluate_ensemble(model, x, y, n, std::vector<AttackConfig>{config});
}

}  // namespace nmode
