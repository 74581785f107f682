// Tests of the Square Attack: the p / side schedule of §6, query accounting,
// the accept rule and window geometry replayed from the queried points, the ±eps
// invariant, no gradient requests, empty active sets and non-finite logits.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "support/attack_test_models.hpp"
#include "nmode/attack.hpp"

namespace nmode {
namespace {

using test::LinearModel;
using test::TanhMlp;

AttackConfig square_config(double eps, int n_queries) {
  AttackConfig c;
  c.kind = AttackKind::Square;
  c.norm = Norm::Linf;
  c.eps = eps;
  c.n_queries = n_queries;
  return c;
}

// Expected side on a 28×28 image from the table of §6: (last iteration, side) pairs.
int table_side(int i, bool rescale) {
  static const int plain[][2] = {{10, 25}, {50, 18}, {200, 13}, {500, 9}, {1000, 6},
                                 {2000, 4}, {4000, 3}, {4999, 2}};
  static const int rescaled[][2] = {{5, 25}, {25, 18}, {100, 13}, {250, 9}, {500, 6},
                                    {1000, 4}, {2000, 3}, {4000, 2}, {4999, 1}};
  if (rescale) {
    for (const auto& r : rescaled)
      if (i <= r[0]) return r[1];
  } else {
    for (const auto& r : plain)
      if (i <= r[0]) return r[1];
  }
  return -1;
}

TEST(SquareSchedule, SideMatchesTheTableForMnist) {
  for (bool rescale : {false, true})
    for (int i = 0; i < 5000; ++i)
      ASSERT_EQ(square_size(0.8, i, 5000, rescale, 1, 28, 28), table_side(i, rescale))
          << "iteration " << i << " rescale " << rescale;
}

TEST(SquareSchedule, FractionHalvesAtTheDocumentedIterations) {
  const int last[] = {10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000};
  double p = 0.8;
  for (int b : last) {
    EXPECT_DOUBLE_EQ(square_fraction(0.8, b, 10000, false), p) << b;
    EXPECT_DOUBLE_EQ(square_fraction(0.8, b + 1, 10000, false), p / 2) << b + 1;
    p /= 2;
  }
  EXPECT_DOUBLE_EQ(square_fraction(0.8, 20000, 10000, false), 0.8 / 512);
  // Rescaled: i' = floor(i / n_queries · 10000); with 100 queries, i = 1 gives i' = 100.
  EXPECT_DOUBLE_EQ(square_fraction(0.8, 1, 100, true), 0.2);
}

TEST(SquareSchedule, RoundsHalfToEvenAndClampsToTheShortSide) {
  // √(0.25·5·5) = 2.5 rounds to 2 (half to even), not 3.
  EXPECT_EQ(square_size(0.25, 0, 100, false, 1, 5, 5), 2);
  // √(0.8·4·28) = 9.47 → 9, clamped to the short side 4.
  EXPECT_EQ(square_size(0.8, 0, 100, false, 1, 4, 28), 4);
  // Never below 1.
  EXPECT_EQ(square_size(0.001, 9000, 10000, false, 1, 28, 28), 1);
  // Channels do not change the side: p is a fraction of one channel's area.
  EXPECT_EQ(square_size(0.8, 0, 5000, false, 3, 28, 28), 25);
}

TEST(SquareQueries, ZeroEpsGivesExactAccounting) {
  // eps = 0: every proposal equals x, so nothing is ever accepted. Misclassified
  // points stop after the initial query; the others use every iteration.
  const int64_t n = 6, d = 64;
  TanhMlp mlp(d, 16, 10, 301);
  const std::vector<float> x = test::random_inputs(n, d, 302);
  std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  for (int64_t e = 0; e < n; e += 2) y[e] = (y[e] + 1) % 10;
  test::CountingModel counted(mlp);
  const int q = 37;
  const AttackResult r = square_attack(counted, x.data(), y.data(), n, square_config(0.0, q));
  for (int64_t e = 0; e < n; ++e) {
    EXPECT_EQ(r.queries[e], e % 2 == 0 ? 1 : q + 1) << e;
    EXPECT_EQ(r.fooled[e], e % 2 == 0 ? 1 : 0) << e;
  }
  EXPECT_EQ(r.x_adv, x);
  EXPECT_EQ(counted.rows, n + (n / 2) * q);
  EXPECT_EQ(counted.grad_forward_calls, 0);
  EXPECT_EQ(counted.backward_calls, 0);
}

TEST(SquareQueries, EmptyActiveSetAndEmptyInputDoNotCrash) {
  const int64_t n = 4, d = 16;
  TanhMlp mlp(d, 8, 4, 311);
  const std::vector<float> x = test::random_inputs(n, d, 312);
  std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  for (int32_t& v : y) v = (v + 1) % 4;  // every point misclassified at the start
  test::CountingModel counted(mlp);
  SquareTrace trace;
  const AttackResult r = square_attack(counted, x.data(), y.data(), n, square_config(0.0, 100), nullptr, &trace);
  EXPECT_EQ(counted.forward_calls, 1);
  for (int64_t q : r.queries) EXPECT_EQ(q, 1);
  for (double m : trace.margin_best) EXPECT_LE(m, 0.0);
  const AttackResult empty = square_attack(counted, nullptr, nullptr, 0, square_config(0.3, 100));
  EXPECT_TRUE(empty.x_adv.empty());
  EXPECT_EQ(counted.forward_calls, 1);
}

TEST(SquareRun, QueriesMarginsAndInvariantsOnAnMlp) {
  const int64_t n = 10, d = 784;
  const int q = 200;
  TanhMlp mlp(d, 16, 10, 321);
  const std::vector<float> x = test::random_inputs(n, d, 322);
  const std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  test::CountingModel counted(mlp);
  SquareTrace trace;
  const float eps = 0.1f;
  const AttackResult r = square_attack(counted, x.data(), y.data(), n, square_config(eps, q), nullptr, &trace);
  EXPECT_EQ(counted.grad_forward_calls, 0);  // score-based: never asks for gradients
  EXPECT_EQ(counted.backward_calls, 0);
  int64_t total = 0, fooled = 0, fooled_at_init = 0;
  for (int64_t e = 0; e < n; ++e) {
    const double* m = trace.margin_best.data() + e * (q + 1);
    int64_t active_iterations = 0;
    for (int t = 0; t < q; ++t) {
      EXPECT_LE(m[t + 1], m[t]) << "m_best must not increase, example " << e << " t " << t;
      active_iterations += m[t] > 0.0;
    }
    EXPECT_EQ(r.queries[e], 1 + active_iterations) << e;
    EXPECT_LE(r.queries[e], q + 1);
    if (m[0] <= 0.0) {
      EXPECT_EQ(r.queries[e], 1);
      ++fooled_at_init;
    }
    EXPECT_EQ(r.fooled[e] != 0, m[q] <= 0.0) << e;
    total += r.queries[e];
    fooled += r.fooled[e];
    // Every coordinate is x ± eps, clamped to the box.
    for (int64_t i = 0; i < d; ++i) {
      const float xi = x[e * d + i], v = r.x_adv[e * d + i];
      const float up = std::min(xi + eps, 1.0f), down = std::max(xi - eps, 0.0f);
      ASSERT_TRUE(v == up || v == down) << "example " << e << " index " << i;
    }
  }
  EXPECT_EQ(counted.rows, total);
  EXPECT_GT(fooled, fooled_at_init) << "eps must let the search itself succeed for a meaningful test";
  EXPECT_LT(fooled, n);
}

// Ignores the right half of a 28×28 image (replaced by 0.5), so proposals there
// leave the margin unchanged: ties that the strict accept rule must reject.
class LeftHalfModel : public Classifier {
 public:
  explicit LeftHalfModel(Classifier& inner) : inner_(inner) {}
  int64_t input_dim() const override { return 784; }
  int64_t num_classes() const override { return inner_.num_classes(); }
  void forward(const float* x, int64_t n, float* logits, bool need_input_grad) override {
    std::vector<float> xm(x, x + n * 784);
    for (int64_t i = 0; i < n * 784; ++i)
      if (i % 28 >= 14) xm[i] = 0.5f;
    inner_.forward(xm.data(), n, logits, need_input_grad);
  }
  void backward_input(const float*, float*) override { ADD_FAILURE() << "Square must not ask for gradients"; }

 private:
  Classifier& inner_;
};

TEST(SquareRun, AcceptRuleAndWindowsReplayedFromTheQueriedPoints) {
  // One 28×28 example: the model sees the stripes start, then one proposal per
  // iteration. Replays the accept rule of §6 on the recorded proposals and checks
  // each proposal's change against the side of the schedule table.
  const int64_t d = 784, k = 10;
  const int q = 400;
  const float eps = 0.05f;
  TanhMlp inner(d, 16, k, 331);
  LeftHalfModel mlp(inner);
  auto margin = [&](const float* p, int32_t label) {
    std::vector<float> z(k);
    mlp.forward(p, 1, z.data(), false);
    double other = -1e300;
    for (int c = 0; c < k; ++c)
      if (c != label) other = std::max(other, static_cast<double>(z[c]));
    return static_cast<double>(z[label]) - other;
  };
  // The candidate with the largest clean margin, so that the search runs long.
  const std::vector<float> candidates = test::random_inputs(20, d, 332);
  const std::vector<int32_t> labels = test::predicted_labels(mlp, candidates, 20);
  int64_t pick = 0;
  for (int64_t e = 1; e < 20; ++e)
    if (margin(&candidates[e * d], labels[e]) > margin(&candidates[pick * d], labels[pick])) pick = e;
  const std::vector<float> x(candidates.begin() + pick * d, candidates.begin() + (pick + 1) * d);
  const std::vector<int32_t> y = {labels[pick]};
  test::CountingModel rec(mlp, /*record=*/true);
  SquareTrace trace;
  const AttackResult r = square_attack(rec, x.data(), y.data(), 1, square_config(eps, q), nullptr, &trace);
  const int64_t proposals = rec.rows - 1;
  ASSERT_EQ(proposals, q) << "the chosen example should survive the whole search";
  // Start: one sign per column, constant down the column.
  std::vector<float> best(rec.seen.begin(), rec.seen.begin() + d);
  for (int col = 0; col < 28; ++col) {
    bool all_up = true, all_down = true;
    for (int row = 0; row < 28; ++row) {
      const int64_t i = row * 28 + col;
      all_up &= best[i] == std::min(x[i] + eps, 1.0f);
      all_down &= best[i] == std::max(x[i] - eps, 0.0f);
    }
    ASSERT_TRUE(all_up || all_down) << "stripe column " << col;
  }
  double m_best = margin(best.data(), y[0]);
  EXPECT_EQ(trace.margin_best[0], m_best);
  bool touched_last_row = false, touched_last_col = false;
  int ties = 0;
  for (int64_t t = 0; t < proposals; ++t) {
    const float* p = rec.seen.data() + (t + 1) * d;
    const int s = table_side(static_cast<int>(t), false);
    int r_lo = 28, r_hi = -1, c_lo = 28, c_hi = -1;
    int sign = 0;
    for (int64_t i = 0; i < d; ++i) {
      if (p[i] == best[i]) continue;
      const int row = static_cast<int>(i / 28), col = static_cast<int>(i % 28);
      r_lo = std::min(r_lo, row);
      r_hi = std::max(r_hi, row);
      c_lo = std::min(c_lo, col);
      c_hi = std::max(c_hi, col);
      const int sg = p[i] == std::min(x[i] + eps, 1.0f) ? 1 : (p[i] == std::max(x[i] - eps, 0.0f) ? -1 : 0);
      ASSERT_NE(sg, 0) << "a changed pixel must be x ± eps, iteration " << t;
      if (sign == 0) sign = sg;
      ASSERT_EQ(sg, sign) << "one sign per window, iteration " << t;
    }
    if (r_hi >= 0) {
      ASSERT_LE(r_hi - r_lo + 1, s) << "iteration " << t;
      ASSERT_LE(c_hi - c_lo + 1, s) << "iteration " << t;
      touched_last_row |= r_hi == 27;
      touched_last_col |= c_hi == 27;
    }
    const double m_new = margin(p, y[0]);
    const bool tie_before = m_new == m_best && !std::equal(p, p + d, best.begin());
    if (m_new < m_best || m_new <= 0.0) {
      m_best = m_new;
      best.assign(p, p + d);
    }
    ties += tie_before;
    EXPECT_EQ(trace.margin_best[t + 1], m_best) << "iteration " << t;
  }
  EXPECT_GT(ties, 0) << "the replay must meet proposals that tie with the best margin";
  EXPECT_EQ(r.x_adv, best);
  // Offsets include H - s (unlike the references' floor(U·(H - s))): over 400
  // proposals the last row and column do change (fixed seed).
  EXPECT_TRUE(touched_last_row);
  EXPECT_TRUE(touched_last_col);
}

TEST(SquareRun, NeverReportsAMarginBelowTheTrueMinimum) {
  const int64_t n = 6, d = 784;
  const float eps = 0.1f;
  LinearModel model = test::random_linear2(d, 341, 0.05, 0.3);
  const std::vector<float> x = test::random_inputs(n, d, 342);
  const std::vector<int32_t> y = test::predicted_labels(model, x, n);
  const AttackResult r = square_attack(model, x.data(), y.data(), n, square_config(eps, 300));
  for (int64_t e = 0; e < n; ++e) {
    std::vector<float> xs(x.begin() + e * d, x.begin() + (e + 1) * d);
    for (int64_t i = 0; i < d; ++i) {
      const double v = model.w()[y[e] * d + i] - model.w()[(1 - y[e]) * d + i];
      xs[i] = std::min(std::max(xs[i] - eps * (v > 0 ? 1.0f : -1.0f), 0.0f), 1.0f);
    }
    // x* minimises the margin over the ball ∩ box; only double rounding separates equal points.
    EXPECT_GE(model.margin(r.x_adv.data() + e * d, y[e]), model.margin(xs.data(), y[e]) - 1e-9) << e;
  }
}

TEST(SquareRun, NonFiniteLogitsStopTheExampleAndAreReported) {
  const int64_t n = 3, d = 16;
  TanhMlp mlp(d, 8, 4, 351);
  const std::vector<float> x = test::random_inputs(n, d, 352);
  const std::vector<int32_t> y = test::predicted_labels(mlp, x, n);
  test::NanBelowModel all_nan(mlp, 2.0f);
  const AttackResult r = square_attack(all_nan, x.data(), y.data(), n, square_config(0.1, 50));
  EXPECT_EQ(r.count_numerical_failures(), n);
  for (int64_t q : r.queries) EXPECT_EQ(q, 1);
  EXPECT_EQ(r.count_fooled(), n);  // non-finite logits are never "correct"
  for (float v : r.x_adv) EXPECT_TRUE(std::isfinite(v));
}

}  // namespace
}  // namespace nmode
