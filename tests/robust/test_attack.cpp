// Tests of FGSM, PGD and the evaluation protocol: feasibility for every attack,
// closed forms on linear models, PGD = FGSM identity, determinism (seed, batch
// size, threads), config checks, and robust accuracy against an exact reference.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "support/attack_test_models.hpp"
#include "nmode/attack.hpp"
#include "nmode/error.hpp"

namespace nmode {
namespace {

using test::LinearModel;
using test::TanhMlp;

AttackConfig make_config(AttackKind kind, Norm norm, double eps) {
  AttackConfig c;
  c.kind = kind;
  c.norm = norm;
  c.eps = eps;
  return c;
}

// Independent check of §1: finite, in the box, in the ball (tolerances of §1).
void expect_feasible(const std::vector<float>& x, const std::vector<float>& adv, int64_t n, int64_t d, Norm norm,
                     double eps, const std::string& what) {
  ASSERT_EQ(adv.size(), x.size()) << what;
  for (int64_t e = 0; e < n; ++e) {
    double linf = 0.0, l2 = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      const float v = adv[e * d + i];
      ASSERT_TRUE(std::isfinite(v) && v >= 0.0f && v <= 1.0f) << what << " example " << e << " value " << v;
      const double delta = static_cast<double>(v) - x[e * d + i];
      linf = std::max(linf, std::fabs(delta));
      l2 += delta * delta;
    }
    if (norm == Norm::Linf) EXPECT_LE(linf, eps + 1e-6) << what << " example " << e;
    else EXPECT_LE(std::sqrt(l2), eps * (1.0 + 1e-5) + 1e-6) << what << " example " << e;
  }
}

// The attack configurations under test, with budgets small enough for a fast test.
std::vector<AttackConfig> all_attacks(double eps_linf, double eps_l2, uint64_t seed) {
  std::vector<AttackConfig> cs;
  cs.push_back(make_config(AttackKind::FGSM, Norm::Linf, eps_linf));
  for (Norm norm : {Norm::Linf, Norm::L2}) {
    const double eps = norm == Norm::Linf ? eps_linf : eps_l2;
    AttackConfig pgd = make_config(AttackKind::PGD, norm, eps);
    pgd.steps = 10;
    pgd.restarts = 2;
    cs.push_back(pgd);
    AttackConfig apgd = make_config(AttackKind::APGD, norm, eps);
    apgd.steps = 20;
    cs.push_back(apgd);
  }
  AttackConfig sq = make_config(AttackKind::Square, Norm::Linf, eps_linf);
  sq.n_queries = 60;
  cs.push_back(sq);
  for (AttackConfig& c : cs) c.seed = seed;
  return cs;
}

TEST(AttackFeasibility, EveryAttackStaysInBallAndBoxForEveryEps) {
  const int64_t n = 20, d = 64;  // 8×8 image for Square
  TanhMlp mlp(d, 24, 10, 11);
  const std::vector<float> x = test::random_inputs(n, d, 12);
  const std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  // L∞ 1.0 and 1.5 reach the whole box; L2 8 = √64 is the box's diameter.
  const double eps_linf[] = {0.0, 0.05, 0.3, 1.0, 1.5};
  const double eps_l2[] = {0.0, 0.5, 2.0, 8.0, 12.0};
  for (int e = 0; e < 5; ++e)
    for (uint64_t seed : {0u, 5u})
      for (const AttackConfig& c : all_attacks(eps_linf[e], eps_l2[e], seed)) {
        const AttackResult r = run_attack(mlp, x.data(), y.data(), n, c);
        expect_feasible(x, r.x_adv, n, d, c.norm, c.eps, c.describe());
        if (!r.x_best.empty()) expect_feasible(x, r.x_best, n, d, c.norm, c.eps, c.describe() + " x_best");
        if (c.eps == 0.0) {
          EXPECT_EQ(r.x_adv, x) << c.describe() << ": eps = 0 must return x exactly";
          EXPECT_EQ(r.count_fooled(), 0) << c.describe();
        }
      }
}

// Data in its own box (e.g. standardised features in [-2, 3]): refused by default,
// accepted with the box given, and every attack's points stay inside it.
TEST(AttackFeasibility, AGivenBoxIsHonouredByEveryAttack) {
  const int64_t n = 12, d = 64;
  TanhMlp mlp(d, 24, 10, 13);
  std::vector<float> x = test::random_inputs(n, d, 14);
  for (float& v : x) v = -2.0f + 5.0f * v;  // [0, 1] -> [-2, 3]
  const std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  const Box box{-2.0f, 3.0f};
  for (const AttackConfig& base : all_attacks(1.5, 12.0, 3)) {
    try {
      run_attack(mlp, x.data(), y.data(), n, base);
      ADD_FAILURE() << base.describe() << ": inputs outside [0, 1] were accepted without a box";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("in the box [0"), std::string::npos) << e.what();
    }
    AttackConfig c = base;
    c.box = box;
    const AttackResult r = run_attack(mlp, x.data(), y.data(), n, c);
    for (size_t i = 0; i < r.x_adv.size(); ++i) {
      ASSERT_GE(r.x_adv[i], box.lo) << c.describe();
      ASSERT_LE(r.x_adv[i], box.hi) << c.describe();
    }
    EXPECT_NO_THROW(check_perturbation(x.data(), r.x_adv.data(), n, d, c.norm, c.eps, "test", nullptr, box));
    EXPECT_THROW(check_perturbation(x.data(), r.x_adv.data(), n, d, c.norm, c.eps, "test"), nmode::Error)
        << c.describe() << ": with eps 1.5 some point must leave [0, 1]";
  }
  AttackConfig bad = make_config(AttackKind::PGD, Norm::Linf, 0.1);
  bad.box = Box{1.0f, 1.0f};
  EXPECT_THROW(bad.validate(), InvalidArgument);
}

// 2-class linear model: the smallest margin over the L∞ ball ∩ box is at
// x*_i = clip01(x_i - eps·sign(v_i)), v = w_y - w_other.
struct LinfClosedForm {
  static constexpr int64_t n = 8, d = 32;
  LinearModel model = test::random_linear2(d, 21, 0.3, 0.2);
  std::vector<float> x = test::random_inputs(n, d, 22);
  std::vector<int32_t> y = test::predicted_labels(model, x, n);

  std::vector<float> x_star(float eps) const {
    std::vector<float> xs(x.size());
    for (int64_t e = 0; e < n; ++e)
      for (int64_t i = 0; i < d; ++i) {
        const double v = model.w()[y[e] * d + i] - model.w()[(1 - y[e]) * d + i];
        const float s = v > 0 ? 1.0f : (v < 0 ? -1.0f : 0.0f);
        xs[e * d + i] = std::min(std::max(x[e * d + i] - eps * s, 0.0f), 1.0f);
      }
    return xs;
  }
};

TEST(AttackLinearClosedForm, FgsmHitsTheMinimiserExactly) {
  LinfClosedForm cf;
  for (float eps : {0.05f, 0.1f, 0.4f}) {
    const AttackConfig c = make_config(AttackKind::FGSM, Norm::Linf, eps);
    const AttackResult r = fgsm_attack(cf.model, cf.x.data(), cf.y.data(), cf.n, c);
    EXPECT_EQ(r.x_adv, cf.x_star(eps)) << "eps " << eps;
  }
}

TEST(AttackLinearClosedForm, PgdLinfReachesTheMinimumMargin) {
  LinfClosedForm cf;
  for (bool random_start : {false, true})
    for (float eps : {0.05f, 0.1f, 0.4f}) {
      AttackConfig c = make_config(AttackKind::PGD, Norm::Linf, eps);
      c.random_start = random_start;
      const AttackResult r = pgd_attack(cf.model, cf.x.data(), cf.y.data(), cf.n, c);
      const std::vector<float> xs = cf.x_star(eps);
      for (int64_t e = 0; e < cf.n; ++e)
        // Logits are O(1); 1e-5 leaves room for float rounding of the iterate (§7).
        EXPECT_NEAR(cf.model.margin(r.x_adv.data() + e * cf.d, cf.y[e]), cf.model.margin(xs.data() + e * cf.d, cf.y[e]),
                    1e-5)
            << "eps " << eps << " random start " << random_start << " example " << e;
    }
}

// x = 0.5 everywhere, so the L2 minimiser x - eps·v/‖v‖ lies inside the box.
struct L2ClosedForm {
  static constexpr int64_t n = 4, d = 32;
  static constexpr double eps = 0.5;
  LinearModel model = test::random_linear2(d, 31, 0.3, 0.0);
  std::vector<float> x = std::vector<float>(n * d, 0.5f);
  std::vector<int32_t> y = test::predicted_labels(model, x, n);

  double vnorm() const {
    double s = 0.0, vmax = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      const double v = model.w()[i] - model.w()[d + i];
      s += v * v;
      vmax = std::max(vmax, std::fabs(v));
    }
    EXPECT_LT(eps * vmax / std::sqrt(s), 0.5) << "the minimiser must stay inside the box";
    return std::sqrt(s);
  }
  double min_margin() const { return model.margin(x.data(), y[0]) - eps * vnorm(); }
};

TEST(AttackLinearClosedForm, PgdL2ReachesTheMinimumMargin) {
  L2ClosedForm cf;
  const double drop = L2ClosedForm::eps * cf.vnorm();
  AttackConfig c = make_config(AttackKind::PGD, Norm::L2, L2ClosedForm::eps);
  c.random_start = false;
  AttackResult r = pgd_attack(cf.model, cf.x.data(), cf.y.data(), cf.n, c);
  for (int64_t e = 0; e < cf.n; ++e)
    // Straight path along -v: only float rounding separates it from the minimiser.
    EXPECT_NEAR(cf.model.margin(r.x_adv.data() + e * cf.d, cf.y[e]), cf.min_margin(), 1e-5 * drop);
  for (L2Start start : {L2Start::UniformRadius, L2Start::Sphere, L2Start::UniformVolume}) {
    c.random_start = true;
    c.l2_start = start;
    r = pgd_attack(cf.model, cf.x.data(), cf.y.data(), cf.n, c);
    for (int64_t e = 0; e < cf.n; ++e) {
      const double m = cf.model.margin(r.x_adv.data() + e * cf.d, cf.y[e]);
      EXPECT_GE(m, cf.min_margin() - 1e-6 * drop);  // never below the true minimum
      // The radial projection turns the iterate slowly: ~2% of eps‖v‖ left after 40 steps (§7).
      EXPECT_LE(m - cf.min_margin(), 0.05 * drop) << to_string(start) << " example " << e;
    }
  }
}

TEST(AttackPgd, OneFullStepWithoutRandomStartEqualsFgsm) {
  const int64_t n = 16, d = 64;
  TanhMlp mlp(d, 24, 10, 41);
  const std::vector<float> x = test::random_inputs(n, d, 42);
  const std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  for (double eps : {0.1, 0.3}) {
    const AttackResult f = fgsm_attack(mlp, x.data(), y.data(), n, make_config(AttackKind::FGSM, Norm::Linf, eps));
    AttackConfig c = make_config(AttackKind::PGD, Norm::Linf, eps);
    c.random_start = false;
    c.steps = 1;
    c.step_size = eps;
    const AttackResult p = pgd_attack(mlp, x.data(), y.data(), n, c);
    for (size_t i = 0; i < x.size(); ++i)
      // (x + eps) - x need not equal eps in float32: at most one ulp of 1 (§3).
      ASSERT_NEAR(p.x_adv[i], f.x_adv[i], 2.4e-7) << "eps " << eps << " entry " << i;
  }
}

TEST(AttackPgd, RandomStartMovesThePointAndDependsOnTheSeed) {
  const int64_t n = 4, d = 64;
  TanhMlp mlp(d, 16, 10, 51);
  const std::vector<float> x(n * d, 0.5f);
  const std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  for (Norm norm : {Norm::Linf, Norm::L2}) {
    // One step of size 0 returns the random start itself.
    AttackConfig c = make_config(AttackKind::PGD, norm, norm == Norm::Linf ? 0.1 : 1.0);
    c.steps = 1;
    c.step_size = 0.0;
    const AttackResult a = pgd_attack(mlp, x.data(), y.data(), n, c);
    c.seed = 1;
    const AttackResult b = pgd_attack(mlp, x.data(), y.data(), n, c);
    EXPECT_NE(a.x_adv, x) << to_string(norm) << ": the random start must be added to x";
    EXPECT_NE(a.x_adv, b.x_adv) << to_string(norm) << ": a different seed must change the start";
    // Different examples get different streams even with identical inputs.
    EXPECT_FALSE(std::equal(a.x_adv.begin(), a.x_adv.begin() + d, a.x_adv.begin() + d));
  }
}

TEST(AttackRandomStart, StartsFollowTheirDistributions) {
  // x = 0.5 and small eps: no clamping, so x0 - x is the drawn perturbation itself.
  const int64_t n = 64, d = 64;
  LinearModel model = test::random_linear2(d, 55, 0.3, 0.0);
  const std::vector<float> x(n * d, 0.5f);
  const std::vector<int32_t> y = test::predicted_labels(model, x, n);
  const double eps = 0.2;
  auto deltas = [&](const AttackConfig& c) {
    AttackConfig s = c;
    s.steps = 1;
    s.step_size = 0.0;  // PGD with a zero step returns its start
    const AttackResult r = pgd_attack(model, x.data(), y.data(), n, s);
    std::vector<double> out(r.x_adv.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(r.x_adv[i]) - x[i];
    return out;
  };
  AttackConfig c;
  c.kind = AttackKind::PGD;
  c.eps = eps;
  // PGD L∞: i.i.d. Uniform[-eps, eps]: mean 0 and variance eps²/3 (4096 draws: 5 standard errors).
  std::vector<double> u = deltas(c);
  const double count = static_cast<double>(u.size());
  double mean = 0.0, var = 0.0, lo = 1.0, hi = -1.0;
  for (double v : u) {
    mean += v / count;
    var += v * v / count;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_NEAR(mean, 0.0, 5.0 * eps / std::sqrt(3.0 * count));
  EXPECT_NEAR(var, eps * eps / 3.0, 5.0 * eps * eps * 0.3 / std::sqrt(count));
  EXPECT_LT(lo, -0.99 * eps);
  EXPECT_GT(hi, 0.99 * eps);
  // PGD L2: radius r·eps with r ~ U[0,1) (mean eps/2), on the sphere, or ~ eps·U^(1/d) (mean eps·d/(d+1)).
  c.norm = Norm::L2;
  for (L2Start start : {L2Start::UniformRadius, L2Start::Sphere, L2Start::UniformVolume}) {
    c.l2_start = start;
    const std::vector<double> v = deltas(c);
    double mean_r = 0.0, min_r = 1e9;
    for (int64_t e = 0; e < n; ++e) {
      double s2 = 0.0;
      for (int64_t i = 0; i < d; ++i) s2 += v[e * d + i] * v[e * d + i];
      mean_r += std::sqrt(s2) / n;
      min_r = std::min(min_r, std::sqrt(s2));
    }
    if (start == L2Start::UniformRadius) {
      EXPECT_NEAR(mean_r, 0.5 * eps, 5.0 * eps * 0.29 / std::sqrt(double(n)));  // sd of U[0,1) is 0.29
    } else if (start == L2Start::Sphere) {
      EXPECT_NEAR(min_r, eps, 1e-6);  // float rounding of x + δ
      EXPECT_NEAR(mean_r, eps, 1e-6);
    } else {
      EXPECT_NEAR(mean_r, eps * d / (d + 1.0), 5.0 * eps / (d + 1.0) / std::sqrt(double(n)) + 1e-6);
    }
  }
  // APGD starts on the boundary: max|δ| = eps (L∞), ‖δ‖ = eps (L2). Its x_best at
  // eps-sized steps is not the start, so read the start from the first query.
  for (Norm norm : {Norm::Linf, Norm::L2}) {
    test::CountingModel rec(model, /*record=*/true);
    AttackConfig a;
    a.kind = AttackKind::APGD;
    a.norm = norm;
    a.eps = eps;
    a.steps = 1;
    apgd_attack(rec, x.data(), y.data(), n, a);
    int64_t positive = 0;
    for (int64_t e = 0; e < n; ++e) {
      double m = 0.0, s2 = 0.0;
      for (int64_t i = 0; i < d; ++i) {
        const double v = static_cast<double>(rec.seen[e * d + i]) - 0.5;
        m = std::max(m, std::fabs(v));
        s2 += v * v;
        positive += v > 0;
      }
      EXPECT_NEAR(norm == Norm::Linf ? m : std::sqrt(s2), eps, 1e-6) << to_string(norm);  // float rounding
    }
    // Signs are symmetric: about half of the n·d coordinates are positive (5 standard errors).
    EXPECT_NEAR(static_cast<double>(positive) / (n * d), 0.5, 5.0 * 0.5 / std::sqrt(double(n * d)));
  }
}

TEST(AttackPgd, TrackSuccessAndRestartsOnlyLowerRobustness) {
  const int64_t n = 40, d = 64;
  TanhMlp mlp(d, 24, 10, 61);
  const std::vector<float> x = test::random_inputs(n, d, 62);
  const std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  AttackConfig c = make_config(AttackKind::PGD, Norm::Linf, 0.06);
  c.steps = 10;
  const AttackResult base = pgd_attack(mlp, x.data(), y.data(), n, c);
  c.track_success = true;
  const AttackResult tracked = pgd_attack(mlp, x.data(), y.data(), n, c);
  c.track_success = false;
  c.restarts = 3;
  const AttackResult restarted = pgd_attack(mlp, x.data(), y.data(), n, c);
  int64_t fooled = 0;
  for (int64_t e = 0; e < n; ++e) {
    if (base.fooled[e]) {
      EXPECT_TRUE(tracked.fooled[e]) << e;   // same trajectory until the first success
      EXPECT_TRUE(restarted.fooled[e]) << e;  // restart 0 is the same run
    }
    fooled += base.fooled[e];
  }
  EXPECT_GT(fooled, 0) << "eps too small for a meaningful test";
  EXPECT_LT(fooled, n) << "eps too large for a meaningful test";
  // Fooled flags agree with an independent re-evaluation of the returned points.
  std::vector<float> z(n * 10);
  mlp.forward(tracked.x_adv.data(), n, z.data(), false);
  for (int64_t e = 0; e < n; ++e) {
    int best = 0;
    for (int k = 1; k < 10; ++k)
      if (z[e * 10 + k] > z[e * 10 + best]) best = k;
    EXPECT_EQ(tracked.fooled[e] != 0, best != y[e]) << e;
  }
}

TEST(AttackFgsm, ZeroGradientIsReportedAndLeavesThePoint) {
  const int64_t n = 3, d = 16;
  LinearModel flat(d, 3, std::vector<double>(3 * d, 0.0), {1.0, 0.0, -1.0});
  const std::vector<float> x = test::random_inputs(n, d, 71);
  const std::vector<int32_t> y(n, 0);
  const AttackResult r = fgsm_attack(flat, x.data(), y.data(), n, make_config(AttackKind::FGSM, Norm::Linf, 0.3));
  EXPECT_EQ(r.x_adv, x);
  EXPECT_EQ(r.count_zero_grad_starts(), n);
  // PGD-L2 with a zero gradient: guarded normalisation, no NaN, iterate stays at the start.
  AttackConfig c = make_config(AttackKind::PGD, Norm::L2, 1.0);
  c.random_start = false;
  const AttackResult p = pgd_attack(flat, x.data(), y.data(), n, c);
  EXPECT_EQ(p.x_adv, x);
  EXPECT_EQ(p.count_zero_grad_starts(), n);
  EXPECT_EQ(p.count_numerical_failures(), 0);
}

// ---- determinism ----

void expect_same(const AttackResult& a, const AttackResult& b, const std::string& what) {
  EXPECT_EQ(a.x_adv, b.x_adv) << what;  // bitwise
  EXPECT_EQ(a.x_best, b.x_best) << what;
  EXPECT_EQ(a.fooled, b.fooled) << what;
  EXPECT_EQ(a.queries, b.queries) << what;
}

TEST(AttackDeterminism, SameSeedBatchSizeAndThreadCountGiveIdenticalResults) {
  // 24 × 784 entries per batch: enough elementwise work for the parallel loops to engage.
  const int64_t n = 24, d = 784;
  TanhMlp mlp(d, 16, 10, 81);
  const std::vector<float> x = test::random_inputs(n, d, 82);
  const std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  for (AttackConfig c : all_attacks(0.1, 1.0, 3)) {
    const AttackResult ref = run_attack(mlp, x.data(), y.data(), n, c);
    expect_same(ref, run_attack(mlp, x.data(), y.data(), n, c), c.describe() + " rerun");
    for (int64_t batch : {1, 5, 256}) {
      c.batch = batch;
      expect_same(ref, run_attack(mlp, x.data(), y.data(), n, c), c.describe() + " batch " + std::to_string(batch));
    }
#if defined(_OPENMP)
    const int saved = omp_get_max_threads();
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      expect_same(ref, run_attack(mlp, x.data(), y.data(), n, c), c.describe() + " threads " + std::to_string(threads));
    }
    omp_set_num_threads(saved);
#endif
  }
}

TEST(AttackDeterminism, SubsetWithGlobalIdsMatchesTheFullRun) {
  const int64_t n = 10, d = 64;
  TanhMlp mlp(d, 16, 10, 91);
  const std::vector<float> x = test::random_inputs(n, d, 92);
  const std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  const std::vector<int64_t> ids = {2, 5, 9};
  std::vector<float> xs;
  std::vector<int32_t> ys;
  for (int64_t i : ids) {
    xs.insert(xs.end(), x.begin() + i * d, x.begin() + (i + 1) * d);
    ys.push_back(y[i]);
  }
  for (const AttackConfig& c : all_attacks(0.1, 1.0, 0)) {
    const AttackResult full = run_attack(mlp, x.data(), y.data(), n, c);
    const AttackResult sub = run_attack(mlp, xs.data(), ys.data(), 3, c, ids.data());
    for (int64_t a = 0; a < 3; ++a) {
      EXPECT_TRUE(std::equal(sub.x_adv.begin() + a * d, sub.x_adv.begin() + (a + 1) * d,
                             full.x_adv.begin() + ids[a] * d))
          << c.describe() << " example " << ids[a];
      EXPECT_EQ(sub.queries[a], full.queries[ids[a]]) << c.describe();
    }
  }
}

TEST(AttackProgress, ReportsEveryBatchUpToTheTotal) {
  const int64_t n = 11, d = 64;
  TanhMlp mlp(d, 8, 10, 95);
  const std::vector<float> x = test::random_inputs(n, d, 96);
  const std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  for (AttackConfig c : all_attacks(0.1, 1.0, 0)) {
    std::vector<int64_t> done;
    c.batch = 4;
    c.progress = [&](int64_t k, int64_t total) {
      EXPECT_EQ(total, n);
      done.push_back(k);
    };
    run_attack(mlp, x.data(), y.data(), n, c);
    EXPECT_EQ(done, (std::vector<int64_t>{4, 8, 11})) << c.describe();
  }
}

// ---- configuration checks ----

TEST(AttackConfigCheck, InvalidValuesThrowInvalidArgument) {
  AttackConfig ok = make_config(AttackKind::PGD, Norm::Linf, 0.3);
  EXPECT_NO_THROW(ok.validate());
  auto expect_invalid = [](AttackConfig c, const std::string& needle) {
    try {
      c.validate();
      ADD_FAILURE() << "no exception for " << needle;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  AttackConfig c = ok;
  c.eps = std::numeric_limits<double>::quiet_NaN();
  expect_invalid(c, "eps");
  expect_invalid(AttackConfig{}, "eps");  // eps has no default
  c = ok;
  c.eps = -0.1;
  expect_invalid(c, "eps");
  c = ok;
  c.steps = 0;
  expect_invalid(c, "steps");
  c = ok;
  c.step_size = -1.0;
  expect_invalid(c, "step size");
  c = ok;
  c.restarts = 0;
  expect_invalid(c, "restarts");
  c = ok;
  c.batch = 0;
  expect_invalid(c, "batch");
  expect_invalid(make_config(AttackKind::FGSM, Norm::L2, 1.0), "linf");
  expect_invalid(make_config(AttackKind::Square, Norm::L2, 1.0), "linf");
  c = make_config(AttackKind::Square, Norm::Linf, 0.3);
  c.n_queries = 0;
  expect_invalid(c, "n_queries");
  c.n_queries = 10;
  c.p_init = 0.0;
  expect_invalid(c, "p_init");
  c.p_init = 1.5;
  expect_invalid(c, "p_init");
  c = make_config(AttackKind::FGSM, Norm::Linf, 0.3);
  c.loss = AttackLoss::DLR;
  expect_invalid(c, "dlr");
  c = make_config(AttackKind::Square, Norm::Linf, 0.3);
  c.image_height = 28;
  expect_invalid(c, "image_height");
}

TEST(AttackConfigCheck, DefaultsFollowTheSpecification) {
  AttackConfig pgd = make_config(AttackKind::PGD, Norm::Linf, 0.3);
  EXPECT_EQ(pgd.resolved_steps(), 40);
  EXPECT_DOUBLE_EQ(pgd.resolved_step_size(), 0.01875);  // 2.5·0.3/40
  AttackConfig apgd = make_config(AttackKind::APGD, Norm::L2, 1.5);
  EXPECT_EQ(apgd.resolved_steps(), 100);
  EXPECT_DOUBLE_EQ(apgd.resolved_step_size(), 3.0);
  EXPECT_EQ(AttackConfig{}.n_queries, 5000);
  EXPECT_DOUBLE_EQ(AttackConfig{}.p_init, 0.8);
  EXPECT_EQ(AttackConfig{}.seed, 0u);
}

TEST(AttackConfigCheck, BadInputsAndModelMismatchThrow) {
  const int64_t n = 2, d = 16;
  LinearModel two(d, 2, std::vector<double>(2 * d, 0.1), {0.0, 0.0});
  std::vector<float> x(n * d, 0.5f);
  std::vector<int32_t> y = {0, 1};
  AttackConfig apgd = make_config(AttackKind::APGD, Norm::Linf, 0.1);
  apgd.loss = AttackLoss::DLR;
  EXPECT_THROW(run_attack(two, x.data(), y.data(), n, apgd), InvalidArgument);  // DLR needs 3 classes
  std::vector<int32_t> bad_y = {0, 2};
  EXPECT_THROW(run_attack(two, x.data(), bad_y.data(), n, make_config(AttackKind::FGSM, Norm::Linf, 0.1)),
               InvalidArgument);
  x[3] = 1.5f;
  EXPECT_THROW(run_attack(two, x.data(), y.data(), n, make_config(AttackKind::FGSM, Norm::Linf, 0.1)),
               InvalidArgument);
  x[3] = 0.5f;
  // 16 = 4×4 is square, but 2 channels of 3×3 is not 16.
  AttackConfig sq = make_config(AttackKind::Square, Norm::Linf, 0.1);
  sq.image_channels = 2;
  sq.image_height = sq.image_width = 3;
  EXPECT_THROW(run_attack(two, x.data(), y.data(), n, sq), InvalidArgument);
  LinearModel odd(15, 2, std::vector<double>(30, 0.1), {0.0, 0.0});
  sq = make_config(AttackKind::Square, Norm::Linf, 0.1);
  EXPECT_THROW(run_attack(odd, x.data(), y.data(), n, sq), InvalidArgument);  // 15 is no square image
}

// ---- evaluation protocol ----

TEST(AttackEvaluation, RobustAccuracyMatchesTheLinearClosedForm) {
  // 2-class linear model, L∞: a point is robust iff its margin at x* stays positive,
  // and PGD reaches x* exactly, so the protocol must reproduce that count.
  const int64_t n = 200, d = 32;
  const float eps = 0.05f;
  LinearModel model = test::random_linear2(d, 101, 0.3, 0.1);
  const std::vector<float> x = test::random_inputs(n, d, 102);
  std::vector<int32_t> y = test::predicted_labels(model, x, n);
  for (int64_t e = 0; e < n; e += 7) y[e] = 1 - y[e];  // clean mistakes
  int64_t clean = 0, robust = 0;
  std::vector<uint8_t> expect_robust(n, 0);
  for (int64_t e = 0; e < n; ++e) {
    std::vector<float> xs(x.begin() + e * d, x.begin() + (e + 1) * d);
    for (int64_t i = 0; i < d; ++i) {
      const double v = model.w()[y[e] * d + i] - model.w()[(1 - y[e]) * d + i];
      xs[i] = std::min(std::max(xs[i] - eps * (v > 0 ? 1.0f : -1.0f), 0.0f), 1.0f);
    }
    const bool ok = model.margin(x.data() + e * d, y[e]) > 0;
    clean += ok;
    expect_robust[e] = ok && model.margin(xs.data(), y[e]) > 0;
    robust += expect_robust[e];
  }
  test::CountingModel counted(model);
  AttackConfig c = make_config(AttackKind::PGD, Norm::Linf, eps);
  const RobustReport rep = evaluate_robustness(counted, x.data(), y.data(), n, c);
  EXPECT_EQ(rep.n_total, n);
  EXPECT_EQ(rep.n_clean_correct, clean);
  EXPECT_EQ(rep.robust, expect_robust);
  EXPECT_DOUBLE_EQ(rep.robust_accuracy, static_cast<double>(robust) / n);  // clean mistakes in the denominator
  EXPECT_DOUBLE_EQ(rep.clean_accuracy, static_cast<double>(clean) / n);
  EXPECT_GT(robust, 0);
  EXPECT_LT(robust, clean);
  // Clean mistakes are never attacked: 40 gradient evaluations per clean-correct point only.
  EXPECT_EQ(counted.grad_rows, clean * 40);
  EXPECT_EQ(rep.numerical_failures, 0);
  expect_feasible(x, rep.x_adv, n, d, Norm::Linf, eps, "report x_adv");
}

TEST(AttackEvaluation, NonFiniteLogitsCountAsIncorrectAndAsNumericalFailures) {
  const int64_t n = 12, d = 16;
  TanhMlp mlp(d, 8, 4, 111);
  std::vector<float> x = test::random_inputs(n, d, 112);
  const std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  for (int64_t e = 0; e < n; ++e) x[e * d] = (e % 3 == 0) ? 0.0f : 0.9f;  // NaN logits when x[0] < 0.01
  test::NanBelowModel nan_model(mlp, 0.01f);
  for (AttackConfig c : all_attacks(0.05, 0.5, 0)) {
    const RobustReport rep = evaluate_robustness(nan_model, x.data(), y.data(), n, c);
    for (int64_t e = 0; e < n; e += 3) {
      EXPECT_FALSE(rep.clean_correct[e]) << c.describe();
      EXPECT_FALSE(rep.robust[e]) << c.describe();
      EXPECT_TRUE(rep.numerical_failure[e]) << c.describe();
    }
    EXPECT_GE(rep.numerical_failures, 4) << c.describe();
    EXPECT_LE(rep.n_clean_correct, n - 4) << c.describe();
  }
  // Inside an attack: with eps 0.95 the attack can push x[0] from 0.9 to ~0, where logits are NaN.
  AttackConfig c = make_config(AttackKind::APGD, Norm::Linf, 0.95);
  c.steps = 10;
  const RobustReport rep = evaluate_robustness(nan_model, x.data(), y.data(), n, c);
  expect_feasible(x, rep.x_adv, n, d, Norm::Linf, 0.95, "APGD with NaN regions");
}

TEST(AttackEvaluation, EnsembleIsThePerPointWorstCase) {
  const int64_t n = 40, d = 64;
  TanhMlp mlp(d, 24, 10, 121);
  const std::vector<float> x = test::random_inputs(n, d, 122);
  std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  y[0] = (y[0] + 1) % 10;  // one clean mistake
  AttackConfig fgsm = make_config(AttackKind::FGSM, Norm::Linf, 0.05);
  AttackConfig pgd = make_config(AttackKind::PGD, Norm::Linf, 0.05);
  pgd.steps = 10;
  AttackConfig sq = make_config(AttackKind::Square, Norm::Linf, 0.05);
  sq.n_queries = 50;
  const RobustReport a = evaluate_robustness(mlp, x.data(), y.data(), n, fgsm);
  const RobustReport b = evaluate_robustness(mlp, x.data(), y.data(), n, pgd);
  const RobustReport s = evaluate_robustness(mlp, x.data(), y.data(), n, sq);
  const RobustReport ens = evaluate_ensemble(mlp, x.data(), y.data(), n, {fgsm, pgd, sq});
  int64_t count = 0;
  for (int64_t e = 0; e < n; ++e) {
    // Random streams are keyed by global index, so each stage acts on a point as it would alone.
    EXPECT_EQ(ens.robust[e], a.robust[e] && b.robust[e] && s.robust[e]) << e;
    count += ens.robust[e];
    if (!ens.robust[e] && ens.clean_correct[e]) {
      EXPECT_GE(ens.broken_by[e], 0);
    } else {
      EXPECT_EQ(ens.broken_by[e], -1);
    }
  }
  EXPECT_EQ(ens.n_robust, count);
  ASSERT_EQ(ens.robust_after_stage.size(), 3u);
  EXPECT_EQ(ens.robust_after_stage[0], a.n_robust);
  EXPECT_LE(ens.robust_after_stage[1], ens.robust_after_stage[0]);
  EXPECT_LE(ens.robust_after_stage[2], ens.robust_after_stage[1]);
  EXPECT_EQ(ens.robust_after_stage[2], ens.n_robust);
  EXPECT_LT(ens.n_robust, ens.n_clean_correct) << "eps too small for a meaningful test";
  EXPECT_FALSE(ens.clean_correct[0]);
  EXPECT_EQ(ens.attacks.size(), 3u);
}

TEST(AttackEvaluation, PerturbationCheckRejectsEveryKindOfViolation) {
  const int64_t d = 4;
  const std::vector<float> x = {0.0f, 0.5f, 1.0f, 0.25f};
  auto check = [&](std::vector<float> adv, Norm norm, double eps) {
    check_perturbation(x.data(), adv.data(), 1, d, norm, eps, "test");
  };
  EXPECT_NO_THROW(check({0.1f, 0.4f, 0.9f, 0.35f}, Norm::Linf, 0.1));
  EXPECT_NO_THROW(check(x, Norm::Linf, 0.0));
  EXPECT_THROW(check({0.1f, 0.4f, 0.9f, 0.3501f}, Norm::Linf, 0.1), Error);  // 1e-4 over eps
  EXPECT_THROW(check({-0.01f, 0.5f, 1.0f, 0.25f}, Norm::Linf, 0.1), Error);   // below the box
  EXPECT_THROW(check({0.0f, 0.5f, 1.0f, std::nanf("")}, Norm::Linf, 0.1), Error);
  EXPECT_NO_THROW(check({0.3f, 0.9f, 1.0f, 0.25f}, Norm::L2, 0.5));  // ‖(0.3, 0.4)‖ = 0.5
  EXPECT_THROW(check({0.3f, 0.9001f, 1.0f, 0.25f}, Norm::L2, 0.5), Error);
  // The message names the global example id.
  const std::vector<int64_t> ids = {42};
  const std::vector<float> bad = {0.5f, 0.5f, 1.0f, 0.25f};
  try {
    check_perturbation(x.data(), bad.data(), 1, d, Norm::Linf, 0.1, "test", ids.data());
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("example 42"), std::string::npos) << e.what();
  }
}

TEST(AttackEvaluation, EmptyInputAndEmptyAttackList) {
  TanhMlp mlp(16, 8, 4, 131);
  const RobustReport rep = evaluate_robustness(mlp, nullptr, nullptr, 0, make_config(AttackKind::PGD, Norm::Linf, 0.1));
  EXPECT_EQ(rep.n_total, 0);
  EXPECT_EQ(rep.robust_accuracy, 0.0);
  std::vector<float> x(16, 0.5f);
  std::vector<int32_t> y = {0};
  EXPECT_THROW(evaluate_ensemble(mlp, x.data(), y.data(), 1, {}), InvalidArgument);
}

}  // namespace
}  // namespace nmode
