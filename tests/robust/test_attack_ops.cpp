// Tests of the attack building blocks: CE and DLR gradients against central
// finite differences, hand-computed loss values, sign(0) = 0, guarded L2
// normalisation, the projections, and the test models' own input gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "support/attack_test_models.hpp"
#include "nmode/attack_ops.hpp"
#include "nmode/random.hpp"

namespace nmode {
namespace {

using LossFn = double (*)(const double*, int64_t, int32_t, double*);

// Central differences of loss at z: (k), step h, in double.
std::vector<double> finite_difference(LossFn f, std::vector<double> z, int32_t y, double h) {
  std::vector<double> g(z.size());
  for (size_t j = 0; j < z.size(); ++j) {
    const double z0 = z[j];
    z[j] = z0 + h;
    const double up = f(z.data(), static_cast<int64_t>(z.size()), y, nullptr);
    z[j] = z0 - h;
    const double down = f(z.data(), static_cast<int64_t>(z.size()), y, nullptr);
    z[j] = z0;
    g[j] = (up - down) / (2.0 * h);
  }
  return g;
}

void expect_gradient_matches_fd(LossFn f, double logit_scale, uint64_t seed) {
  SplitMix64 rng(seed);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> z(10);
    for (double& v : z) v = rng.next_normal() * logit_scale;
    const auto y = static_cast<int32_t>(rng.next_below(10));
    std::vector<double> g(10);
    f(z.data(), 10, y, g.data());
    const std::vector<double> fd = finite_difference(f, z, y, 1e-5);
    for (size_t j = 0; j < z.size(); ++j)
      // Central differences in double with h = 1e-5: truncation ~h²·|f'''| and rounding ~1e-16/h, both < 1e-7.
      EXPECT_NEAR(g[j], fd[j], 1e-7 + 1e-6 * std::fabs(fd[j])) << "trial " << trial << " logit " << j;
  }
}

TEST(AttackLosses, CrossEntropyGradientMatchesFiniteDifferences) {
  expect_gradient_matches_fd(&ce_loss, 1.0, 1);
  expect_gradient_matches_fd(&ce_loss, 5.0, 2);
}

TEST(AttackLosses, DlrGradientMatchesFiniteDifferences) {
  // Random normal logits have no ties, so DLR is differentiable there.
  expect_gradient_matches_fd(&dlr_loss, 1.0, 3);
  expect_gradient_matches_fd(&dlr_loss, 5.0, 4);
}

TEST(AttackLosses, CrossEntropyMatchesNaiveFormulaAndStaysFiniteForHugeLogits) {
  const std::vector<double> z = {1.0, -2.0, 0.5};
  const double naive = std::log(std::exp(1.0) + std::exp(-2.0) + std::exp(0.5)) - 0.5;
  // Same formula evaluated two ways in double: agreement to a few ulps.
  EXPECT_NEAR(ce_loss(z.data(), 3, 2, nullptr), naive, 1e-14);
  const std::vector<double> big = {1000.0, 0.0, -1000.0};
  double g[3];
  // Max-subtracted: CE = log(1 + e^-1000 + e^-2000) ≈ 0 for y = 0, and ≈ 1000 for y = 1.
  EXPECT_NEAR(ce_loss(big.data(), 3, 0, g), 0.0, 1e-300);
  EXPECT_NEAR(ce_loss(big.data(), 3, 1, g), 1000.0, 1e-9);
  EXPECT_DOUBLE_EQ(g[0], 1.0);
  EXPECT_DOUBLE_EQ(g[1], -1.0);
}

TEST(AttackLosses, MarginAndDlrHandValues) {
  const std::vector<double> z = {3.0, 1.0, 0.0, -1.0};
  EXPECT_DOUBLE_EQ(margin_loss(z.data(), 4, 0), 2.0);   // 3 - 1
  EXPECT_DOUBLE_EQ(margin_loss(z.data(), 4, 2), -3.0);  // 0 - 3
  // y = 0: N = 3 - 1, D = z_π1 - z_π3 = 3 - 0 (+1e-12).
  EXPECT_NEAR(dlr_loss(z.data(), 4, 0, nullptr), -2.0 / 3.0, 1e-12);
  // y = 3: N = -1 - 3, same D.
  EXPECT_NEAR(dlr_loss(z.data(), 4, 3, nullptr), 4.0 / 3.0, 1e-12);
  // Scale invariance: DLR(c·z) = DLR(z) (up to the 1e-12 guard).
  const std::vector<double> z10 = {30.0, 10.0, 0.0, -10.0};
  EXPECT_NEAR(dlr_loss(z10.data(), 4, 0, nullptr), -2.0 / 3.0, 1e-12);
}

TEST(AttackLosses, PredictionBreaksTiesTowardTheSmallestIndex) {
  const float z[] = {1.0f, 3.0f, 3.0f, 2.0f};
  EXPECT_EQ(predict_class(z, 4), 1);
  EXPECT_TRUE(is_correct(z, 4, 1));
  EXPECT_FALSE(is_correct(z, 4, 2));
  const float bad[] = {1.0f, std::nanf(""), 0.0f};
  EXPECT_FALSE(is_correct(bad, 3, 0));  // non-finite logits are never correct
}

// The rows an attack may use: one NaN or infinity anywhere rules a row out; the
// largest finite float does not.
TEST(AttackOps, AllFiniteRejectsNanAndBothInfinities) {
  const float big = std::numeric_limits<float>::max();
  const std::vector<float> fine{0.0f, -0.0f, big, -big, std::numeric_limits<float>::denorm_min()};
  EXPECT_TRUE(all_finite(fine.data(), int64_t(fine.size())));
  EXPECT_TRUE(all_finite(nullptr, 0));
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()})
    for (size_t at = 0; at < fine.size(); ++at) {
      std::vector<float> v = fine;
      v[at] = bad;
      EXPECT_FALSE(all_finite(v.data(), int64_t(v.size()))) << bad << " at " << at;
    }
}

TEST(AttackOps, SignOfZeroIsZero) {
  EXPECT_EQ(sign0(0.0f), 0.0f);
  EXPECT_EQ(sign0(-0.0f), 0.0f);
  EXPECT_EQ(sign0(1e-30f), 1.0f);
  EXPECT_EQ(sign0(-2.5f), -1.0f);
}

TEST(AttackOps, UnitDirectionOfZeroGradientIsZeroNotNaN) {
  std::vector<float> g(784, 0.0f), out(784, 1.0f);
  unit_direction(g.data(), 784, 1e-12, out.data());
  for (float v : out) EXPECT_EQ(v, 0.0f);
  g[3] = 3.0f;
  g[7] = -4.0f;
  unit_direction(g.data(), 784, 1e-10, out.data());
  // ‖g‖ = 5; the guard changes the result by 1e-10 relative, far below float resolution.
  EXPECT_FLOAT_EQ(out[3], 0.6f);
  EXPECT_FLOAT_EQ(out[7], -0.8f);
}

TEST(AttackOps, ProjectionsStayInBallAndBox) {
  const std::vector<float> x = {0.0f, 0.5f, 1.0f, 0.2f};
  std::vector<float> v = {-1.0f, 0.9f, 2.0f, 0.25f};
  project_linf(x.data(), 0.3f, v.data(), 4);
  EXPECT_EQ(v[0], 0.0f);           // box
  EXPECT_EQ(v[1], 0.5f + 0.3f);    // ball
  EXPECT_EQ(v[2], 1.0f);           // box
  EXPECT_EQ(v[3], 0.25f);          // inside both
  std::vector<float> w = {3.0f, 4.5f, 1.0f, 0.2f};
  const std::vector<float> c = {0.0f, 0.5f, 1.0f, 0.2f};
  project_l2(c.data(), 1.0, w.data(), 4);  // δ = (3, 4, 0, 0), scaled to (0.6, 0.8), then the box
  EXPECT_FLOAT_EQ(w[0], 0.6f);
  EXPECT_FLOAT_EQ(w[1], 1.0f);  // 0.5 + 0.8 clamped
  EXPECT_EQ(w[2], 1.0f);
  EXPECT_EQ(w[3], 0.2f);
  std::vector<float> same = c;
  project_l2(c.data(), 0.0, same.data(), 4);  // δ = 0 with eps = 0: factor 1, no 0/0
  EXPECT_EQ(same, c);
}

// The test models' input gradients against central differences, so the attack
// tests built on them check the attacks and not the models.
TEST(AttackTestModels, MlpInputGradientMatchesFiniteDifferences) {
  test::TanhMlp mlp(16, 12, 5, 7);
  std::vector<float> x = test::random_inputs(1, 16, 8);
  std::vector<float> z(5), dz = {0.3f, -1.0f, 0.5f, 0.2f, 0.0f}, dx(16);
  mlp.forward(x.data(), 1, z.data(), true);
  mlp.backward_input(dz.data(), dx.data());
  for (int i = 0; i < 16; ++i) {
    // Step 1e-2 in float inputs: the model computes in double, so only float rounding of x±h matters.
    const float h = 1e-2f;
    std::vector<float> xp = x, xm = x;
    xp[i] += h;
    xm[i] -= h;
    std::vector<float> zp(5), zm(5);
    mlp.forward(xp.data(), 1, zp.data(), false);
    mlp.forward(xm.data(), 1, zm.data(), false);
    double fd = 0.0;
    for (int c = 0; c < 5; ++c) fd += dz[c] * (static_cast<double>(zp[c]) - zm[c]) / (xp[i] - xm[i]);
    // Truncation O(h²) ≈ 1e-4 times the curvature, plus float rounding of the logits (1e-7 / 1e-2).
    EXPECT_NEAR(dx[i], fd, 2e-3 + 2e-3 * std::fabs(fd)) << "coordinate " << i;
  }
}

}  // namespace
}  // namespace nmode
