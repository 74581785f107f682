// The losses: kl_divergence (TRADES' term) against its definition and finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nmode/error.hpp"
#include "nmode/loss.hpp"

namespace nmode {
namespace {

// KL(softmax(p) || softmax(q)) of one row, directly from the definition in double.
double kl_row(const std::vector<double>& p_logits, const std::vector<double>& q_logits) {
  auto softmax = [](const std::vector<double>& z) {
    double s = 0;
    for (double v : z) s += std::exp(v);
    std::vector<double> p;
    for (double v : z) p.push_back(std::exp(v) / s);
    return p;
  };
  const std::vector<double> p = softmax(p_logits), q = softmax(q_logits);
  double kl = 0;
  for (size_t c = 0; c < p.size(); ++c) kl += p[c] * std::log(p[c] / q[c]);
  return kl;
}

TEST(KlDivergence, ValueAndBothGradientsMatchTheDefinition) {
  const std::vector<float> pz = {0.3f, -1.2f, 2.0f, 0.5f, 0.0f, 0.7f, -0.4f, 1.1f};
  const std::vector<float> qz = {1.0f, 0.2f, -0.5f, 0.5f, 0.3f, -0.9f, 0.8f, 0.1f};
  Tensor p({2, 4}), q({2, 4});
  for (int64_t j = 0; j < 8; ++j) {
    p[j] = pz[size_t(j)];
    q[j] = qz[size_t(j)];
  }
  Tensor dp({2, 4}, 0.0f), dq({2, 4}, 0.0f);
  const double scale = 0.75;
  const double total = kl_divergence(p, q, scale, &dp, &dq);
  auto row = [](const Tensor& t, int64_t i) {
    std::vector<double> r;
    for (int64_t c = 0; c < 4; ++c) r.push_back(t[i * 4 + c]);
    return r;
  };
  EXPECT_NEAR(total, kl_row(row(p, 0), row(q, 0)) + kl_row(row(p, 1), row(q, 1)), 1e-12);
  const double h = 1e-6;
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t c = 0; c < 4; ++c) {
      std::vector<double> pp = row(p, i), pm = pp, qp = row(q, i), qm = qp;
      pp[size_t(c)] += h;
      pm[size_t(c)] -= h;
      qp[size_t(c)] += h;
      qm[size_t(c)] -= h;
      const double fd_p = (kl_row(pp, row(q, i)) - kl_row(pm, row(q, i))) / (2 * h);
      const double fd_q = (kl_row(row(p, i), qp) - kl_row(row(p, i), qm)) / (2 * h);
      EXPECT_NEAR(dp[i * 4 + c], scale * fd_p, 1e-6) << i << "," << c;
      EXPECT_NEAR(dq[i * 4 + c], scale * fd_q, 1e-6) << i << "," << c;
    }
}

TEST(KlDivergence, GradientsAddToWhatIsThere) {
  Tensor p({1, 3}, 0.0f), q({1, 3}, 0.0f), dq({1, 3}, 2.0f);
  q[0] = 1.0f;
  Tensor fresh({1, 3}, 0.0f);
  kl_divergence(p, q, 1.0, nullptr, &fresh);
  kl_divergence(p, q, 1.0, nullptr, &dq);
  for (int64_t c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(dq[c], 2.0f + fresh[c]);
}

TEST(KlDivergence, MismatchedShapesAreRejected) {
  Tensor p({2, 3}), q({2, 4}), g({2, 2});
  EXPECT_THROW(kl_divergence(p, q, 1.0, nullptr, nullptr), InvalidArgument);
  EXPECT_THROW(kl_divergence(p, p, 1.0, &g, nullptr), InvalidArgument);
}

}  // namespace
}  // namespace nmode
