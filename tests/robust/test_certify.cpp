// Tests for the stability certificate: κ against closed forms, radii against
// hand-computed examples, and soundness against an independent fixed-step RK4
// nmODE network under many random and worst-direction perturbations.
#include "nmode/certify.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "nmode/error.hpp"

namespace {

using nmode::CertifyResult;
using nmode::CertNorm;
using nmode::Tensor;

Tensor make(std::vector<int64_t> shape, const std::vector<float>& values) {
  Tensor t(std::move(shape));
  EXPECT_EQ(static_cast<size_t>(t.size()), values.size());
  for (size_t i = 0; i < values.size(); ++i) t[static_cast<int64_t>(i)] = values[i];
  return t;
}

// ---------------------------------------------------------------- κ ----------

TEST(StabilityFactor, ClosedForms) {
  // 1e-15 relative: one exp, one division, a few ulps of double.
  EXPECT_NEAR(nmode::stability_factor(3.0, 1.0, true), (1.0 - std::exp(-2.0)) / 2.0, 1e-15);
  EXPECT_NEAR(nmode::stability_factor(5.0, 0.25, true), (1.0 - std::exp(-1.0)) / 4.0, 1e-15);
  EXPECT_EQ(nmode::stability_factor(3.0, 0.0, true), 0.0);  // no time, no movement
  EXPECT_EQ(nmode::stability_factor(3.0, 1.0, false), 0.5);
  EXPECT_EQ(nmode::stability_factor(1.25, 7.0, false), 4.0);
}

TEST(StabilityFactor, AccurateWhenContractionIsSlow) {
  // a = λ − 1 = 1e-10, t̄ = 1: κ = t̄ − a t̄²/2 + a² t̄³/6 − … ; a naive
  // (1 − exp(−a t̄))/a loses ~6 digits here, expm1 keeps them (1e-15 relative).
  const double a = 1e-10;
  const double series = 1.0 - a / 2.0 + a * a / 6.0;
  EXPECT_NEAR(nmode::stability_factor(1.0 + a, 1.0, true), series, 1e-15);
  // With a t̄ tiny, κ = t̄ − a t̄²/2 + … (linear growth); 1e-15 relative again.
  EXPECT_NEAR(nmode::stability_factor(2.0, 1e-12, true), 1e-12 - 0.5e-24, 1e-27);
}

TEST(StabilityFactor, TendsToTheoremBoundAndIsMonotone) {
  for (double lambda : {1.5, 2.0, 3.0, 10.0}) {
    const double limit = nmode::stability_factor(lambda, 0.0, false);
    EXPECT_DOUBLE_EQ(limit, 1.0 / (lambda - 1.0));
    double prev = 0.0;
    for (double t : {0.01, 0.1, 1.0, 5.0, 20.0, 100.0}) {
      const double k = nmode::stability_factor(lambda, t, true);
      // Strictly increasing until e^{−(λ−1)t̄} drops below half an ulp of 1.
      if (t <= 1.0) {
        EXPECT_GT(k, prev) << "lambda " << lambda << " t " << t;
      }
      EXPECT_GE(k, prev) << "lambda " << lambda << " t " << t;
      EXPECT_LE(k, limit);
      prev = k;
    }
    // e^{−(λ−1)·200} underflows relative to 1 for λ ≥ 1.5: the limit exactly (2 ulps).
    EXPECT_NEAR(nmode::stability_factor(lambda, 200.0, true), limit, 4e-16 * limit);
  }
}

TEST(StabilityFactor, RejectsInvalidArguments) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (double lambda : {1.0, 0.5, -3.0, nan, inf}) {
    try {
      nmode::stability_factor(lambda, 1.0, true);
      ADD_FAILURE() << "lambda " << lambda << " accepted";
    } catch (const nmode::InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("lambda"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("t_end"), std::string::npos) << e.what();
    }
  }
  for (double t : {-1.0, nan, inf}) EXPECT_THROW(nmode::stability_factor(3.0, t, true), nmode::InvalidArgument);
  EXPECT_THROW(nmode::stability_factor(3.0, -1.0, false), nmode::InvalidArgument);
  EXPECT_THROW(nmode::stability_factor(3.0, nan, false), nmode::InvalidArgument);
  EXPECT_EQ(nmode::stability_factor(3.0, inf, false), 0.5);  // t̄-free bound: t̄ = ∞ is its meaning
  EXPECT_THROW(nmode::global_output_bound(1.0, 0.1, 1.0), nmode::InvalidArgument);
  EXPECT_THROW(nmode::global_output_bound(-1.0, 0.1, 3.0), nmode::InvalidArgument);
  EXPECT_THROW(nmode::global_output_bound(1.0, nan, 3.0), nmode::InvalidArgument);
}

// ------------------------------------------------- norms, τ, global bound ----

TEST(RowDualNorms, HandComputed) {
  const Tensor W = make({3, 2}, {1.0f, -2.0f, 3.0f, 4.0f, 0.0f, 0.0f});
  const std::vector<double> l1 = nmode::row_dual_norms(W, CertNorm::Linf);
  const std::vector<double> l2 = nmode::row_dual_norms(W, CertNorm::L2);
  ASSERT_EQ(l1.size(), 3u);
  EXPECT_EQ(l1[0], 3.0);
  EXPECT_EQ(l1[1], 7.0);
  EXPECT_EQ(l1[2], 0.0);
  EXPECT_DOUBLE_EQ(l2[0], std::sqrt(5.0));
  EXPECT_EQ(l2[1], 5.0);
  EXPECT_EQ(l2[2], 0.0);
  EXPECT_EQ(nmode::tau(W), 7.0);
  EXPECT_EQ(nmode::tau(Tensor({0, 5})), 0.0);
  EXPECT_DOUBLE_EQ(nmode::global_output_bound(3.0, 0.1, 3.0), 0.15);
  EXPECT_THROW(nmode::row_dual_norms(Tensor({6}), CertNorm::L2), nmode::InvalidArgument);
}

TEST(RowDualNorms, AccumulatesInDouble) {
  // 2^24 + 1 ones: a float accumulator stalls at 2^24, double is exact.
  const int64_t in = (int64_t{1} << 24) + 1;
  Tensor W({1, in}, 1.0f);
  EXPECT_EQ(nmode::row_dual_norms(W, CertNorm::Linf)[0], static_cast<double>(in));
  EXPECT_EQ(nmode::row_dual_norms(W, CertNorm::L2)[0], std::sqrt(static_cast<double>(in)));
}

// ------------------------------------------------ hand-computed radii --------

TEST(CertifyRadii, TwoClassHandExample) {
  // W rows: L1 norms [3, 1], L2 norms [√5, √0.5]. V = I, so Σ_i |V_0i − V_1i|·‖w_i‖
  // = 3 + 1 = 4 (L∞) or √5 + √0.5 (L2). λ = 3 with the t̄-free κ = 1/2.
  const Tensor W = make({2, 2}, {1.0f, -2.0f, 0.5f, 0.5f});
  const Tensor V = make({2, 2}, {1.0f, 0.0f, 0.0f, 1.0f});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor logits = make({5, 2}, {2.0f, 1.0f,    // correct 0, gap 1 -> 1/(0.5·4) = 0.5
                                      0.0f, 3.0f,    // correct 1, gap 3 -> 1.5
                                      2.0f, 1.0f,    // predicted 0, label 1 -> 0
                                      1.0f, 1.0f,    // tie -> predicted 0 (smallest index), gap 0 -> 0
                                      nan, 1.0f});   // non-finite -> 0
  const int32_t labels[5] = {0, 1, 1, 0, 1};
  const CertifyResult r = nmode::certify_radii(logits, labels, W, V, 3.0, 1.0, false, CertNorm::Linf);
  ASSERT_EQ(r.radius.size(), 5u);
  EXPECT_DOUBLE_EQ(r.radius[0], 0.5);
  EXPECT_DOUBLE_EQ(r.radius[1], 1.5);
  EXPECT_EQ(r.radius[2], 0.0);
  EXPECT_EQ(r.radius[3], 0.0);
  EXPECT_EQ(r.radius[4], 0.0);
  EXPECT_EQ(r.predicted, (std::vector<int32_t>{0, 1, 0, 0, 1}));

  const CertifyResult r2 = nmode::certify_radii(logits, labels, W, V, 3.0, 1.0, false, CertNorm::L2);
  const double d2 = 0.5 * (std::sqrt(5.0) + std::sqrt(0.5));
  EXPECT_NEAR(r2.radius[0], 1.0 / d2, 1e-7);  // W is float: √ of float entries, 1e-7 covers it
  EXPECT_NEAR(r2.radius[1], 3.0 / d2, 3e-7);

  // Finite time κ(3, 1) = (1 − e^{−2})/2 scales the radius by 0.5/κ.
  const CertifyResult rf = nmode::certify_radii(logits, labels, W, V, 3.0, 1.0, true, CertNorm::Linf);
  EXPECT_NEAR(rf.radius[0], 1.0 / (4.0 * (1.0 - std::exp(-2.0)) / 2.0), 1e-14);

  // Without labels the predicted class is certified: row 2 then gets radius 0.5.
  const CertifyResult ru = nmode::certify_radii(logits, nullptr, W, V, 3.0, 1.0, false, CertNorm::Linf);
  EXPECT_DOUBLE_EQ(ru.radius[2], 0.5);
}

TEST(CertifyRadii, ThreeClassHandExample) {
  // W rows have L1 norm 2 each; λ = 2, t̄ = ln 2: κ = (1 − 1/2)/1 = 1/2.
  // V rows: [1,0], [0,1], [1,1]. D01 = κ(1·2 + 1·2) = 2, D02 = κ(0 + 1·2) = 1,
  // D12 = κ(1·2 + 0) = 1.
  const Tensor W = make({2, 3}, {1.0f, -1.0f, 0.0f, 0.0f, 0.0f, 2.0f});
  const Tensor V = make({3, 2}, {1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f});
  const Tensor logits = make({3, 3}, {3.0f, 1.0f, 2.5f,    // c=0: min(2/2, 0.5/1) = 0.5
                                      0.0f, 4.0f, 1.0f,    // c=1: min(4/2, 3/1) = 2
                                      0.0f, 1.0f, 4.0f});  // c=2: min(4/1, 3/1) = 3
  const int32_t labels[3] = {0, 1, 2};
  const CertifyResult r = nmode::certify_radii(logits, labels, W, V, 2.0, std::log(2.0), true, CertNorm::Linf);
  EXPECT_NEAR(r.radius[0], 0.5, 1e-15);  // κ carries one rounding of ln 2 and expm1
  EXPECT_NEAR(r.radius[1], 2.0, 1e-15);
  EXPECT_NEAR(r.radius[2], 3.0, 1e-15);
  const std::vector<double> acc = nmode::certified_accuracy(r, {0.0, 0.4, 0.5, 1.9, 2.5, 3.0});
  // strict: radius > δ
  const std::vector<double> want = {1.0, 1.0, 2.0 / 3.0, 2.0 / 3.0, 1.0 / 3.0, 0.0};
  ASSERT_EQ(acc.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(acc[i], want[i], 1e-15) << i;
  EXPECT_THROW(nmode::certified_accuracy(r, {-0.1}), nmode::InvalidArgument);
  EXPECT_EQ(nmode::certified_accuracy(CertifyResult{}, {0.1}), std::vector<double>{0.0});
}

TEST(CertifyRadii, GapThatCannotCloseGivesInfiniteRadius) {
  // Classes 0 and 1 read the hidden units identically, so their gap is x-independent.
  const Tensor W = make({1, 1}, {1.0f});
  const Tensor V = make({2, 1}, {2.0f, 2.0f});
  const Tensor logits = make({1, 2}, {1.0f, 0.5f});
  const int32_t label = 0;
  const CertifyResult r = nmode::certify_radii(logits, &label, W, V, 2.0, 1.0, true, CertNorm::L2);
  EXPECT_TRUE(std::isinf(r.radius[0]));
  EXPECT_EQ(nmode::certified_accuracy(r, {1e300})[0], 1.0);
}

TEST(CertifyRadii, ChecksShapesAndLabels) {
  const Tensor W({4, 3}), V({2, 4}), logits({5, 2});
  const int32_t labels[5] = {0, 1, 0, 1, 0};
  EXPECT_NO_THROW(nmode::certify_radii(logits, labels, W, V, 2.0, 1.0, true, CertNorm::Linf));
  auto expect_shape_error = [&](const Tensor& l, const Tensor& w, const Tensor& v) {
    try {
      nmode::certify_radii(l, labels, w, v, 2.0, 1.0, true, CertNorm::Linf);
      ADD_FAILURE() << "accepted " << l.shape_string() << " " << w.shape_string() << " " << v.shape_string();
    } catch (const nmode::InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("("), std::string::npos) << "message names no shape: " << e.what();
    }
  };
  expect_shape_error(Tensor({5, 3}), W, V);  // classes disagree with V
  expect_shape_error(logits, Tensor({5, 3}), V);  // hidden disagrees with V
  expect_shape_error(Tensor({10}), W, V);
  expect_shape_error(logits, W, Tensor({2, 4, 1}));
  const int32_t bad[5] = {0, 1, 2, 1, 0};
  EXPECT_THROW(nmode::certify_radii(logits, bad, W, V, 2.0, 1.0, true, CertNorm::Linf), nmode::InvalidArgument);
  EXPECT_THROW(nmode::certify_radii(logits, labels, W, V, 1.0, 1.0, true, CertNorm::Linf), nmode::InvalidArgument);
  Tensor Wnan({4, 3});
  Wnan[7] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(nmode::certify_radii(logits, labels, Wnan, V, 2.0, 1.0, true, CertNorm::Linf),
               nmode::InvalidArgument);
}

// ------------------------------------- soundness against an RK4 oracle -------

// A deliberately plain oracle: classic RK4 in double with a fixed step for
// dy/dt = −λy + sin²(y + γ), y(0) = 0, landing exactly on t̄.
double rk4_neuron(double gamma, double lambda, double t_end, double h_max) {
  const int64_t steps = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(t_end / h_max)));
  const double h = t_end / static_cast<double>(steps);
  auto f = [&](double y) {
    const double s = std::sin(y + gamma);
    return -lambda * y + s * s;
  };
  double y = 0.0;
  for (int64_t i = 0; i < steps; ++i) {
    const double k1 = f(y), k2 = f(y + 0.5 * h * k1), k3 = f(y + 0.5 * h * k2), k4 = f(y + h * k3);
    y += h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
  }
  return y;
}

// Step 0.01: with |∂f/∂y| ≤ λ + 1 ≤ 6, h·L ≤ 0.06 and RK4's global error is a
// few 1e-9 at most (largest for short t̄, before contraction damps it);
// OracleStepErrorIsSmall measures it.
constexpr double kStep = 0.01;
// Absolute slack when an oracle output is compared with an exact bound: 10×
// the error ceiling that OracleStepErrorIsSmall enforces.
constexpr double kOracleTol = 1e-7;

// A logit gap sums 16 hidden units with |V_ki − V_ci| ≲ 6, each off by at most
// kOracleTol in each of two evaluations: 16·6·2·1e-7 ≈ 2e-5.
constexpr double kLogitTol = 2e-5;

TEST(Rk4Oracle, OracleStepErrorIsSmall) {
  // Richardson: |y_h − y_{h/2}|·16/15 estimates the error of y_{h/2}; y_h's is 16× that.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> g(-4.0, 4.0), l(2.0, 5.0);
  for (double t : {0.1, 1.0, 5.0})
    for (int i = 0; i < 20; ++i) {
      const double gamma = g(rng), lambda = l(rng);
      const double err = std::fabs(rk4_neuron(gamma, lambda, t, kStep) - rk4_neuron(gamma, lambda, t, kStep / 2));
      EXPECT_LT(err * 16.0 / 15.0, kOracleTol / 10.0) << "gamma " << gamma << " lambda " << lambda << " t " << t;
    }
}

TEST(Rk4Oracle, PerUnitBoundHolds) {
  // |y(γ) − y(γ̄)| ≤ κ|γ − γ̄| for random pairs near and far apart.
  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> g(-4.0, 4.0), l(1.2, 5.0), d(-1.0, 1.0);
  for (double t : {0.1, 1.0, 5.0})
    for (int i = 0; i < 200; ++i) {
      const double lambda = l(rng), gamma = g(rng);
      const double dgamma = d(rng) * (i % 2 ? 3.0 : 1e-3);
      const double kappa = nmode::stability_factor(lambda, t, true);
      const double dy = std::fabs(rk4_neuron(gamma, lambda, t, kStep) - rk4_neuron(gamma + dgamma, lambda, t, kStep));
      EXPECT_LE(dy, kappa * std::fabs(dgamma) + kOracleTol) << "lambda " << lambda << " gamma " << gamma;
    }
}

TEST(Rk4Oracle, PerUnitBoundIsNearlyTightWhereSinTwoUIsOne) {
  // At the equilibrium y* = 1/(2λ) with y* + γ = π/4, sin 2(y+γ) = 1 and the
  // sensitivity tends to 1/(λ−1) = κ(∞): the bound is not vacuous (a κ half as
  // large would fail here).
  const double lambda = 2.0, t = 20.0;
  const double gamma = std::atan(1.0) - 0.5 / lambda;
  const double dg = 1e-6;
  const double slope = (rk4_neuron(gamma + dg, lambda, t, kStep) - rk4_neuron(gamma - dg, lambda, t, kStep)) / (2 * dg);
  const double kappa = nmode::stability_factor(lambda, t, true);
  // The RK4 map is smooth in γ: the quotient has O(dg²) ~ 1e-12 truncation,
  // ~1e-10 roundoff (1e-16/dg) and RK4's O(h⁴) sensitivity error; 1e-6 covers all.
  EXPECT_LE(slope, kappa + 1e-6);
  EXPECT_GT(slope, 0.99 * kappa);
}

struct OracleNet {
  int64_t in = 8, hidden = 16, classes = 3;
  double lambda = 3.0, t_end = 1.0;
  std::vector<double> W, b, V, c;  // W: (hidden, in), V: (classes, hidden)

  void hidden_out(const std::vector<double>& x, std::vector<double>& y) const {
    y.assign(static_cast<size_t>(hidden), 0.0);
    for (int64_t i = 0; i < hidden; ++i) {
      double g = b[static_cast<size_t>(i)];
      for (int64_t j = 0; j < in; ++j) g += W[static_cast<size_t>(i * in + j)] * x[static_cast<size_t>(j)];
      y[static_cast<size_t>(i)] = rk4_neuron(g, lambda, t_end, kStep);
    }
  }
  std::vector<double> logits(const std::vector<double>& x, std::vector<double>* y_out = nullptr) const {
    std::vector<double> y;
    hidden_out(x, y);
    std::vector<double> z(static_cast<size_t>(classes));
    for (int64_t k = 0; k < classes; ++k) {
      double s = c[static_cast<size_t>(k)];
      for (int64_t i = 0; i < hidden; ++i) s += V[static_cast<size_t>(k * hidden + i)] * y[static_cast<size_t>(i)];
      z[static_cast<size_t>(k)] = s;
    }
    if (y_out) *y_out = y;
    return z;
  }
};

OracleNet random_net(std::mt19937_64& rng, double t_end) {
  OracleNet net;
  std::normal_distribution<double> nd(0.0, 1.0);
  std::uniform_real_distribution<double> ld(2.0, 5.0);
  net.lambda = ld(rng);
  net.t_end = t_end;
  auto fill = [&](std::vector<double>& v, size_t n, double scale) {
    v.resize(n);
    // Round to float so the Tensor handed to certify_radii holds exactly these weights.
    for (double& e : v) e = static_cast<double>(static_cast<float>(scale * nd(rng)));
  };
  fill(net.W, static_cast<size_t>(net.hidden * net.in), 0.7);
  fill(net.b, static_cast<size_t>(net.hidden), 0.5);
  fill(net.V, static_cast<size_t>(net.classes * net.hidden), 1.0);
  fill(net.c, static_cast<size_t>(net.classes), 0.2);
  return net;
}

Tensor to_tensor(const std::vector<double>& v, std::vector<int64_t> shape) {
  Tensor t(std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) t[static_cast<int64_t>(i)] = static_cast<float>(v[i]);
  return t;
}

double norm_of(const std::vector<double>& d, CertNorm norm) {
  double s = 0.0;
  for (double v : d) s = norm == CertNorm::Linf ? std::max(s, std::fabs(v)) : s + v * v;
  return norm == CertNorm::Linf ? s : std::sqrt(s);
}

// Random perturbations per input, on top of the gradient-aligned one.
constexpr int kSamples = 64;

void check_soundness(CertNorm norm, double t_end, uint64_t seed) {
  SCOPED_TRACE(std::string(norm == CertNorm::Linf ? "Linf" : "L2") + " t_end " + std::to_string(t_end));
  std::mt19937_64 rng(seed);
  const OracleNet net = random_net(rng, t_end);
  const int64_t n = 8;
  std::uniform_real_distribution<double> u01(0.0, 1.0), upm(-1.0, 1.0);
  std::normal_distribution<double> nd(0.0, 1.0);

  std::vector<std::vector<double>> xs(static_cast<size_t>(n));
  std::vector<std::vector<double>> zs(static_cast<size_t>(n));
  std::vector<double> flat_logits;
  std::vector<int32_t> labels;
  for (auto& x : xs) {
    x.resize(static_cast<size_t>(net.in));
    for (double& v : x) v = u01(rng);
  }
  for (int64_t r = 0; r < n; ++r) {
    zs[static_cast<size_t>(r)] = net.logits(xs[static_cast<size_t>(r)]);
    const auto& z = zs[static_cast<size_t>(r)];
    flat_logits.insert(flat_logits.end(), z.begin(), z.end());
    labels.push_back(static_cast<int32_t>(std::max_element(z.begin(), z.end()) - z.begin()));
  }
  const CertifyResult cert = nmode::certify_radii(
      to_tensor(flat_logits, {n, net.classes}), labels.data(), to_tensor(net.W, {net.hidden, net.in}),
      to_tensor(net.V, {net.classes, net.hidden}), net.lambda, net.t_end, true, norm);

  // Independent per-pair bound D[c][k] = κ Σ_i |V_ci − V_ki| ‖w_i‖_*, recomputed here.
  const double kappa = (1.0 - std::exp(-(net.lambda - 1.0) * net.t_end)) / (net.lambda - 1.0);
  auto pair_bound = [&](int64_t c, int64_t k) {
    double s = 0.0;
    for (int64_t i = 0; i < net.hidden; ++i) {
      double wn = 0.0;
      for (int64_t j = 0; j < net.in; ++j) {
        const double w = net.W[static_cast<size_t>(i * net.in + j)];
        wn += norm == CertNorm::Linf ? std::fabs(w) : w * w;
      }
      if (norm == CertNorm::L2) wn = std::sqrt(wn);
      s += std::fabs(net.V[static_cast<size_t>(c * net.hidden + i)] - net.V[static_cast<size_t>(k * net.hidden + i)]) * wn;
    }
    return kappa * s;
  };
  const double tau_w = nmode::tau(to_tensor(net.W, {net.hidden, net.in}));

  int64_t checked = 0;
  for (int64_t r = 0; r < n; ++r) {
    const auto& x = xs[static_cast<size_t>(r)];
    const auto& z = zs[static_cast<size_t>(r)];
    const int64_t c = labels[static_cast<size_t>(r)];
    const double radius = cert.radius[static_cast<size_t>(r)];
    ASSERT_EQ(cert.predicted[static_cast<size_t>(r)], c);
    // Radius from the independent bound and the same float-rounded logits;
    // 1e-12 relative covers the different summation order of D.
    double want = std::numeric_limits<double>::infinity();
    for (int64_t k = 0; k < net.classes; ++k)
      if (k != c) {
        const double gap = static_cast<double>(static_cast<float>(z[static_cast<size_t>(c)])) -
                           static_cast<double>(static_cast<float>(z[static_cast<size_t>(k)]));
        want = std::min(want, gap / pair_bound(c, k));
      }
    ASSERT_NEAR(radius, want, 1e-12 * want);
    ASSERT_TRUE(std::isfinite(radius) && radius > 0.0);
    const double rho = 0.999 * radius;

    // Worst-case-ish direction: against the gradient of the smallest gap (central differences).
    int64_t k_min = c == 0 ? 1 : 0;
    for (int64_t k = 0; k < net.classes; ++k)
      if (k != c && z[static_cast<size_t>(k)] > z[static_cast<size_t>(k_min)]) k_min = k;
    std::vector<double> grad(static_cast<size_t>(net.in));
    for (int64_t j = 0; j < net.in; ++j) {
      std::vector<double> xp = x, xm = x;
      xp[static_cast<size_t>(j)] += 1e-5;
      xm[static_cast<size_t>(j)] -= 1e-5;
      const auto zp = net.logits(xp), zm = net.logits(xm);
      grad[static_cast<size_t>(j)] = ((zp[static_cast<size_t>(c)] - zp[static_cast<size_t>(k_min)]) -
                                      (zm[static_cast<size_t>(c)] - zm[static_cast<size_t>(k_min)])) / 2e-5;
    }

    std::vector<std::vector<double>> deltas;
    {
      std::vector<double> d(static_cast<size_t>(net.in));
      const double gn = norm_of(grad, CertNorm::L2);
      for (int64_t j = 0; j < net.in; ++j) {
        const double gj = grad[static_cast<size_t>(j)];
        d[static_cast<size_t>(j)] = norm == CertNorm::Linf ? -rho * (gj > 0 ? 1.0 : -1.0) : -rho * gj / gn;
      }
      deltas.push_back(d);
    }
    for (int s = 0; s < kSamples; ++s) {
      std::vector<double> d(static_cast<size_t>(net.in));
      if (norm == CertNorm::Linf) {
        // half random corners of the box, half random points inside it
        for (double& v : d) v = s % 2 ? rho * (u01(rng) < 0.5 ? -1.0 : 1.0) : rho * upm(rng);
      } else {
        // uniform direction on the sphere of radius ρ
        for (double& v : d) v = nd(rng);
        const double dn = norm_of(d, CertNorm::L2);
        for (double& v : d) v *= rho / dn;
      }
      deltas.push_back(d);
    }

    std::vector<double> y0;
    net.logits(x, &y0);
    for (const auto& d : deltas) {
      ASSERT_LE(norm_of(d, norm), radius * (1.0 + 1e-12));
      std::vector<double> xd = x, y1;
      for (size_t j = 0; j < xd.size(); ++j) xd[j] += d[j];
      const std::vector<double> zd = net.logits(xd, &y1);
      const int64_t pred = std::max_element(zd.begin(), zd.end()) - zd.begin();
      EXPECT_EQ(pred, c) << "input " << r << " radius " << radius;
      // Each gap shrinks by at most D[c][k]·‖δ‖ (oracle slack kOracleTol per hidden unit).
      const double dn = norm_of(d, norm);
      for (int64_t k = 0; k < net.classes; ++k) {
        if (k == c) continue;
        const double shrink = (z[static_cast<size_t>(c)] - z[static_cast<size_t>(k)]) -
                              (zd[static_cast<size_t>(c)] - zd[static_cast<size_t>(k)]);
        EXPECT_LE(shrink, pair_bound(c, k) * dn + kLogitTol);
      }
      // The paper's global bound on the hidden state, L∞ only (τ is an L1 row norm).
      if (norm == CertNorm::Linf) {
        double dy = 0.0;
        for (size_t i = 0; i < y0.size(); ++i) dy = std::max(dy, std::fabs(y1[i] - y0[i]));
        EXPECT_LE(dy, nmode::global_output_bound(tau_w, dn, net.lambda) * (1.0 + 1e-6) + kOracleTol);
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, n * (kSamples + 1));
}

TEST(CertifySoundness, LinfNeverFlipsInsideRadius) {
  check_soundness(CertNorm::Linf, 0.1, 101);
  check_soundness(CertNorm::Linf, 1.0, 102);
  check_soundness(CertNorm::Linf, 5.0, 103);
}

TEST(CertifySoundness, L2NeverFlipsInsideRadius) {
  check_soundness(CertNorm::L2, 0.1, 201);
  check_soundness(CertNorm::L2, 1.0, 202);
  check_soundness(CertNorm::L2, 5.0, 203);
}

}  // namespace
