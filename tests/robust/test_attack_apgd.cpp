// Tests of APGD: the integer checkpoint schedule, closed forms on linear models,
// the step-size rule replayed independently from the queried points, L_best
// monotonicity, N + 1 gradient calls per restart, zero-gradient and NaN handling.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "support/attack_test_models.hpp"
#include "nmode/attack.hpp"
#include "nmode/attack_ops.hpp"
#include "nmode/error.hpp"

namespace nmode {
namespace {

using test::LinearModel;
using test::TanhMlp;

AttackConfig apgd_config(Norm norm, double eps, int steps = 100) {
  AttackConfig c;
  c.kind = AttackKind::APGD;
  c.norm = norm;
  c.eps = eps;
  c.steps = steps;
  return c;
}

TEST(ApgdSchedule, CheckpointsMatchTheTableOfTheSpecification) {
  EXPECT_EQ(apgd_checkpoints(100), (std::vector<int>{22, 41, 57, 70, 80, 87, 93, 99}));
  EXPECT_EQ(apgd_checkpoints(1000), (std::vector<int>{220, 410, 570, 700, 800, 870, 930, 990}));
  EXPECT_EQ(apgd_checkpoints(50), (std::vector<int>{11, 21, 30, 38, 45}));
  EXPECT_EQ(apgd_checkpoints(10), (std::vector<int>{2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(apgd_checkpoints(1), (std::vector<int>{1}));
  EXPECT_THROW(apgd_checkpoints(0), InvalidArgument);
}

// Cross-entropy of float logits z: (k), written out from its definition.
double reference_ce(const float* z, int64_t k, int32_t y) {
  double m = z[0];
  for (int64_t c = 1; c < k; ++c) m = std::max(m, static_cast<double>(z[c]));
  double s = 0.0;
  for (int64_t c = 0; c < k; ++c) s += std::exp(z[c] - m);
  return m + std::log(s) - z[y];
}

TEST(ApgdClosedForm, LinfReachesTheMinimumMarginOfALinearModel) {
  const int64_t n = 8, d = 32;
  LinearModel model = test::random_linear2(d, 201, 0.3, 0.2);
  const std::vector<float> x = test::random_inputs(n, d, 202);
  const std::vector<int32_t> y = test::predicted_labels(model, x, n);
  for (float eps : {0.05f, 0.1f, 0.4f}) {
    const AttackResult r = apgd_attack(model, x.data(), y.data(), n, apgd_config(Norm::Linf, eps));
    for (int64_t e = 0; e < n; ++e) {
      std::vector<float> xs(x.begin() + e * d, x.begin() + (e + 1) * d);
      for (int64_t i = 0; i < d; ++i) {
        const double v = model.w()[y[e] * d + i] - model.w()[(1 - y[e]) * d + i];
        xs[i] = std::min(std::max(xs[i] - eps * (v > 0 ? 1.0f : -1.0f), 0.0f), 1.0f);
      }
      const double m_star = model.margin(xs.data(), y[e]);
      // Logits are O(1); 1e-5 leaves room for float rounding of the iterate (§7).
      EXPECT_NEAR(model.margin(r.x_best.data() + e * d, y[e]), m_star, 1e-5) << "eps " << eps << " example " << e;
      if (r.fooled[e]) {
        EXPECT_LE(model.margin(r.x_adv.data() + e * d, y[e]), 0.0);
      } else {
        EXPECT_TRUE(std::equal(x.begin() + e * d, x.begin() + (e + 1) * d, r.x_adv.begin() + e * d));
        EXPECT_GT(m_star, 0.0);  // unfooled only when the closed form says robust
      }
    }
  }
}

TEST(ApgdClosedForm, L2ReachesTheMinimumMarginOfALinearModel) {
  const int64_t n = 4, d = 32;
  const double eps = 0.5;
  LinearModel model = test::random_linear2(d, 211, 0.3, 0.0);
  const std::vector<float> x(n * d, 0.5f);
  const std::vector<int32_t> y = test::predicted_labels(model, x, n);
  double s = 0.0, vmax = 0.0;
  for (int64_t i = 0; i < d; ++i) {
    const double v = model.w()[i] - model.w()[d + i];
    s += v * v;
    vmax = std::max(vmax, std::fabs(v));
  }
  const double drop = eps * std::sqrt(s);
  ASSERT_LT(eps * vmax / std::sqrt(s), 0.5);  // the minimiser x - eps·v/‖v‖ lies inside the box
  const double m_min = model.margin(x.data(), y[0]) - drop;
  const AttackResult r = apgd_attack(model, x.data(), y.data(), n, apgd_config(Norm::L2, eps));
  for (int64_t e = 0; e < n; ++e)
    // The radial steps converge geometrically; what is left is float rounding of the iterate.
    EXPECT_NEAR(model.margin(r.x_best.data() + e * d, y[e]), m_min, 1e-5 * drop) << "example " << e;
}

// Replays the step-size rule of §5 from the loss history of one example,
// written from the specification's definitions (not from apgd_checkpoints).
std::vector<double> replay_eta(const std::vector<double>& h, int n_iter, double eta0) {
  // h: (n_iter + 1) losses: h[0] = L0 at the start, h[i + 1] = L_i.
  int k = std::max(static_cast<int>(0.22 * n_iter), 1);
  const int k_dec = std::max(static_cast<int>(0.03 * n_iter), 1);
  const int k_min = std::max(static_cast<int>(0.06 * n_iter), 1);
  std::vector<double> eta(static_cast<size_t>(n_iter) + 1, eta0);
  double l_best = h[0], l_best_at_check = h[0];
  bool reduced_at_check = true;
  int counter = 0;
  double cur = eta0;
  for (int i = 0; i < n_iter; ++i) {
    l_best = std::max(l_best, h[i + 1]);
    if (++counter == k) {
      int c = 0;
      for (int j = i - k + 1; j <= i; ++j) c += h[j + 1] > h[j] ? 1 : 0;
      const bool reduce = c <= 0.75 * k || (!reduced_at_check && l_best_at_check >= l_best);
      reduced_at_check = reduce;
      l_best_at_check = l_best;
      if (reduce) cur /= 2.0;
      k = std::max(k - k_dec, k_min);
      counter = 0;
    }
    eta[i + 1] = cur;
  }
  return eta;
}

TEST(ApgdStepSize, HalvingFollowsTheCheckpointRulesReplayedFromTheQueriedPoints) {
  const int64_t n = 6, d = 64, k = 10;
  TanhMlp mlp(d, 24, k, 221);
  const std::vector<float> x = test::random_inputs(n, d, 222);
  const std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  for (Norm norm : {Norm::Linf, Norm::L2})
    for (int n_iter : {100, 50, 10}) {
      test::CountingModel rec(mlp, /*record=*/true);
      AttackConfig c = apgd_config(norm, norm == Norm::Linf ? 0.03 : 0.3, n_iter);
      c.batch = 1;  // one example per call: the recorded rows are each example's iterates in order
      ApgdTrace trace;
      const AttackResult r = apgd_attack(rec, x.data(), y.data(), n, c, nullptr, &trace);
      ASSERT_EQ(rec.rows, n * (n_iter + 1));
      int halvings = 0;
      for (int64_t e = 0; e < n; ++e) {
        std::vector<double> h(static_cast<size_t>(n_iter) + 1);
        std::vector<float> z(k);
        for (int t = 0; t <= n_iter; ++t) {
          mlp.forward(rec.seen.data() + (e * (n_iter + 1) + t) * d, 1, z.data(), false);
          h[t] = reference_ce(z.data(), k, y[e]);
        }
        const std::vector<double> eta = replay_eta(h, n_iter, 2.0 * c.eps);
        double best = -1.0;
        for (int t = 0; t <= n_iter; ++t) {
          best = std::max(best, h[t]);
          const size_t slot = static_cast<size_t>(e * (n_iter + 1) + t);
          EXPECT_EQ(trace.eta[slot], eta[t]) << to_string(norm) << " N " << n_iter << " example " << e << " t " << t;
          EXPECT_EQ(trace.loss_best[slot], best) << to_string(norm) << " N " << n_iter << " example " << e;
          if (t > 0) {
            EXPECT_GE(trace.loss_best[slot], trace.loss_best[slot - 1]);  // L_best never decreases
          }
        }
        halvings += eta[n_iter] < 2.0 * c.eps;
        EXPECT_EQ(r.loss_best[e], best);
      }
      EXPECT_GT(halvings, 0) << "the replay must exercise at least one halving";
    }
}

// Projection onto the L∞ or L2 ball around x: (d) intersected with the box, written from §0.
void reference_project(const float* x, int64_t d, Norm norm, double eps, std::vector<double>& v) {
  if (norm == Norm::Linf) {
    for (int64_t i = 0; i < d; ++i) v[i] = std::min(std::max(v[i], x[i] - eps), x[i] + eps);
  } else {
    double s = 0.0;
    for (int64_t i = 0; i < d; ++i) s += (v[i] - x[i]) * (v[i] - x[i]);
    const double f = std::sqrt(s) > eps ? eps / std::sqrt(s) : 1.0;
    for (int64_t i = 0; i < d; ++i) v[i] = x[i] + (v[i] - x[i]) * f;
  }
  for (int64_t i = 0; i < d; ++i) v[i] = std::min(std::max(v[i], 0.0), 1.0);
}

TEST(ApgdStep, MomentumStepReplayedFromTheQueriedPoints) {
  // Recomputes every iterate from the previous ones: gradient step, momentum
  // (a = 1 at the first iteration, 0.75 after), projections, and the restart
  // from the best point when η halves, with x_prev kept.
  const int64_t n = 3, d = 64, k = 10;
  const int n_iter = 50;
  TanhMlp mlp(d, 24, k, 225);
  const std::vector<float> x = test::random_inputs(n, d, 226);
  const std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  for (Norm norm : {Norm::Linf, Norm::L2}) {
    test::CountingModel rec(mlp, /*record=*/true);
    AttackConfig c = apgd_config(norm, norm == Norm::Linf ? 0.03 : 0.3, n_iter);
    c.batch = 1;
    ApgdTrace trace;
    apgd_attack(rec, x.data(), y.data(), n, c, nullptr, &trace);
    int restarts_seen = 0;
    for (int64_t e = 0; e < n; ++e) {
      const float* xe = x.data() + e * d;
      auto row = [&](int t) { return rec.seen.data() + (e * (n_iter + 1) + t) * d; };
      auto grad_at = [&](const float* p) {
        std::vector<float> z(k), dz(k), g(d);
        std::vector<double> zd(k), dzd(k);
        mlp.forward(p, 1, z.data(), true);
        for (int j = 0; j < k; ++j) zd[j] = z[j];
        ce_loss(zd.data(), k, y[e], dzd.data());
        for (int j = 0; j < k; ++j) dz[j] = static_cast<float>(dzd[j]);
        mlp.backward_input(dz.data(), g.data());
        return std::make_pair(reference_ce(z.data(), k, y[e]), g);
      };
      std::vector<float> cur(row(0), row(0) + d), prev = cur;
      double best_loss = grad_at(row(0)).first;
      int best_t = 0;
      for (int i = 0; i < n_iter; ++i) {
        const std::vector<float> g = grad_at(cur.data()).second;
        const double eta = trace.eta[e * (n_iter + 1) + i];
        const double a = i == 0 ? 1.0 : 0.75;
        std::vector<double> z(d), v(d);
        double gn = 0.0;
        for (int64_t j = 0; j < d; ++j) gn += static_cast<double>(g[j]) * g[j];
        for (int64_t j = 0; j < d; ++j) {
          const double dir = norm == Norm::Linf ? (g[j] > 0) - (g[j] < 0) : g[j] / (std::sqrt(gn) + 1e-12);
          z[j] = cur[j] + eta * dir;
        }
        reference_project(xe, d, norm, c.eps, z);
        for (int64_t j = 0; j < d; ++j) v[j] = cur[j] + a * (z[j] - cur[j]) + (1.0 - a) * (cur[j] - prev[j]);
        reference_project(xe, d, norm, c.eps, v);
        const float* got = row(i + 1);
        // The attack works in float: a few ulps of 1 per coordinate.
        for (int64_t j = 0; j < d; ++j) ASSERT_NEAR(got[j], v[j], 1e-6) << to_string(norm) << " i " << i << " j " << j;
        prev = cur;
        cur.assign(got, got + d);
        const double loss = grad_at(got).first;
        if (loss > best_loss) {
          best_loss = loss;
          best_t = i + 1;
        }
        if (trace.eta[e * (n_iter + 1) + i + 1] < eta) {  // halved: restart from the best point
          cur.assign(row(best_t), row(best_t) + d);
          ++restarts_seen;
        }
      }
    }
    EXPECT_GT(restarts_seen, 0) << to_string(norm) << ": the replay must cover a restart from the best point";
  }
}

TEST(ApgdStepSize, ConstantLossHalvesAtEveryCheckpoint) {
  // Zero gradient: no loss ever increases, so condition 1 fires at all 8 checks of N = 100.
  const int64_t n = 3, d = 16;
  LinearModel flat(d, 3, std::vector<double>(3 * d, 0.0), {1.0, 0.0, -1.0});
  const std::vector<float> x = test::random_inputs(n, d, 231);
  const std::vector<int32_t> y(n, 0);
  for (Norm norm : {Norm::Linf, Norm::L2}) {
    const double eps = norm == Norm::Linf ? 0.3 : 1.0;
    ApgdTrace trace;
    const AttackResult r = apgd_attack(flat, x.data(), y.data(), n, apgd_config(norm, eps), nullptr, &trace);
    for (int64_t e = 0; e < n; ++e) {
      EXPECT_EQ(trace.eta[e * 101 + 100], 2.0 * eps / 256.0) << to_string(norm);
      for (int t = 0; t <= 100; ++t) {
        // η ∈ {2ε/2^j} with j = number of checkpoints passed.
        const double eta = trace.eta[e * 101 + t];
        const double j = std::log2(2.0 * eps / eta);
        EXPECT_EQ(j, std::round(j));
      }
    }
    EXPECT_EQ(r.count_zero_grad_starts(), n);
    EXPECT_EQ(r.count_numerical_failures(), 0);
    EXPECT_EQ(r.count_fooled(), 0);
    EXPECT_EQ(r.x_adv, x);  // nothing found: the clean point is returned
    for (float v : r.x_best) EXPECT_TRUE(std::isfinite(v));
  }
}

TEST(ApgdCost, ExactlyNPlusOneGradientCallsPerRestart) {
  const int64_t n = 5, d = 16;
  LinearModel flat(d, 3, std::vector<double>(3 * d, 0.0), {1.0, 0.0, -1.0});
  const std::vector<float> x = test::random_inputs(n, d, 241);
  const std::vector<int32_t> y(n, 0);
  for (int restarts : {1, 3}) {
    test::CountingModel counted(flat);
    AttackConfig c = apgd_config(Norm::Linf, 0.1);
    c.restarts = restarts;
    const AttackResult r = apgd_attack(counted, x.data(), y.data(), n, c);
    EXPECT_EQ(counted.grad_rows, n * 101 * restarts);
    EXPECT_EQ(counted.backward_calls, 101 * restarts);  // one batch
    EXPECT_EQ(counted.rows, counted.grad_rows);         // no extra forward passes
    for (int64_t q : r.queries) EXPECT_EQ(q, 101 * restarts);
  }
  // With real progress, restarts run only on the points not yet fooled.
  const int64_t m = 30, dm = 64;
  TanhMlp mlp(dm, 24, 10, 242);
  const std::vector<float> xm = test::random_inputs(m, dm, 243);
  const std::vector<int32_t> ym = test::predicted_labels(mlp, xm, m);
  test::CountingModel counted(mlp);
  AttackConfig c = apgd_config(Norm::Linf, 0.04, 20);
  c.restarts = 3;
  const AttackResult r = apgd_attack(counted, xm.data(), ym.data(), m, c);
  int64_t total = 0, fooled = 0;
  for (int64_t e = 0; e < m; ++e) {
    EXPECT_EQ(r.queries[e] % 21, 0);
    EXPECT_GE(r.queries[e], 21);
    if (!r.fooled[e]) {
      EXPECT_EQ(r.queries[e], 63);
    }
    total += r.queries[e];
    fooled += r.fooled[e];
  }
  EXPECT_EQ(counted.grad_rows, total);
  EXPECT_GT(fooled, 0);
  EXPECT_LT(fooled, m);
}

TEST(ApgdSuccess, FooledPointsAreMisclassifiedOnReevaluation) {
  const int64_t n = 30, d = 64, k = 10;
  TanhMlp mlp(d, 24, k, 251);
  const std::vector<float> x = test::random_inputs(n, d, 252);
  const std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  for (AttackLoss loss : {AttackLoss::CE, AttackLoss::DLR})
    for (Norm norm : {Norm::Linf, Norm::L2}) {
      AttackConfig c = apgd_config(norm, norm == Norm::Linf ? 0.04 : 0.4, 30);
      c.loss = loss;
      const AttackResult r = apgd_attack(mlp, x.data(), y.data(), n, c);
      std::vector<float> z(n * k);
      mlp.forward(r.x_adv.data(), n, z.data(), false);
      int64_t fooled = 0;
      for (int64_t e = 0; e < n; ++e) {
        int best = 0;
        for (int j = 1; j < k; ++j)
          if (z[e * k + j] > z[e * k + best]) best = j;
        EXPECT_EQ(r.fooled[e] != 0, best != y[e]) << c.describe() << " example " << e;
        fooled += r.fooled[e];
      }
      EXPECT_GT(fooled, 0) << c.describe();
    }
}

TEST(ApgdNumerics, NanLogitsNeverReachTheIterate) {
  const int64_t n = 4, d = 16;
  TanhMlp mlp(d, 8, 4, 261);
  const std::vector<float> x = test::random_inputs(n, d, 262);
  const std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  test::NanBelowModel all_nan(mlp, 2.0f);  // every input gives NaN logits
  for (Norm norm : {Norm::Linf, Norm::L2}) {
    ApgdTrace trace;
    const AttackResult r = apgd_attack(all_nan, x.data(), y.data(), n, apgd_config(norm, 0.2), nullptr, &trace);
    EXPECT_EQ(r.count_numerical_failures(), n);
    EXPECT_EQ(r.count_zero_grad_starts(), 0);  // a failure, not a zero gradient
    for (float v : r.x_adv) EXPECT_TRUE(std::isfinite(v));
    for (float v : r.x_best) EXPECT_TRUE(std::isfinite(v));
    // NaN losses never count as increases, so η halves at every check.
    for (int64_t e = 0; e < n; ++e) EXPECT_EQ(trace.eta[e * 101 + 100], 0.4 / 256.0);
  }
}

}  // namespace
}  // namespace nmode
