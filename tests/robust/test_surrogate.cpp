// Tests of the closed-form nmODE surrogate and of PGD/FGSM with gradients from it:
// the layer (float, on every SIMD target) against double references within a
// derived float bound, and bitwise alike across targets; the Newton step counts in
// double; the closed forms against a tiny-step double RK4 of the ODE and their
// derivatives against central differences (bounds derived in each test); the regime
// rule, the surrogate model's construction and refusals, and the transfer attack
// (verdicts on the real model, ε = 1 breaks everything, monotone in ε, determinism).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "nmode/attack.hpp"
#include "nmode/detail/nmode_surrogate.hpp"
#include "nmode/error.hpp"
#include "nmode/model.hpp"
#include "nmode/simd.hpp"
#include "nmode/surrogate.hpp"
#include "support/attack_test_models.hpp"
#include "support/simd_test_util.hpp"

namespace nmode {
namespace {

constexpr double kPi = 3.14159265358979323846;

// ---- the dumb double references ----

// y* of λy* = sin²(y* + γ) by bisection: F(y) = λy − sin²(y + γ) is increasing (F' =
// λ − sin 2u ≥ λ − 1 > 0) with F(0) ≤ 0 ≤ F(1/λ), so 100 halvings of [0, 1/λ] end on
// adjacent doubles. γ is first reduced by reduce_mod_pi (to half an ulp for any
// double, tests/solver/test_reduce_pi.cpp), so that std::sin sees y + γ unrounded even
// for |γ| = 3e38. Rounding of F (~1e-16) leaves y* within ~1e-16/(λ − 1).
double steady_reference(double gamma, double lambda) {
  const double g = detail::reduce_mod_pi(gamma);
  double lo = 0.0, hi = 1.0 / lambda;
  for (int k = 0; k < 100; ++k) {
    const double mid = 0.5 * (lo + hi);
    const double s = std::sin(mid + g);
    if (lambda * mid - s * s > 0.0)
      hi = mid;
    else
      lo = mid;
  }
  return 0.5 * (lo + hi);
}
// dy*/dγ = sin 2u/(λ − sin 2u) at the reference y* (implicit function theorem; the
// central-difference tests below check the formula).
double steady_slope_reference(double gamma, double lambda) {
  const double s2 = std::sin(2.0 * (steady_reference(gamma, lambda) + detail::reduce_mod_pi(gamma)));
  return s2 / (lambda - s2);
}
// c·sin²γ and c·sin 2γ, c = (1 − e^{−λt̄})/λ (t̄ at λ = 0), with std::sin.
double frozen_gain_reference(double lambda, double t_end) {
  return lambda == 0.0 ? t_end : (1.0 - std::exp(-lambda * t_end)) / lambda;
}
double frozen_reference(double gamma, double lambda, double t_end) {
  const double s = std::sin(detail::reduce_mod_pi(gamma));
  return frozen_gain_reference(lambda, t_end) * s * s;
}
double frozen_slope_reference(double gamma, double lambda, double t_end) {
  return frozen_gain_reference(lambda, t_end) * std::sin(2.0 * detail::reduce_mod_pi(gamma));
}

// The independent reference: y(t_end) of y' = -λy + sin²(y + γ), y(0) = 0, by
// classical RK4 with a fixed step h ≤ 1e-4 in double. Its error (truncation O(λ⁴h⁴t̄),
// ~1e-13 at t̄ = 10; rounding over ≤ 1e5 steps, ~1e-12) is far below every bound it
// is used for, whose allowance for it is 1e-12 beside terms of 1e-8 and more.
double rk4_nmode(double gamma, double lambda, double t_end) {
  const int64_t steps = std::max<int64_t>(100, static_cast<int64_t>(std::ceil(t_end / 1e-4)));
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

// γ over two periods (y is π-periodic in γ) plus points at and next to kπ, where
// sin²γ and sin 2γ vanish and the closed forms are at their flattest.
std::vector<double> gammas() {
  std::vector<double> g;
  for (int i = 0; i <= 80; ++i) g.push_back(-kPi + 2.0 * kPi * i / 80.0);
  for (int k = -2; k <= 2; ++k)
    for (double off : {0.0, 1e-9, -1e-9, 1e-6, -1e-6, 1e-3, -1e-3}) g.push_back(k * kPi + off);
  return g;
}

std::vector<float> as_floats(const std::vector<double>& v) {
  std::vector<float> f;
  for (double x : v) f.push_back(static_cast<float>(x));
  return f;
}

// A wide set of float γ: a fine grid over four periods, points at and next to kπ and
// kπ + π/2 for small and large k, large |γ| (1e3, 1e5, 1e7, up to near the largest
// float, where only the reduction modulo π keeps the sincos meaningful), tiny ones,
// signed zeros, and uniform random ones in [−100, 100].
std::vector<float> wide_gammas() {
  std::vector<float> g;
  for (int i = 0; i <= 4000; ++i) g.push_back(static_cast<float>(-2.0 * kPi + 4.0 * kPi * i / 4000.0));
  for (double k : {-3.0, -1.0, 0.0, 1.0, 2.0, 100.0, -1000.0, 31831.0, 318310.0})
    for (double off : {0.0, 1e-6, -1e-6, 1e-3, -1e-3, 0.1, kPi / 2}) g.push_back(static_cast<float>(k * kPi + off));
  for (double big : {1e3, 1e5, 1e7, 3.3e9, 1e20, 3e38})
    for (double sign : {1.0, -1.0}) g.push_back(static_cast<float>(sign * big));
  for (float tiny : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-45f}) g.push_back(tiny);
  SplitMix64 r(3);
  for (int i = 0; i < 2000; ++i) g.push_back(static_cast<float>(200.0 * r.next_uniform01() - 100.0));
  return g;
}

// ---- the float layer's error bounds ----
// ε is float's unit roundoff; kSincos the fast sincos's accuracy on |x| ≤ 8, absolute
// on sin and cos (FastMath.SincosMatchesTheStandardLibrary); the layer's arguments
// stay within |2u| ≤ π + 2/λ.
constexpr double kEps = 0x1p-24;
constexpr double kSincos = 2e-7;

// |y − y*| of the layer's steady state, y* the exact root at the float input γ.
// The residual F̂(y) = λy − (1 − ĉ)/2 near y* is off by: the rounding of u = y + γ_r
// (ε|u|, |u| ≤ π/2 + 1/λ, times |d sin²u/du| ≤ 1), the sincos (kSincos/2 on sin²), the
// rounding of 1 − ĉ (≤ 2ε, halved) and of λy (ε·λy ≤ ε). The inputs are off by the
// rounding of γ_r = γ mod π to float (ε·π/2, times |dy*/dγ| ≤ 1/(λ − 1)) and of λ to
// float (|∂y*/∂λ|·ελ = y*ελ/(λ − sin 2u) ≤ ε/(λ − 1)). A residual error δ moves the root
// by at most δ/(λ − 1) (F' ≥ λ − 1); the last update's rounding and the clamp at
// fl(1/λ) add ε/λ each; the Newton count leaves ≤ 1e-9 in exact arithmetic
// (steady_newton_steps). The factor 1.01 covers second-order terms (the last step's
// contraction factor and the rounding of F', both below 1e-5 relative).
double steady_y_bound(double lambda) {
  const double u_max = kPi / 2 + 1.0 / lambda;
  const double residual = kEps * u_max + kSincos / 2 + kEps + kEps;
  const double inputs = kEps * kPi / 2 + kEps;
  return 1.01 * (residual + inputs) / (lambda - 1.0) + 2.0 * kEps / lambda + 1e-9;
}

// |dy − dy*/dγ| of the layer's steady state. ŝ = sin 2û is off by kSincos plus twice
// û's error: y's (steady_y_bound), γ_r's rounding (ε·π/2) and u's (ε·u_max); s/(λ − s)
// changes by at most λ/(λ − 1)² per unit of s. Then the roundings of λ − ŝ (ε(λ + 1),
// times |s|/(λ − s)² ≤ 1/(λ − 1)²), of the quotient (ε|dy| ≤ ε/(λ − 1)) and of λ
// (|∂/∂λ| = |s|/(λ − s)² ≤ 1/(λ − 1)², times ελ).
double steady_slope_bound(double lambda) {
  const double u_max = kPi / 2 + 1.0 / lambda;
  const double du = steady_y_bound(lambda) + kEps * kPi / 2 + kEps * u_max;
  const double l1 = lambda - 1.0;
  return 1.01 * lambda / (l1 * l1) * (kSincos + 2.0 * du) + kEps * (lambda + 1.0) / (l1 * l1) + kEps / l1 +
         kEps * lambda / (l1 * l1);
}

// |y − c·sin²γ| of the layer's frozen forcing, c the gain: sin²γ is off by kSincos/2,
// the rounding of 1 − ĉ (ε) and of γ_r (ε·π/2, times |sin 2γ| ≤ 1); c's rounding to
// float and the product's add ε each, relative.
double frozen_y_bound(double gain) { return std::fabs(gain) * (kSincos / 2 + kEps + kEps * kPi / 2 + 2.0 * kEps); }
// |dy − c·sin 2γ|: kSincos, γ_r's rounding (2ε·π/2), c's and the product's (ε each).
double frozen_slope_bound(double gain) { return std::fabs(gain) * (kSincos + kEps * kPi + 2.0 * kEps); }

// ---- the layer, as the attack calls it ----

struct LayerOutput {
  std::vector<float> y, slope;
};

// One row of the layer over `gamma` under the active SIMD target: a training
// forward, then backward with dy = 1, which returns dy/dγ as kept (1·s is exact).
LayerOutput run_layer(double lambda, double t_end, SurrogateRegime regime, const std::vector<float>& gamma) {
  const int64_t n = static_cast<int64_t>(gamma.size());
  NmOdeSurrogate layer(n, lambda, t_end, regime);
  Tensor x({1, n}), y, ones({1, n}), dx;
  std::copy(gamma.begin(), gamma.end(), x.data());
  std::fill(ones.data(), ones.data() + n, 1.0f);
  layer.forward(x, y, true);
  layer.backward(ones, dx, true, false);
  return {std::vector<float>(y.data(), y.data() + n), std::vector<float>(dx.data(), dx.data() + n)};
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

std::string sci(double v) {
  std::ostringstream s;
  s << std::setprecision(2) << std::scientific << v;
  return s.str();
}

// ---- the Newton step counts, in double ----

TEST(SurrogateNewtonSteps, ReachOneInABillionInDoubleOverGammaAndLambda) {
  // The generic steady state in double (its fast sincos is then good to 1e-15) with
  // steady_newton_steps(λ): at the lower end of each row of its table, inside the last
  // row down to λ = 1 + 1e-4, and at the ends of the documented range [1.5, 30].
  // Allowance: 1e-9 (the counts' target) plus double rounding through F' ≥ λ − 1.
  for (double lambda : {30.0, 6.0, 2.5, 1.6, 1.5, 1.2, 1.1, 1.05, 1.049, 1.01, 1.001, 1.0001}) {
    const int steps = detail::steady_newton_steps(lambda);
    const double allowance = 1e-9 + 1e-15 / (lambda - 1.0);
    double worst = 0.0;
    for (int i = 0; i <= 20000; ++i) {
      const double g = -kPi / 2 + kPi * i / 20000.0;
      const double y = detail::nmode_steady_state_value(g, lambda, steps);
      worst = std::max(worst, std::fabs(y - steady_reference(g, lambda)));
    }
    EXPECT_LE(worst, allowance) << "lambda " << lambda << " steps " << steps;
  }
  // The counts are not padded by whole steps where it costs: at the reference λ = 3,
  // one step fewer misses the target (it leaves about 1.4e-6).
  double worst = 0.0;
  for (int i = 0; i <= 2000; ++i) {
    const double g = -kPi / 2 + kPi * i / 2000.0;
    worst = std::max(worst, std::fabs(detail::nmode_steady_state_value(g, 3.0, 2) - steady_reference(g, 3.0)));
  }
  EXPECT_GT(worst, 1e-9);
}

// ---- the layer on every SIMD target ----

NMODE_PER_SIMD_TARGET(SurrogateLayerOnTarget);

TEST_P(SurrogateLayerOnTarget, SteadyStateMatchesTheDoubleReferenceWithinTheFloatBound) {
  const std::vector<float> g = wide_gammas();
  for (double lambda : {1.5, 3.0, 10.0}) {
    const LayerOutput out = run_layer(lambda, 1.0, SurrogateRegime::SteadyState, g);
    const double by = steady_y_bound(lambda), bs = steady_slope_bound(lambda);
    double worst_y = 0.0, worst_s = 0.0;
    for (size_t i = 0; i < g.size(); ++i) {
      const double ref = steady_reference(g[i], lambda), ref_s = steady_slope_reference(g[i], lambda);
      ASSERT_LE(std::fabs(out.y[i] - ref), by) << "lambda " << lambda << " gamma " << g[i];
      ASSERT_LE(std::fabs(out.slope[i] - ref_s), bs) << "lambda " << lambda << " gamma " << g[i];
      worst_y = std::max(worst_y, std::fabs(out.y[i] - ref));
      worst_s = std::max(worst_s, std::fabs(out.slope[i] - ref_s));
    }
    const std::string at = "lambda_" + sci(lambda);
    RecordProperty("worst_y_" + at, sci(worst_y) + " of bound " + sci(by));
    RecordProperty("worst_slope_" + at, sci(worst_s) + " of bound " + sci(bs));
  }
}

TEST_P(SurrogateLayerOnTarget, FrozenForcingMatchesTheDoubleReferenceWithinTheFloatBound) {
  const std::vector<float> g = wide_gammas();
  for (const auto& [lambda, t_end] :
       {std::pair{3.0, 0.2}, std::pair{3.0, 0.8}, std::pair{0.0, 0.5}, std::pair{-1.0, 2.0}}) {
    const LayerOutput out = run_layer(lambda, t_end, SurrogateRegime::FrozenForcing, g);
    const double gain = frozen_gain_reference(lambda, t_end);
    for (size_t i = 0; i < g.size(); ++i) {
      ASSERT_LE(std::fabs(out.y[i] - frozen_reference(g[i], lambda, t_end)), frozen_y_bound(gain))
          << "lambda " << lambda << " t_end " << t_end << " gamma " << g[i];
      ASSERT_LE(std::fabs(out.slope[i] - frozen_slope_reference(g[i], lambda, t_end)), frozen_slope_bound(gain))
          << "lambda " << lambda << " t_end " << t_end << " gamma " << g[i];
    }
  }
}

TEST_P(SurrogateLayerOnTarget, NonFiniteGammaGivesNaNAndLeavesTheOthersAlone) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  // 37 elements: a whole number of blocks on no target, so the padded tail is used too.
  std::vector<float> g(37, 0.7f);
  g[0] = nan;
  g[5] = inf;
  g[36] = -inf;
  for (SurrogateRegime regime : {SurrogateRegime::SteadyState, SurrogateRegime::FrozenForcing}) {
    const LayerOutput out = run_layer(3.0, 1.0, regime, g);
    const LayerOutput clean = run_layer(3.0, 1.0, regime, std::vector<float>(1, 0.7f));
    for (size_t i = 0; i < g.size(); ++i) {
      if (std::isfinite(g[i])) {
        ASSERT_TRUE(same_bits(out.y[i], clean.y[0]) && same_bits(out.slope[i], clean.slope[0])) << i;
      } else {
        ASSERT_TRUE(std::isnan(out.y[i]) && std::isnan(out.slope[i])) << i << " " << to_string(regime);
      }
    }
  }
}

// RK4 references at the float γ of gammas(), computed once for all targets.
const std::vector<double>& rk4_of(double lambda, double t_end) {
  static std::map<std::pair<double, double>, std::vector<double>> cache;
  auto [it, fresh] = cache.try_emplace({lambda, t_end});
  if (fresh)
    for (float g : as_floats(gammas())) it->second.push_back(rk4_nmode(g, lambda, t_end));
  return it->second;
}

TEST_P(SurrogateLayerOnTarget, SteadyStateMatchesTheOdeAtLargeTEnd) {
  const std::vector<float> g = as_floats(gammas());
  for (double lambda : {3.0, 5.0}) {
    for (double t_end : {5.0, 10.0}) {
      const LayerOutput out = run_layer(lambda, t_end, SurrogateRegime::SteadyState, g);
      const std::vector<double>& ref = rk4_of(lambda, t_end);
      const double by = steady_y_bound(lambda);
      for (size_t i = 0; i < g.size(); ++i) {
        // e = y − y* obeys e' = −λe + (sin²(y+γ) − sin²(y*+γ)) with |sin²a − sin²b| ≤ |a − b|,
        // so |e(t̄)| ≤ |e(0)|·e^{−(λ−1)t̄} = y*·e^{−(λ−1)t̄}, y* ≤ the layer's y + by; plus
        // the layer's float error by and the reference's (1e-12 covers RK4 and rounding).
        const double bound = (out.y[i] + by) * std::exp(-(lambda - 1.0) * t_end) + by + 1e-12;
        EXPECT_LE(std::fabs(out.y[i] - ref[i]), bound)
            << "lambda " << lambda << " t_end " << t_end << " gamma " << g[i];
      }
    }
  }
}

TEST_P(SurrogateLayerOnTarget, FrozenForcingMatchesTheOdeAtSmallTEnd) {
  const std::vector<float> g = as_floats(gammas());
  // λ = 3 (a model's), λ = 0.5 and 0 (asked for explicitly): the bound needs λ ≥ 0 only.
  for (double lambda : {3.0, 0.5, 0.0}) {
    for (double t_end : {0.05, 0.025}) {
      const LayerOutput out = run_layer(lambda, t_end, SurrogateRegime::FrozenForcing, g);
      const std::vector<double>& ref = rk4_of(lambda, t_end);
      double worst = 0.0;
      for (size_t i = 0; i < g.size(); ++i) {
        // e = y − Y obeys e' = −λe + (sin²(y+γ) − sin²γ), |·| ≤ |y| ≤ t (0 ≤ y' ≤ 1
        // while y ≥ 0, λ ≥ 0), so |e(t̄)| ≤ ∫₀^t̄ t dt = t̄²/2: the neglected O(t̄²) term;
        // plus the layer's float error and the reference's 1e-12.
        const double bound = t_end * t_end / 2.0 + frozen_y_bound(frozen_gain_reference(lambda, t_end)) + 1e-12;
        EXPECT_LE(std::fabs(out.y[i] - ref[i]), bound)
            << "lambda " << lambda << " t_end " << t_end << " gamma " << g[i];
        worst = std::max(worst, std::fabs(out.y[i] - ref[i]));
      }
      // The bound is not loose by orders of magnitude: the error really is O(t̄²)
      // (measured 0.59 t̄²/2 at λ = 3, t̄ = 0.05), so the test would see an O(t̄) slip.
      EXPECT_GE(worst, 0.1 * t_end * t_end / 2.0) << "lambda " << lambda << " t_end " << t_end;
    }
  }
}

// The central difference of the layer's float y at γ ± h (each rounded to float, so
// the step is the one the layer saw) against its slope at γ. The tolerance: the
// truncation h̃²/6·m3 (h̃ the half-step actually taken), the slope's change over the
// midpoint's offset from γ (m2 per unit), both y errors over the step (by/h̃), and
// the slope's own error (bs).
void expect_slope_matches_differences(double lambda, double t_end, SurrogateRegime regime, double h, double m2,
                                      double m3, double by, double bs) {
  std::vector<float> at, plus, minus;
  for (double g : gammas()) {
    at.push_back(static_cast<float>(g));
    plus.push_back(static_cast<float>(g + h));
    minus.push_back(static_cast<float>(g - h));
  }
  const LayerOutput o = run_layer(lambda, t_end, regime, at), p = run_layer(lambda, t_end, regime, plus),
                    m = run_layer(lambda, t_end, regime, minus);
  for (size_t i = 0; i < at.size(); ++i) {
    const double half = (double(plus[i]) - double(minus[i])) / 2.0;
    const double offset = std::fabs((double(plus[i]) + double(minus[i])) / 2.0 - double(at[i]));
    const double fd = (double(p.y[i]) - double(m.y[i])) / (2.0 * half);
    const double tol = half * half / 6.0 * m3 + m2 * offset + by / half + bs + 1e-12;
    EXPECT_NEAR(o.slope[i], fd, tol) << "lambda " << lambda << " t_end " << t_end << " gamma " << at[i];
  }
}

TEST_P(SurrogateLayerOnTarget, SteadyDerivativeMatchesCentralDifferences) {
  for (double lambda : {1.5, 3.0, 10.0}) {
    // y' = s/(λ − s), s = sin 2u, u' = λ/(λ − s): y'' = 2λ²cos 2u/(λ − s)³, so |y''| ≤
    // 2λ²/(λ − 1)³, and |y'''| ≤ 2λ³(2λ + 8)/(λ − 1)⁵ (differentiating once more).
    const double m2 = 2.0 * lambda * lambda / std::pow(lambda - 1.0, 3);
    const double m3 = 2.0 * std::pow(lambda, 3) * (2.0 * lambda + 8.0) / std::pow(lambda - 1.0, 5);
    expect_slope_matches_differences(lambda, 1.0, SurrogateRegime::SteadyState, 1e-3, m2, m3, steady_y_bound(lambda),
                                     steady_slope_bound(lambda));
  }
}

TEST_P(SurrogateLayerOnTarget, FrozenDerivativeMatchesCentralDifferences) {
  for (double lambda : {3.0, 0.5, 0.0, -1.0}) {
    for (double t_end : {0.05, 0.3, 2.0}) {
      // y = c·sin²γ: |y''| = |2c·cos 2γ| ≤ 2|c|, |y'''| = |4c·sin 2γ| ≤ 4|c|. h = 1e-2
      // balances the truncation (1.7e-5|c|) against the float noise over the step.
      const double c = std::fabs(frozen_gain_reference(lambda, t_end));
      expect_slope_matches_differences(lambda, t_end, SurrogateRegime::FrozenForcing, 1e-2, 2.0 * c, 4.0 * c,
                                       frozen_y_bound(c), frozen_slope_bound(c));
    }
  }
}

TEST_P(SurrogateLayerOnTarget, ForwardAndBackwardArePerElement) {
  // 33 × 200 = 6600 elements (an odd row count, no whole number of blocks) and
  // 9 × 4100 = 36900 (above the layer's threshold for threads, several chunks).
  for (const auto& [rows, cols] : {std::pair<int64_t, int64_t>{33, 200}, std::pair<int64_t, int64_t>{9, 4100}}) {
    for (const auto& [t_end, regime] :
         {std::pair{1.0, SurrogateRegime::SteadyState}, std::pair{0.2, SurrogateRegime::FrozenForcing}}) {
      NmOdeSurrogate layer(cols, 3.0, t_end);
      ASSERT_EQ(layer.regime(), regime);
      Tensor x({rows, cols}), y, dy({rows, cols}), dx;
      SplitMix64 g(7);
      for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(8.0 * g.next_uniform01() - 4.0);
      for (int64_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(g.next_normal());
      layer.forward(x, y, true);
      layer.backward(dy, dx, true, false);
      const bool steady = regime == SurrogateRegime::SteadyState;
      const double gain = frozen_gain_reference(3.0, t_end);
      const double by = steady ? steady_y_bound(3.0) : frozen_y_bound(gain);
      const double bs = steady ? steady_slope_bound(3.0) : frozen_slope_bound(gain);
      for (int64_t i = 0; i < x.size(); ++i) {
        const double ref = steady ? steady_reference(x[i], 3.0) : frozen_reference(x[i], 3.0, t_end);
        const double ref_s = steady ? steady_slope_reference(x[i], 3.0) : frozen_slope_reference(x[i], 3.0, t_end);
        ASSERT_LE(std::fabs(y[i] - ref), by) << i;
        // dx = dy·s rounded once: the slope's bound times |dy|, plus half an ulp of the product.
        ASSERT_LE(std::fabs(dx[i] - dy[i] * ref_s), std::fabs(dy[i]) * bs + kEps * std::fabs(dy[i] * ref_s)) << i;
      }
      // One row alone, and one thread, give the same bits: no dependence on the batch.
      Tensor x1({1, cols}), y1;
      std::copy(x.data() + 5 * cols, x.data() + 6 * cols, x1.data());
      layer.forward(x1, y1, false);
      for (int64_t i = 0; i < cols; ++i) ASSERT_TRUE(same_bits(y1[i], y[5 * cols + i])) << i;
#if defined(_OPENMP)
      const int saved = omp_get_max_threads();
      omp_set_num_threads(1);
      Tensor y_one;
      layer.forward(x, y_one, false);
      omp_set_num_threads(saved);
      for (int64_t i = 0; i < x.size(); ++i) ASSERT_TRUE(same_bits(y_one[i], y[i])) << i;
#endif
    }
  }
  EXPECT_EQ(NmOdeSurrogate(8, 3.0, 1.0).describe(), "NmOdeSurrogate(8, steady, lambda=3, t_end=1)");
}

// Every target computes the scalar target's bits (no fused multiply-adds, the same
// operations in the same order: CMakeLists.txt), so an attack's result does not
// depend on the CPU it ran on.
TEST(SurrogateLayer, EverySimdTargetGivesTheScalarTargetsBits) {
  const std::vector<float> g = wide_gammas();
  const SimdTarget saved = active_simd_target();
  for (const auto& [lambda, t_end, regime] :
       {std::tuple{3.0, 1.0, SurrogateRegime::SteadyState}, std::tuple{1.5, 2.0, SurrogateRegime::SteadyState},
        std::tuple{1.05, 50.0, SurrogateRegime::SteadyState}, std::tuple{3.0, 0.2, SurrogateRegime::FrozenForcing}}) {
    set_simd_target(SimdTarget::Scalar);
    const LayerOutput scalar = run_layer(lambda, t_end, regime, g);
    for (SimdTarget target : supported_simd_targets()) {
      set_simd_target(target);
      const LayerOutput out = run_layer(lambda, t_end, regime, g);
      for (size_t i = 0; i < g.size(); ++i) {
        ASSERT_TRUE(same_bits(out.y[i], scalar.y[i]) && same_bits(out.slope[i], scalar.slope[i]))
            << to_string(target) << " lambda " << lambda << " gamma " << g[i] << ": " << out.y[i] << " vs "
            << scalar.y[i];
      }
    }
  }
  set_simd_target(saved);
}

// ---- the closed forms and the regime rule (double references) ----

TEST(SurrogateClosedForm, FrozenGainIsExactNearAndAtLambdaZero) {
  EXPECT_EQ(detail::nmode_frozen_gain(0.0, 0.7), 0.7);
  EXPECT_NEAR(detail::nmode_frozen_gain(1e-12, 0.7), 0.7, 1e-12);  // (1 − e^{−λt})/λ → t
  EXPECT_NEAR(detail::nmode_frozen_gain(3.0, 1.0), (1.0 - std::exp(-3.0)) / 3.0, 1e-16);
  EXPECT_NEAR(detail::nmode_frozen_gain(-1.0, 1.0), std::exp(1.0) - 1.0, 1e-15);
}

// The worst error over one period of γ of a regime at (λ, t̄), against RK4.
double worst_error(SurrogateRegime regime, double lambda, double t_end) {
  double worst = 0.0;
  for (int i = 0; i <= 60; ++i) {
    const double g = kPi * i / 60.0;
    const double y = regime == SurrogateRegime::SteadyState ? steady_reference(g, lambda)
                                                            : frozen_reference(g, lambda, t_end);
    worst = std::max(worst, std::fabs(y - rk4_nmode(g, lambda, t_end)));
  }
  return worst;
}

TEST(SurrogateRegimeRule, PicksByLambdaTimesTEnd) {
  using R = SurrogateRegime;
  EXPECT_EQ(resolve_surrogate_regime(3.0, 1.0, R::Auto), R::SteadyState);  // the reference model, λt̄ = 3
  EXPECT_EQ(resolve_surrogate_regime(3.0, kSurrogateSteadyMinLambdaT / 3.0, R::Auto), R::SteadyState);
  EXPECT_EQ(resolve_surrogate_regime(3.0, 0.8, R::Auto), R::FrozenForcing);  // λt̄ = 2.4
  EXPECT_EQ(resolve_surrogate_regime(3.0, 0.0, R::Auto), R::FrozenForcing);
  EXPECT_EQ(resolve_surrogate_regime(3.0, 0.1, R::SteadyState), R::SteadyState);  // asked for: kept
  EXPECT_EQ(resolve_surrogate_regime(3.0, 10.0, R::FrozenForcing), R::FrozenForcing);
  EXPECT_EQ(resolve_surrogate_regime(0.5, 0.1, R::FrozenForcing), R::FrozenForcing);
  EXPECT_EQ(parse_surrogate_regime("steady"), R::SteadyState);
  EXPECT_STREQ(to_string(R::FrozenForcing), "frozen");
  EXPECT_THROW(parse_surrogate_regime("exact"), InvalidArgument);
}

TEST(SurrogateRegimeRule, TheRuleTakesTheMoreAccurateRegimeAwayFromTheThreshold) {
  // The measurement behind kSurrogateSteadyMinLambdaT, repeated at λt̄ well on each side
  // of it: the regime the rule picks has the smaller worst-case error.
  for (double lambda : {2.0, 3.0, 10.0}) {
    for (double lt : {0.5, 1.5, 4.0, 8.0}) {
      const double t_end = lt / lambda;
      const SurrogateRegime picked = resolve_surrogate_regime(lambda, t_end, SurrogateRegime::Auto);
      const SurrogateRegime other =
          picked == SurrogateRegime::SteadyState ? SurrogateRegime::FrozenForcing : SurrogateRegime::SteadyState;
      EXPECT_LT(worst_error(picked, lambda, t_end), worst_error(other, lambda, t_end))
          << "lambda " << lambda << " lambda*t_end " << lt << " picked " << to_string(picked);
    }
  }
}

TEST(SurrogateRegimeRule, RefusesLambdaAtMostOneAndBadValues) {
  for (SurrogateRegime r : {SurrogateRegime::Auto, SurrogateRegime::SteadyState}) {
    try {
      resolve_surrogate_regime(1.0, 1.0, r);
      ADD_FAILURE() << "lambda = 1 accepted for " << to_string(r);
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("needs lambda > 1"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("got lambda = 1"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(resolve_surrogate_regime(std::nan(""), 1.0, SurrogateRegime::FrozenForcing), InvalidArgument);
  EXPECT_THROW(resolve_surrogate_regime(3.0, -1.0, SurrogateRegime::Auto), InvalidArgument);
  EXPECT_THROW(NmOdeSurrogate(4, 0.5, 1.0), InvalidArgument);
  EXPECT_THROW(NmOdeSurrogate(0, 3.0, 1.0), InvalidArgument);
}

// An nmODE model 4 -> 4 -> 4 set by hand: γ_i = 1.1·x_i + 0.1, logits 20·y. On
// x ∈ [0, 1] the neuron's argument u = y + γ stays in (0, π/2), where y (real
// and surrogate) increases with γ: the class is the largest coordinate, and the
// loss has the same gradient signs everywhere in the box for both models.
std::unique_ptr<Sequential> hand_set_model(double t_end, double tol = 1e-3) {
  ModelSpec spec;
  spec.kind = "nmode";
  spec.input = spec.hidden = spec.classes = 4;
  spec.lambda = 3.0;
  spec.t_end = t_end;
  spec.rtol = spec.atol = tol;
  auto model = make_model(spec, 0);
  auto& first = dynamic_cast<Linear&>(model->layer(0));
  auto& last = dynamic_cast<Linear&>(model->layer(2));
  first.weight().fill(0.0f);
  first.bias().fill(0.1f);
  last.weight().fill(0.0f);
  last.bias().fill(0.0f);
  for (int64_t i = 0; i < 4; ++i) {
    first.weight()[i * 4 + i] = 1.1f;
    last.weight()[i * 4 + i] = 20.0f;
  }
  return model;
}

struct Data {
  int64_t n = 64, d = 4;
  std::vector<float> x;
  std::vector<int32_t> y;
};

Data clean_data(Classifier& model) {
  Data data;
  data.x = test::random_inputs(data.n, data.d, 11);
  data.y = test::predicted_labels(model, data.x, data.n);  // every point clean-correct
  return data;
}

AttackConfig surrogate_pgd(const SurrogateModel& s, double eps) {
  AttackConfig c;
  c.kind = AttackKind::PGD;
  c.eps = eps;
  c.gradient_model = s.model.get();
  c.gradient_name = s.name;
  return c;
}

// Whether the real model misclassifies row e of pts: (n, d).
bool misclassified(Classifier& model, const float* pts, int64_t e, int32_t label) {
  std::vector<float> z(static_cast<size_t>(model.num_classes()));
  model.forward(pts + e * model.input_dim(), 1, z.data(), false);
  return !is_correct(z.data(), model.num_classes(), label);
}

TEST(SurrogateModel, CopiesTheWeightsAndMatchesTheModelAtLargeTEnd) {
  const double tol = 1e-6;
  auto model = hand_set_model(10.0, tol);
  SurrogateModel s = make_surrogate_model(*model);
  EXPECT_EQ(s.name, "surrogate-steady");
  ASSERT_EQ(s.model->size(), 3u);
  EXPECT_NE(dynamic_cast<const NmOdeSurrogate*>(&s.model->layer(1)), nullptr);
  const Data data = clean_data(*model);
  std::vector<float> zr(static_cast<size_t>(data.n * 4)), zs(zr.size());
  model->forward(data.x.data(), data.n, zr.data(), false);
  s.model->forward(data.x.data(), data.n, zs.data(), false);
  // At t̄ = 10 the steady state is within e^{−20}/3 of y(t̄), and the layer's float y within
  // steady_y_bound(3) of it. The solver keeps each step's local error under rtol·|y| + atol
  // ≤ 2·tol and the ODE contracts (rate ≥ λ − 1 = 2), damping what earlier steps left:
  // 10·tol covers its global error. Times the weight 20, plus float rounding of logits ≤ 7 (1e-6).
  const double per_unit = std::exp(-20.0) / 3.0 + steady_y_bound(3.0) + 10.0 * tol;
  for (size_t i = 0; i < zr.size(); ++i) EXPECT_NEAR(zs[i], zr[i], 20.0 * per_unit + 1e-6) << i;
  // Copied, not shared: changing the model leaves the surrogate as it was.
  dynamic_cast<Linear&>(model->layer(2)).weight().fill(0.0f);
  std::vector<float> again(zs.size());
  s.model->forward(data.x.data(), data.n, again.data(), false);
  EXPECT_EQ(again, zs);
  EXPECT_EQ(make_surrogate_model(*hand_set_model(0.5)).name, "surrogate-frozen");  // λt̄ = 1.5
}

TEST(SurrogateModel, RefusesAModelWithoutNmOdeOrWithLambdaAtMostOne) {
  ModelSpec spec;
  spec.kind = "mlp-relu";
  spec.input = 4;
  spec.hidden = 8;
  spec.classes = 3;
  try {
    make_surrogate_model(*make_model(spec, 0));
    ADD_FAILURE() << "an MLP was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("the surrogate attack needs a model with an nmODE layer; this model is: "
                                         "Linear(4 -> 8) -> ReLU(8) -> Linear(8 -> 3)"),
              std::string::npos)
        << e.what();
  }
  spec.kind = "nmode";
  spec.lambda = 0.5;
  try {
    make_surrogate_model(*make_model(spec, 0));
    ADD_FAILURE() << "lambda 0.5 was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("surrogate of layer 1 NmOde(8, lambda=0.5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("needs lambda > 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_surrogate_model(Sequential()), InvalidArgument);
}

TEST(SurrogatePgd, UnboundedRadiusBreaksEveryPointAndReachesTheCorner) {
  auto model = hand_set_model(1.0);  // the reference λ = 3, t̄ = 1: steady regime
  SurrogateModel s = make_surrogate_model(*model);
  const Data data = clean_data(*model);
  const RobustReport r = evaluate_robustness(*model, data.x.data(), data.y.data(), data.n, surrogate_pgd(s, 1.0));
  EXPECT_EQ(r.n_clean_correct, data.n);
  EXPECT_EQ(r.n_robust, 0);  // attacks.md §7 check 1: ε = 1 reaches every image
  // The loss decreases in x_y and increases in every other x_c on the whole box for
  // the surrogate too, so each of PGD's signed steps points to the worst corner
  // clip(x_y − ε), clip(x_c + ε), which 40 steps of 2.5ε/40 reach from any start.
  for (double eps : {0.05, 0.3}) {
    const AttackResult res = pgd_attack(*model, data.x.data(), data.y.data(), data.n, surrogate_pgd(s, eps));
    for (int64_t e = 0; e < data.n; ++e)
      for (int64_t i = 0; i < data.d; ++i) {
        const float x = data.x[e * data.d + i];
        const float corner = i == data.y[e] ? std::max(x - static_cast<float>(eps), 0.0f)
                                            : std::min(x + static_cast<float>(eps), 1.0f);
        ASSERT_EQ(res.x_adv[e * data.d + i], corner) << "eps " << eps << " example " << e << " coordinate " << i;
      }
  }
}

TEST(SurrogatePgd, RobustAccuracyIsMonotoneInEpsAndVerdictsAreTheModels) {
  auto model = hand_set_model(1.0);
  SurrogateModel s = make_surrogate_model(*model);
  const Data data = clean_data(*model);
  int64_t last = data.n + 1;
  for (double eps : {0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0}) {
    for (bool track : {false, true}) {
      AttackConfig c = surrogate_pgd(s, eps);
      c.track_success = track;
      const RobustReport r = evaluate_robustness(*model, data.x.data(), data.y.data(), data.n, c);
      if (!track) {
        EXPECT_LE(r.n_robust, last) << "eps " << eps;  // attacks.md §7 check 2
        last = r.n_robust;
      }
      // The attack's own verdict is the real model's: every point it calls fooled is
      // misclassified by the model, and it finds exactly what the evaluation finds.
      const AttackResult res = pgd_attack(*model, data.x.data(), data.y.data(), data.n, c);
      for (int64_t e = 0; e < data.n; ++e) {
        if (res.fooled[e]) {
          EXPECT_TRUE(misclassified(*model, res.x_adv.data(), e, data.y[e])) << e;
        }
      }
      EXPECT_EQ(res.count_fooled(), data.n - r.n_robust) << "eps " << eps << " track " << track;
    }
  }
  EXPECT_EQ(last, 0);
}

// A gradient model that lies about every verdict: its logits are the negated
// logits of `inner` (its argmax is never the model's), with the matching gradient.
class NegatedModel : public Classifier {
 public:
  explicit NegatedModel(Classifier& inner) : inner_(inner) {}
  int64_t input_dim() const override { return inner_.input_dim(); }
  int64_t num_classes() const override { return inner_.num_classes(); }
  void forward(const float* x, int64_t n, float* logits, bool need_input_grad) override {
    inner_.forward(x, n, logits, need_input_grad);
    for (int64_t i = 0; i < n * num_classes(); ++i) logits[i] = -logits[i];
    if (need_input_grad) rows_ = n;
  }
  void backward_input(const float* dlogits, float* dx) override {
    negated_.resize(static_cast<size_t>(rows_ * num_classes()));
    for (size_t i = 0; i < negated_.size(); ++i) negated_[i] = -dlogits[i];
    inner_.backward_input(negated_.data(), dx);
  }

 private:
  Classifier& inner_;
  int64_t rows_ = 0;  // of the last forward with need_input_grad
  std::vector<float> negated_;
};

TEST(SurrogatePgd, TheGradientModelsLogitsNeverJudge) {
  auto model = hand_set_model(1.0);
  SurrogateModel s = make_surrogate_model(*model);
  NegatedModel liar(*s.model);
  test::CountingModel counted(*model);
  const Data data = clean_data(*model);
  for (AttackKind kind : {AttackKind::PGD, AttackKind::FGSM}) {
    for (bool track : {false, true}) {
      AttackConfig c = surrogate_pgd(s, 0.05);
      c.kind = kind;
      c.track_success = track && kind == AttackKind::PGD;
      c.random_start = false;  // from x itself, which the model classifies right
      c.gradient_model = &liar;
      c.gradient_name = "liar";
      counted.forward_calls = counted.grad_forward_calls = 0;
      const AttackResult res = run_attack(counted, data.x.data(), data.y.data(), data.n, c);
      // Judged by the liar every point would be fooled at once; by the model, the
      // liar's gradient (which makes the true class more likely) fools none.
      EXPECT_EQ(res.count_fooled(), 0) << c.describe();
      EXPECT_EQ(counted.grad_forward_calls, 0) << c.describe();  // the model's gradients are never asked for
      const int64_t want = kind == AttackKind::FGSM ? 1 : (c.track_success ? c.resolved_steps() + 1 : 1);
      for (int64_t e = 0; e < data.n; ++e) ASSERT_EQ(res.queries[e], want) << c.describe();
    }
  }
}

TEST(SurrogatePgd, DescribeNamesTheGradientSource) {
  auto model = hand_set_model(1.0);
  SurrogateModel s = make_surrogate_model(*model);
  const AttackConfig c = surrogate_pgd(s, 0.1);
  const std::string d = c.describe();
  EXPECT_EQ(d.rfind("pgd-ce linf eps=0.1 ", 0), 0u) << d;
  EXPECT_NE(d.find(" gradients=surrogate-steady"), std::string::npos) << d;
  AttackConfig plain = c;
  plain.gradient_model = nullptr;
  plain.gradient_name.clear();
  EXPECT_EQ(plain.describe().find("gradients"), std::string::npos) << plain.describe();
  plain.gradient_model = s.model.get();
  EXPECT_NE(plain.describe().find(" gradients=gradient-model"), std::string::npos) << plain.describe();
  const Data data = clean_data(*model);
  EXPECT_EQ(evaluate_robustness(*model, data.x.data(), data.y.data(), data.n, c).attacks.at(0), d);
}

TEST(SurrogatePgd, RefusesAttacksAndModelsItDoesNotFit) {
  auto model = hand_set_model(1.0);
  SurrogateModel s = make_surrogate_model(*model);
  const Data data = clean_data(*model);
  for (AttackKind kind : {AttackKind::APGD, AttackKind::Square}) {
    AttackConfig c = surrogate_pgd(s, 0.1);
    c.kind = kind;
    try {
      c.validate();
      ADD_FAILURE() << to_string(kind) << " accepted a gradient model";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("implemented for fgsm and pgd only"), std::string::npos) << e.what();
    }
    EXPECT_THROW(run_attack(*model, data.x.data(), data.y.data(), data.n, c), InvalidArgument);
  }
  AttackConfig stray;
  stray.eps = 0.1;
  stray.gradient_name = "surrogate-steady";
  EXPECT_THROW(stray.validate(), InvalidArgument);
  // A gradient model of another shape: refused before any call.
  test::LinearModel other(3, 4, std::vector<double>(12, 0.1), std::vector<double>(4, 0.0));
  AttackConfig c = surrogate_pgd(s, 0.1);
  c.gradient_model = &other;
  try {
    pgd_attack(*model, data.x.data(), data.y.data(), data.n, c);
    ADD_FAILURE() << "a 3-input gradient model was accepted for a 4-input model";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("has 3 inputs and 4 classes, the attacked model 4 and 4"), std::string::npos)
        << e.what();
  }
}

void expect_same(const AttackResult& a, const AttackResult& b, const std::string& what) {
  EXPECT_EQ(a.x_adv, b.x_adv) << what;
  EXPECT_EQ(a.fooled, b.fooled) << what;
  EXPECT_EQ(a.queries, b.queries) << what;
  EXPECT_EQ(a.zero_grad_start, b.zero_grad_start) << what;
}

TEST(SurrogatePgd, DeterministicAcrossBatchSizeAndThreads) {
  auto model = hand_set_model(1.0);
  SurrogateModel s = make_surrogate_model(*model);
  const Data data = clean_data(*model);
  for (Norm norm : {Norm::Linf, Norm::L2}) {
    AttackConfig c = surrogate_pgd(s, norm == Norm::Linf ? 0.08 : 0.3);
    c.norm = norm;
    c.steps = 10;
    c.restarts = 2;
    c.seed = 5;
    const AttackResult ref = pgd_attack(*model, data.x.data(), data.y.data(), data.n, c);
    expect_same(ref, pgd_attack(*model, data.x.data(), data.y.data(), data.n, c), c.describe() + " again");
    AttackConfig one = c;
    one.batch = 1;
    expect_same(ref, pgd_attack(*model, data.x.data(), data.y.data(), data.n, one), c.describe() + " batch 1");
#if defined(_OPENMP)
    const int saved = omp_get_max_threads();
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      expect_same(ref, pgd_attack(*model, data.x.data(), data.y.data(), data.n, c),
                  c.describe() + " threads " + std::to_string(threads));
    }
    omp_set_num_threads(saved);
#endif
  }
}

}  // namespace
}  // namespace nmode
