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

// x0: the clean x moved to the boundary of the ball in a random direction, then clamped.
// x, out: (d).
void apgd_start(const float* x, int64_t d, Norm norm, double eps, SplitMix64 rng, float* out) {
  std::vector<double> t(static_cast<size_t>(d));
  double scale = 0.0;
  if (norm == Norm::Linf) {
    double tmax = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      t[i] = 2.0 * rng.next_uniform01() - 1.0;
      tmax = std::max(tmax, std::fabs(t[i]));
    }
    scale = eps / (tmax + 1e-12);
  } else {
    double s = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      t[i] = rng.next_normal();
      s += t[i] * t[i];
    }
    scale = eps / (std::sqrt(s) + 1e-12);
  }
  for (int64_t i = 0; i < d; ++i) out[i] = clip01(static_cast<float>(x[i] + scale * t[i]));
}

// Gradient step then momentum step, each projected (§5 step 2). x, cur, prev, g, tmp: (d).
// a: momentum weight of the new step; prev becomes the old cur.
void apgd_step(const float* x, int64_t d, Norm norm, double eps, double eta, double a, float* cur,
               float* prev, const float* g, float* tmp) {
  const float fa = static_cast<float>(a);
  const float fb = static_cast<float>(1.0 - a);
  const float feta = static_cast<float>(eta);
  if (norm == Norm::Linf) {
    for (int64_t i = 0; i < d; ++i) tmp[i] = cur[i] + feta * sign0(g[i]);
    project_linf(x, static_cast<float>(eps), tmp, d);
  } else {
    unit_direction(g, d, 1e-12, tmp);  // guard 1e-12 as auto-attack
    for (int64_t i = 0; i < d; ++i) tmp[i] = cur[i] + feta * tmp[i];
    project_l2(x, eps, tmp, d);
  }
  for (int64_t i = 0; i < d; ++i) {
    const float m = cur[i] - prev[i];
    prev[i] = cur[i];
    tmp[i] = cur[i] + fa * (tmp[i] - cur[i]) + fb * m;
  }
  if (norm == Norm::Linf) project_linf(x, static_cast<float>(eps), tmp, d);
  else project_l2(x, eps, tmp, d);
  std::copy(tmp, tmp + d, cur);
}

}  // namespace

AttackResult apgd_attack(Classifier& model, const float* x, const int32_t* y, int64_t n,
                         const AttackConfig& config, const int64_t* example_ids, ApgdTrace* trace) {
  attack_impl::check_attack_inputs(model, x, y, n, config);
  const int64_t d = model.input_dim();
  AttackResult res = attack_impl::make_result(x, n, d);
  res.x_best.assign(x, x + n * d);
  res.loss_best.assign(static_cast<size_t>(n), -std::numeric_limits<double>::infinity());
  const int n_iter = config.resolved_steps();
  const double eta0 = config.resolved_step_size();
  const double rho = 0.75, momentum = 0.75;
  const std::vector<int> checks = apgd_checkpoints(n_iter);
  // window[i + 1] = k when a check happens after i + 1 completed iterations, 0 otherwise.
  std::vector<int> window(static_cast<size_t>(n_iter) + 1, 0);
  for (size_t c = 0; c < checks.size(); ++c) window[checks[c]] = checks[c] - (c ? checks[c - 1] : 0);
  if (trace) {
    trace->n_iter = n_iter;
    trace->loss_best.assign(static_cast<size_t>(n * (n_iter + 1)), std::numeric_limits<double>::quiet_NaN());
    trace->eta.assign(static_cast<size_t>(n * (n_iter + 1)), std::numeric_limits<double>::quiet_NaN());
  }
  const int64_t cap = std::min<int64_t>(config.batch, std::max<int64_t>(n, 1));
  GradientOracle oracle(model, config.loss, cap);
  ApgdState s(cap, d);
  std::vector<float> found(static_cast<size_t>(cap * d));

  for (int64_t b0 = 0; b0 < n; b0 += cap) {
    const int64_t nb = std::min(cap, n - b0);
    const float* xb = x + b0 * d;
    const int32_t* yb = y + b0;
    uint8_t* fooled = res.fooled.data() + b0;
    uint8_t* nonfinite = res.numerical_failure.data() + b0;
    auto record = [&](const std::vector<int64_t>& active, int r, int slot) {
      if (!trace || r != 0) return;
      for (int64_t j : active) {
        trace->loss_best[(b0 + j) * (n_iter + 1) + slot] = s.loss_best[j];
        trace->eta[(b0 + j) * (n_iter + 1) + slot] = s.eta[j];
      }
    };
    // Marks the misclassified iterates as found (the last such point is returned).
    auto note_success = [&](const std::vector<int64_t>& active) {
      for (int64_t j : active)
        if (!s.correct[j]) {
          fooled[j] = 1;
          std::copy(s.cur.data() + j * d, s.cur.data() + (j + 1) * d, found.data() + j * d);
        }
    };

    for (int r = 0; r < config.restarts; ++r) {
      std::vector<int64_t> active;
      for (int64_t j = 0; j < nb; ++j)
        if (!fooled[j]) active.push_back(j);
      if (active.empty()) break;
      const int64_t na = static_cast<int64_t>(active.size());

      NMODE_ATTACK_PARALLEL_FOR(na * d)
      for (int64_t a = 0; a < na; ++a) {
        const int64_t j = active[a];
        const SplitMix64 rng = attack_impl::example_stream(config.seed, attack_impl::kStreamApgd,
                                                           example_id(example_ids, b0 + j), r);
        apgd_start(xb + j * d, d, config.norm, config.eps, rng, s.cur.data() + j * d);
      }
      oracle.evaluate(s.cur.data(), yb, active, s.loss.data(), s.g.data(), s.correct.data(), nonfinite);
      note_success(active);
      for (int64_t j : active) {
        if (r == 0) {
          bool zero = !nonfinite[j];
          for (int64_t i = 0; i < d && zero; ++i) zero = s.g[j * d + i] == 0.0f;
          res.zero_grad_start[b0 + j] = zero ? 1 : 0;
        }
        std::copy(s.cur.data() + j * d, s.cur.data() + (j + 1) * d, s.prev.data() + j * d);
        std::copy(s.cur.data() + j * d, s.cur.data() + (j + 1) * d, s.best.data() + j * d);
        std::copy(s.g.data() + j * d, s.g.data() + (j + 1) * d, s.g_best.data() + j * d);
        s.loss_best[j] = s.loss[j];
        s.loss_prev[j] = s.loss[j];
        s.loss_best_at_check[j] = s.loss[j];
        s.reduced_at_check[j] = 1;  // condition 2 cannot fire at the first checkpoint
        s.increases[j] = 0;
        s.eta[j] = eta0;
      }
      record(active, r, 0);

      for (int i = 0; i < n_iter; ++i) {
        const double a_mom = (i == 0) ? 1.0 : momentum;
        NMODE_ATTACK_PARALLEL_FOR(na * d)
        for (int64_t a = 0; a < na; ++a) {
          const int64_t j = active[a];
          apgd_step(xb + j * d, d, config.norm, config.eps, s.eta[j], a_mom, s.cur.data() + j * d,
                    s.prev.data() + j * d, s.g.data() + j * d, s.tmp.data() + j * d);
        }
        oracle.evaluate(s.cur.data(), yb, active, s.loss.data(), s.g.data(), s.correct.data(), nonfinite);
        note_success(active);
        const int k = window[i + 1];
        for (int64_t j : active) {
          const double li = s.loss[j];  // NaN fails every comparison: no update, no increase
          if (li > s.loss_best[j]) {
            s.loss_best[j] = li;
            std::copy(s.cur.data() + j * d, s.cur.data() + (j + 1) * d, s.best.data() + j * d);
            std::copy(s.g.data() + j * d, s.g.data() + (j + 1) * d, s.g_best.data() + j * d);
          }
          if (li > s.loss_prev[j]) ++s.increases[j];
          s.loss_prev[j] = li;
          if (k == 0) continue;
          // Checkpoint: halve η after too few successful steps (cond1, "<=" as the
          // reference code) or no progress since the last check at an unchanged η (cond2).
          const bool cond1 = s.increases[j] <= rho * k;
          const bool cond2 = !s.reduced_at_check[j] && s.loss_best_at_check[j] >= s.loss_best[j];
          const bool reduce = cond1 || cond2;
          s.reduced_at_check[j] = reduce ? 1 : 0;
          s.loss_best_at_check[j] = s.loss_best[j];
          s.increases[j] = 0;
          if (reduce) {
            // Restart from the best point; prev is kept, so momentum is best - prev.
            s.eta[j] *= 0.5;
            std::copy(s.best.data() + j * d, s.best.data() + (j + 1) * d, s.cur.data() + j * d);
            std::copy(s.g_best.data() + j * d, s.g_best.data() + (j + 1) * d, s.g.data() + j * d);
          }
        }
        record(active, r, i + 1);
      }
      for (int64_t j : active) {
        res.queries[b0 + j] += n_iter + 1;
        const int64_t g_idx = b0 + j;
        if (r == 0 || s.loss_best[j] > res.loss_best[g_idx]) {
          res.loss_best[g_idx] = s.loss_best[j];
          std::copy(s.best.data() + j * d, s.best.data() + (j + 1) * d, res.x_best.data() + g_idx * d);
        }
      }
    }
    for (int64_t j = 0; j < nb; ++j)
      if (fooled[j])
        std::copy(found.data() + j * d, found.data() + (j + 1) * d, res.x_adv.data() + (b0 + j) * d);
    if (config.progress) config.progress(b0 + nb, n);
  }
  return res;
}

}  // namespace nmode
