// FGSM (L∞) and PGD (L∞ and L2) with random starts, restarts and optional
// success tracking (docs/attacks.md §2-§4).
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

AttackResult fgsm_attack(Classifier& model, const float* x, const int32_t* y, int64_t n,
                         const AttackConfig& config, const int64_t* example_ids) {
  (void)example_ids;  // FGSM draws nothing at random
  attack_impl::check_attack_inputs(model, x, y, n, config);
  const int64_t d = model.input_dim();
  AttackResult res = attack_impl::make_result(x, n, d);
  const int64_t cap = attack_impl::batch_capacity(config, n);
  GradientOracle grad(model, AttackLoss::CE, cap);
  LogitOracle logit(model, cap);
  const float eps = static_cast<float>(config.eps);
  std::vector<double> loss(static_cast<size_t>(cap));
  std::vector<float> g(static_cast<size_t>(cap * d));
  std::vector<uint8_t> correct(static_cast<size_t>(cap));

  attack_impl::for_each_batch(n, cap, config, [&](int64_t b0, int64_t nb) {
    const attack_impl::BatchRows rows(x, y, res, b0, d);
    std::vector<int64_t> active(static_cast<size_t>(nb));
    for (int64_t j = 0; j < nb; ++j) active[j] = j;

    grad.evaluate(rows.x, rows.y, active, loss.data(), g.data(), correct.data(), rows.nonfinite);
    NMODE_ATTACK_PARALLEL_FOR(nb * d)
    for (int64_t j = 0; j < nb; ++j) {
      const float* gj = g.data() + j * d;
      rows.zero_grad_start[j] = (!rows.nonfinite[j] && is_zero(gj, d)) ? 1 : 0;
      for (int64_t i = 0; i < d; ++i) rows.adv[j * d + i] = clip01(rows.x[j * d + i] + eps * sign0(gj[i]));
    }
    logit.evaluate(rows.adv, rows.y, active, nullptr, correct.data(), rows.nonfinite);
    for (int64_t j = 0; j < nb; ++j) {
      rows.fooled[j] = correct[j] ? 0 : 1;
      rows.queries[j] = 2;
    }
  });
  return res;
}

// x0 for PGD: x itself, or x plus a random start drawn from the example's stream.
// x, out: (d).
static void pgd_start(const float* x, int64_t d, const AttackConfig& config, SplitMix64 rng, float* out) {
  if (!config.random_start) {
    std::copy(x, x + d, out);
    return;
  }
  if (config.norm == Norm::Linf) {
    for (int64_t i = 0; i < d; ++i) {
      const double u = config.eps * (2.0 * rng.next_uniform01() - 1.0);  // Uniform[-eps, eps]
      out[i] = clip01(static_cast<float>(x[i] + u));
    }
    return;
  }
  std::vector<double> dir(static_cast<size_t>(d));
  double s = 0.0;
  for (int64_t i = 0; i < d; ++i) {
    dir[i] = rng.next_normal();
    s += dir[i] * dir[i];
  }
  double r = 1.0;
  if (config.l2_start == L2Start::UniformRadius) r = rng.next_uniform01();
  if (config.l2_start == L2Start::UniformVolume) r = std::pow(rng.next_uniform01(), 1.0 / static_cast<double>(d));
  const double scale = config.eps * r / (std::sqrt(s) + 1e-12);
  for (int64_t i = 0; i < d; ++i) out[i] = clip01(static_cast<float>(x[i] + scale * dir[i]));
}

// One PGD step from cur with gradient g, projected around x. x, g, cur: (d); tmp: (d) scratch.
static void pgd_step(const float* x, const float* g, int64_t d, const AttackConfig& config, float alpha,
                     float* cur, float* tmp) {
  const float eps = static_cast<float>(config.eps);
  if (config.norm == Norm::Linf) {
    for (int64_t i = 0; i < d; ++i) {
      const float v = cur[i] + alpha * sign0(g[i]);
      const float delta = std::min(std::max(v - x[i], -eps), eps);
      cur[i] = clip01(x[i] + delta);
    }
    return;
  }
  unit_direction(g, d, 1e-10, tmp);  // guard 1e-10 as torchattacks: zero gradient, zero step
  for (int64_t i = 0; i < d; ++i) cur[i] = cur[i] + alpha * tmp[i];
  project_l2(x, config.eps, cur, d);
}

AttackResult pgd_attack(Classifier& model, const float* x, const int32_t* y, int64_t n,
                        const AttackConfig& config, const int64_t* example_ids) {
  attack_impl::check_attack_inputs(model, x, y, n, config);
  const int64_t d = model.input_dim();
  AttackResult res = attack_impl::make_result(x, n, d);
  const int64_t cap = attack_impl::batch_capacity(config, n);
  const int steps = config.resolved_steps();
  const float alpha = static_cast<float>(config.resolved_step_size());
  GradientOracle grad(model, config.loss, cap);
  LogitOracle logit(model, cap);
  std::vector<float> cur(static_cast<size_t>(cap * d)), g(static_cast<size_t>(cap * d)),
      tmp(static_cast<size_t>(cap * d));
  std::vector<double> loss(static_cast<size_t>(cap));
  std::vector<uint8_t> correct(static_cast<size_t>(cap));

  attack_impl::for_each_batch(n, cap, config, [&](int64_t b0, int64_t nb) {
    const attack_impl::BatchRows rows(x, y, res, b0, d);

    for (int r = 0; r < config.restarts; ++r) {
      std::vector<int64_t> active = attack_impl::not_fooled(rows.fooled, nb);
      if (active.empty()) break;
      const int64_t na0 = static_cast<int64_t>(active.size());
      NMODE_ATTACK_PARALLEL_FOR(na0 * d)
      for (int64_t a = 0; a < na0; ++a) {
        const int64_t j = active[a];
        const SplitMix64 rng = attack_impl::example_stream(config.seed, attack_impl::kStreamPgd,
                                                           example_id(example_ids, b0 + j), r);
        pgd_start(rows.x + j * d, d, config, rng, cur.data() + j * d);
      }
      for (int t = 0; t < steps && !active.empty(); ++t) {
        grad.evaluate(cur.data(), rows.y, active, loss.data(), g.data(), correct.data(), rows.nonfinite);
        for (int64_t j : active) ++rows.queries[j];
        if (r == 0 && t == 0)
          for (int64_t j : active) rows.zero_grad_start[j] = (!rows.nonfinite[j] && is_zero(g.data() + j * d, d));
        if (config.track_success) {
          // The gradient call's logits judge x_t for free: keep the first misclassified iterate.
          std::vector<int64_t> still;
          for (int64_t j : active) {
            if (correct[j]) {
              still.push_back(j);
            } else {
              rows.fooled[j] = 1;
              copy_row(cur.data(), j, d, rows.adv);
            }
          }
          active.swap(still);
        }
        const int64_t na = static_cast<int64_t>(active.size());
        NMODE_ATTACK_PARALLEL_FOR(na * d)
        for (int64_t a = 0; a < na; ++a) {
          const int64_t j = active[a];
          pgd_step(rows.x + j * d, g.data() + j * d, d, config, alpha, cur.data() + j * d, tmp.data() + j * d);
        }
      }
      logit.evaluate(cur.data(), rows.y, active, nullptr, correct.data(), rows.nonfinite);
      for (int64_t j : active) {
        ++rows.queries[j];
        copy_row(cur.data(), j, d, rows.adv);
        if (!correct[j]) rows.fooled[j] = 1;
      }
    }
  });
  return res;
}

}  // namespace nmode
