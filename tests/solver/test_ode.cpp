// Tests of the nmODE solver against independent references: the paper's Table 1,
// high-precision golden solutions, closed forms, finite differences of the
// discrete map, and the stability theorem.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "nmode/detail/element_solver.hpp"
#include "nmode/error.hpp"
#include "nmode/ode.hpp"
#include "support/ode_test_util.hpp"
#include "support/simd_test_util.hpp"

namespace nmode {
namespace {

using test::load_golden;
using test::solve_vector;

// Every suite runs once per supported SIMD target.
NMODE_PER_SIMD_TARGET(Table1);
NMODE_PER_SIMD_TARGET(Golden);
NMODE_PER_SIMD_TARGET(ConvergenceOrder);
NMODE_PER_SIMD_TARGET(Sensitivities);
NMODE_PER_SIMD_TARGET(Independence);
NMODE_PER_SIMD_TARGET(Guards);
NMODE_PER_SIMD_TARGET(InitialStepChoice);
NMODE_PER_SIMD_TARGET(Theorem1);
NMODE_PER_SIMD_TARGET(Stats);

SolverOptions tight(double lambda, double t_end) {
  SolverOptions o;
  o.lambda = lambda;
  o.t_end = t_end;
  o.rtol = 1e-10;
  o.atol = 1e-10;
  o.max_steps = 100000;
  return o;
}

double round_to(double v, int decimals) {
  const double s = std::pow(10.0, decimals);
  return std::round(v * s) / s;
}

// ---------------------------------------------------------------- Table 1
TEST_P(Table1, NmodeRowsRoundToThePaper) {
  const auto g = load_golden()["table1"];
  // gamma = W x: five ones in x times 0.4/9 and 0.5/9.
  const std::vector<double> gamma = {5 * 0.4 / 9, 5 * 0.5 / 9};
  EXPECT_DOUBLE_EQ(gamma[0], g["gamma1"].get<double>());
  const double paper[3][2] = {{0.0100, 0.0157}, {0.0105, 0.0167}, {0.0107, 0.0169}};
  const double times[3] = {0.6, 1.0, 5.0};
  for (int k = 0; k < 3; ++k) {
    const auto r = solve_vector(tight(5.0, times[k]), gamma, false);
    EXPECT_EQ(round_to(r.y[0], 4), paper[k][0]) << "t = " << times[k];
    EXPECT_EQ(round_to(r.y[1], 4), paper[k][1]) << "t = " << times[k];
  }
}

TEST_P(Table1, UnstablePlusLambdaVariantMatchesPaperAndNeverHangs) {
  const auto ref = load_golden()["table1"]["P_nmODE"];
  const std::vector<double> gamma = {5 * 0.4 / 9, 5 * 0.5 / 9};
  // dy/dt = +5y + sin^2(y + gamma) is lambda = -5 in our convention.
  const double paper[2][2] = {{0.2302, 0.3767}, {2.3067, 3.5706}};
  for (int k = 0; k < 2; ++k) {
    const auto r = solve_vector(tight(-5.0, ref[k]["t"].get<double>()), gamma, false);
    EXPECT_EQ(round_to(r.y[0], 4), paper[k][0]);
    EXPECT_EQ(round_to(r.y[1], 4), paper[k][1]);
  }
  const auto r = solve_vector(tight(-5.0, 5.0), gamma, false);
  for (int i = 0; i < 2; ++i) {
    if (r.status[i] == ElementStatus::Converged) {
      const double expected = ref[2][i == 0 ? "y1" : "y2"].get<double>();
      EXPECT_NEAR(r.y[i], expected, 0.01 * expected);  // the 1% criterion
    } else {
      EXPECT_TRUE(std::isnan(r.y[i])) << "a failed element must not return a number";
    }
  }
}

// ---------------------------------------------------------------- golden values
TEST_P(Golden, DoubleAtTightToleranceMatchesHighPrecisionReference) {
  const auto cases = load_golden()["random_cases"]["cases"];
  for (const auto& c : cases) {
    const double lambda = c["lam"], t_end = c["tbar"];
    const auto r = solve_vector(tight(lambda, t_end), std::vector<double>{c["gamma"].get<double>()}, true);
    ASSERT_EQ(r.status[0], ElementStatus::Converged);
    // rtol = atol = 1e-10 per step, ~100 steps, contraction for lambda > 1: < 1e-8.
    EXPECT_NEAR(r.y[0], c["y"].get<double>(), 1e-8) << c.dump();
    // Sensitivities share y's steps but are not error-controlled themselves: 10x looser.
    EXPECT_NEAR(r.dy_dgamma[0], c["dy_dgamma"].get<double>(), 1e-7) << c.dump();
    EXPECT_NEAR(r.dy_dlambda[0], c["dy_dlam"].get<double>(), 1e-7) << c.dump();
  }
}

TEST_P(Golden, FloatAtDefaultToleranceWithinDerivedBound) {
  const auto cases = load_golden()["random_cases"]["cases"];
  for (const auto& c : cases) {
    SolverOptions o;
    o.lambda = c["lam"];
    o.t_end = c["tbar"];
    const auto r = solve_vector(o, std::vector<float>{c["gamma"].get<float>()}, true);
    ASSERT_EQ(r.status[0], ElementStatus::Converged);
    const double y_ref = c["y"];
    // Each accepted step's local error is at most tol = atol + rtol*|y| (the
    // estimate bounds the 4th-order solution; we keep the more accurate 5th-order
    // one). For lambda > 1, df/dy = -lambda + sin 2u <= 1 - lambda < 0, so errors
    // are not amplified and add up at most: |error| <= steps * tol. Float rounding
    // (~1e-7 * steps) is negligible next to 1e-3.
    const double tol = o.atol + o.rtol * std::abs(y_ref);
    const double bound = double(r.stats.accepted_steps) * tol;
    EXPECT_NEAR(r.y[0], y_ref, bound) << c.dump();
    // The sensitivities are not error-controlled: they ride on y's steps. Their
    // forcing sin 2u is the derivative of y's forcing sin^2 u, of the same size,
    // so we allow twice y's bound; a wrong derivative is off by O(|dy/dgamma|) ~ 0.1.
    EXPECT_NEAR(r.dy_dgamma[0], c["dy_dgamma"].get<double>(), 2 * bound) << c.dump();
  }
}

TEST_P(Golden, FloatAtTightToleranceIsLimitedByRounding) {
  const auto cases = load_golden()["random_cases"]["cases"];
  for (const auto& c : cases) {
    SolverOptions o;
    o.lambda = c["lam"];
    o.t_end = c["tbar"];
    o.rtol = o.atol = 1e-6;
    const auto r = solve_vector(o, std::vector<float>{c["gamma"].get<float>()}, true);
    const double y_ref = c["y"];
    // As above (steps * tol), plus float rounding: the input gamma itself is
    // rounded by 3e-8 relative (|dy/dgamma| <= 1), and every step adds ~1e-7 |y|.
    const double steps = double(r.stats.accepted_steps);
    const double bound = steps * (o.atol + o.rtol * std::abs(y_ref)) + 6e-8 * std::abs(c["gamma"].get<double>()) +
                         steps * 2e-7 * std::abs(y_ref);
    EXPECT_NEAR(r.y[0], y_ref, bound) << c.dump();
  }
}

TEST_P(Golden, GammaShiftedByMultiplesOfPiGivesTheSameSolution) {
  // y is pi-periodic in gamma; the argument reduction must keep large gammas accurate.
  const auto c = load_golden()["random_cases"]["cases"][5];
  std::vector<double> gamma;
  for (int k : {-1000, -3, 0, 7, 100000}) gamma.push_back(c["gamma"].get<double>() + k * M_PI);
  const auto r = solve_vector(tight(c["lam"], c["tbar"]), gamma, true);
  for (size_t i = 0; i < gamma.size(); ++i) {
    // k*pi in double carries an error of ~|k| * 1e-16 * pi: at most ~3e-11 here.
    EXPECT_NEAR(r.y[i], c["y"].get<double>(), 1e-8);
    EXPECT_NEAR(r.dy_dgamma[i], c["dy_dgamma"].get<double>(), 1e-7);
  }
}

TEST_P(Golden, HugeFloatGammasSolveAsTheirExactRemainderModuloPi) {
  // Floats 1e30 and -3e38 are exact doubles; their exact remainders modulo pi
  // (tests/data/reduce-pi-golden.json, see tests/solver/test_reduce_pi.cpp) are
  // 0.91270893555729791 and 1.0652393883886980. Once reduced (each SIMD target
  // reduces lane by lane beyond |gamma| = 16), a solve at the huge gamma is one at
  // the float nearest its remainder: the same y, in fact bit for bit.
  std::ifstream in(std::string(NMODE_TEST_DATA_DIR) + "/reduce-pi-golden.json");
  const auto cases = nlohmann::json::parse(in)["cases"];
  auto remainder_of = [&](float gamma) {
    for (const auto& c : cases)
      if (std::strtod(c["gamma"].get<std::string>().c_str(), nullptr) == double(gamma)) return c["r_hi"].get<double>();
    ADD_FAILURE() << "no golden remainder for " << gamma;
    return 0.0;
  };
  SolverOptions o;  // the user's case: lambda 3 (the default), t_end 1, default tolerances
  o.lambda = 3.0;
  o.t_end = 1.0;
  const std::vector<float> huge = {1e30f, -3.0e38f, -1e30f};
  std::vector<float> reduced;
  for (float g : huge) reduced.push_back(static_cast<float>(remainder_of(g)));
  const auto at_huge = solve_vector(o, huge, true), at_reduced = solve_vector(o, reduced, true);
  for (size_t i = 0; i < huge.size(); ++i) {
    ASSERT_EQ(at_huge.status[i], ElementStatus::Converged);
    EXPECT_NEAR(at_huge.y[i], at_reduced.y[i], 1e-6f) << huge[i];
    EXPECT_NEAR(at_huge.dy_dgamma[i], at_reduced.dy_dgamma[i], 1e-6f) << huge[i];
  }
  // The exact answer for gamma = 1e30f: a tight double solve at the exact remainder
  // gives y(1) = 0.259684 (an independent RK4 with 20000 steps: 0.25968425078554).
  // The old reduction (its k is wrong from |gamma / pi| = 2^51 on) gave the user 0.029.
  const auto exact = solve_vector(tight(3.0, 1.0), std::vector<double>{remainder_of(1e30f)}, false);
  EXPECT_NEAR(exact.y[0], 0.25968425078554, 1e-8);
  // Float at the default tolerance: within steps * tol of it (see FloatAtDefaultToleranceWithinDerivedBound).
  const double bound = double(at_huge.stats.accepted_steps) * (o.atol + o.rtol * exact.y[0]);
  EXPECT_NEAR(at_huge.y[0], exact.y[0], bound);
  // Doubles too, up to DBL_MAX: bit for bit the solve at the double nearest the remainder.
  const std::vector<double> huge_double = {std::numeric_limits<double>::max(), 1e300, -0x1.6ac5b262ca1ffp+850};
  std::vector<double> reduced_double;
  for (double g : huge_double) reduced_double.push_back(detail::reduce_mod_pi(g));
  EXPECT_EQ(reduced_double[0], -0x1.453020ff06b39p-8);  // golden r_hi of DBL_MAX
  const auto d_huge = solve_vector(tight(3.0, 1.0), huge_double, false);
  const auto d_reduced = solve_vector(tight(3.0, 1.0), reduced_double, false);
  for (size_t i = 0; i < huge_double.size(); ++i) EXPECT_EQ(d_huge.y[i], d_reduced.y[i]) << huge_double[i];
}

// ---------------------------------------------------------------- convergence order
struct Decay {  // y' = -mu y: y(t) = exp(-mu t)
  double mu;
  double operator()(double, double y) const { return -mu * y; }
};
struct Cosine {  // y' = cos t: y(t) = sin t
  double operator()(double t, double) const { return std::cos(t); }
};

template <class Rhs>
void one_step(const Rhs& f, double h, double y0, double& y1, double& est) {
  double y_new = 0, k7 = 0;
  est = detail::dopri5_step(f, 0.0, h, y0, f(0.0, y0), y_new, k7);
  y1 = y_new;
}

TEST_P(ConvergenceOrder, LocalErrorOfSolutionIsOrder5AndEstimateIsOrder4) {
  // Local error of an order-p method scales as h^(p+1): halving h divides the
  // error of the 5th-order solution by ~2^6 and the embedded estimate by ~2^5.
  // y' = cos t is pure quadrature, for which DP5's weights are more accurate than
  // order 5, so there only the estimate's order is checked.
  const Decay decay{2.0};
  const Cosine cosine;
  for (int problem = 0; problem < 2; ++problem) {
    double prev_err = 0, prev_est = 0;
    for (int k = 0; k < 4; ++k) {
      const double h = 0.4 / std::pow(2.0, k);
      double y1 = 0, est = 0, exact = 0;
      if (problem == 0) {
        one_step(decay, h, 1.0, y1, est);
        exact = std::exp(-decay.mu * h);
      } else {
        one_step(cosine, h, 0.0, y1, est);
        exact = std::sin(h);
      }
      const double err = std::abs(y1 - exact);
      if (k > 0) {
        const double order_solution = std::log2(prev_err / err) - 1;
        const double order_estimate = std::log2(prev_est / std::abs(est)) - 1;
        // Asymptotic ratios; 0.35 leaves room for the higher-order terms at h = 0.4.
        if (problem == 0) {
          EXPECT_NEAR(order_solution, 5.0, 0.35) << "h " << h;
        }
        EXPECT_NEAR(order_estimate, 4.0, 0.35) << "problem " << problem << " h " << h;
      }
      prev_err = err;
      prev_est = std::abs(est);
    }
  }
}

TEST_P(ConvergenceOrder, GlobalErrorWithFixedStepsIsOrder5) {
  const Decay f{3.0};
  double prev = 0;
  for (int k = 0; k < 3; ++k) {
    const int steps = 32 << k;  // from 32 steps on, h^6 terms are below 10%
    const double h = 1.0 / steps;
    double y = 1.0, t = 0.0;
    for (int i = 0; i < steps; ++i) {
      double y_new = 0, k7 = 0;
      detail::dopri5_step(f, t, h, y, f(t, y), y_new, k7);
      y = y_new;
      t += h;
    }
    const double err = std::abs(y - std::exp(-3.0));
    if (k > 0) {
      EXPECT_NEAR(std::log2(prev / err), 5.0, 0.3) << "steps " << steps;
    }
    prev = err;
  }
}

// ---------------------------------------------------------------- sensitivities
struct Trajectory {
  std::vector<double> steps;  // accepted step sizes, in order
};

// Runs the production driver in double and records the accepted steps.
Trajectory record_steps(double gamma, double lambda, double t_end, double tol, double y0) {
  detail::ElementParams<double> p{lambda, t_end, tol, tol, 100000, detail::InitialStepRule::Probe,
                                  detail::stable_step_limit(lambda)};
  detail::ElementSolver<double, detail::ValueState<double>> e;
  detail::element_begin(e, gamma, y0, p);
  Trajectory tr;
  while (!e.done) {
    const double h = e.t + 1.01 * e.h >= t_end ? t_end - e.t : e.h;  // as element_attempt
    const double before = e.accepted;
    detail::element_attempt(e, p);
    if (e.accepted > before) tr.steps.push_back(h);
  }
  return tr;
}

// The discrete map with the step sequence frozen.
double frozen_map(const Trajectory& tr, double gamma, double lambda, double y0) {
  const detail::NmodeRhs<double> f{detail::reduce_mod_pi(gamma), lambda};
  detail::ValueState<double> y{y0};
  double t = 0;
  for (double h : tr.steps) {
    detail::ValueState<double> y_new{}, k7{};
    detail::dopri5_step(f, t, h, y, f(t, y), y_new, k7);
    y = y_new;
    t += h;
  }
  return y.y;
}

TEST_P(Sensitivities, EqualFiniteDifferencesOfTheFrozenDiscreteMap) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 2.0);
  std::uniform_real_distribution<double> lam(1.5, 10.0), tend(0.05, 5.0), start(-0.5, 0.5);
  for (int trial = 0; trial < 40; ++trial) {
    const double gamma = normal(rng), lambda = lam(rng), t_end = tend(rng), y0 = start(rng);
    SolverOptions o;
    o.lambda = lambda;
    o.t_end = t_end;  // default tolerance 1e-3: few, large steps, where a wrong derivative shows
    const std::vector<double> y0v{y0};
    const auto r = solve_vector(o, std::vector<double>{gamma}, true, &y0v);
    const Trajectory tr = record_steps(gamma, lambda, t_end, 1e-3, y0);
    ASSERT_EQ(int64_t(tr.steps.size()), r.stats.accepted_steps);
    EXPECT_EQ(frozen_map(tr, gamma, lambda, y0), r.y[0]) << "replayed map must equal the solver bitwise";
    // Central differences: truncation ~eps^2 * |y'''| and rounding ~1e-16/eps; both < 1e-9.
    const double eps = 1e-5;
    const double fd_gamma =
        (frozen_map(tr, gamma + eps, lambda, y0) - frozen_map(tr, gamma - eps, lambda, y0)) / (2 * eps);
    const double fd_lambda =
        (frozen_map(tr, gamma, lambda + eps, y0) - frozen_map(tr, gamma, lambda - eps, y0)) / (2 * eps);
    const double fd_y0 =
        (frozen_map(tr, gamma, lambda, y0 + eps) - frozen_map(tr, gamma, lambda, y0 - eps)) / (2 * eps);
    EXPECT_NEAR(r.dy_dgamma[0], fd_gamma, 1e-8) << "trial " << trial;
    EXPECT_NEAR(r.dy_dlambda[0], fd_lambda, 1e-8) << "trial " << trial;
    EXPECT_NEAR(r.dy_dy0[0], fd_y0, 1e-8) << "trial " << trial;
  }
}

TEST_P(Sensitivities, ValueIsBitwiseIdenticalWithOrWithoutGradients) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> gamma(1000);
  for (auto& g : gamma) g = normal(rng);
  SolverOptions o;
  const auto a = solve_vector(o, gamma, false);
  const auto b = solve_vector(o, gamma, true);
  for (size_t i = 0; i < gamma.size(); ++i) ASSERT_EQ(a.y[i], b.y[i]) << "element " << i;
  EXPECT_EQ(a.stats.accepted_steps, b.stats.accepted_steps);
}

TEST_P(Sensitivities, StayAccurateWhereYIsNearZero) {
  // Near gamma = k*pi, y ~ 0 and y's error estimate lets h grow without bound;
  // the sensitivity equation (Jacobian down to -lambda-1) then leaves DP5's
  // stability interval unless h is capped. Before the cap, s was off by 0.6 at
  // lambda = 10; with it, s's error stays within a few times y's tolerance.
  for (double lambda : {3.0, 10.0, 30.0}) {
    for (double t_end : {1.0, 5.0}) {
      std::vector<float> gamma;
      for (int i = 0; i <= 400; ++i) gamma.push_back(float(-M_PI + 2 * M_PI * i / 400));
      for (float g : {0.0f, 1e-4f, -1e-3f, float(M_PI), float(M_PI) + 1e-3f}) gamma.push_back(g);
      SolverOptions o;
      o.lambda = lambda;
      o.t_end = t_end;
      const auto r = solve_vector(o, gamma, true);
      const std::vector<double> gd(gamma.begin(), gamma.end());
      const auto ref = solve_vector(tight(lambda, t_end), gd, true);
      for (size_t i = 0; i < gamma.size(); ++i) {
        // 10 * (atol + rtol): measured worst case 5.3x at lambda = 3, t_end = 1.
        ASSERT_NEAR(r.dy_dgamma[i], ref.dy_dgamma[i], 10 * (o.atol + o.rtol)) << "gamma " << gamma[i] << " lambda " << lambda;
        ASSERT_NEAR(r.dy_dlambda[i], ref.dy_dlambda[i], 10 * (o.atol + o.rtol)) << "gamma " << gamma[i] << " lambda " << lambda;
      }
    }
  }
}

TEST_P(Sensitivities, FloatNextToMultiplesOfPiMatchesTheDoubleSolver) {
  // The float path reduces gamma in float (lanes.hpp). Next to k pi, r is tiny
  // and y ~ r^2 t: the float solve there must still agree with a tight double
  // solve of the same gamma, within FloatAtDefaultToleranceWithinDerivedBound's
  // bound (steps * tol for y, twice that for dy/dgamma).
  std::vector<float> gamma;
  for (int k = -5; k <= 5; ++k) {
    const float centre = static_cast<float>(k * M_PI);
    float up = centre, down = centre;
    for (int i = 0; i < 40; ++i) {
      gamma.push_back(up);
      gamma.push_back(down);
      up = std::nextafter(up, 100.0f);
      down = std::nextafter(down, -100.0f);
    }
    for (float offset : {1e-6f, -1e-5f, 1e-4f, -1e-3f, 3e-2f}) gamma.push_back(centre + offset);
  }
  for (double t_end : {0.05, 1.0, 5.0}) {
    SolverOptions o;
    o.t_end = t_end;
    const auto r = solve_vector(o, gamma, true);
    const std::vector<double> gd(gamma.begin(), gamma.end());
    const auto ref = solve_vector(tight(o.lambda, t_end), gd, true);
    for (size_t i = 0; i < gamma.size(); ++i) {
      ASSERT_EQ(r.status[i], ElementStatus::Converged);
      const double bound = double(r.accepted_steps[i]) * (o.atol + o.rtol * std::abs(ref.y[i]));
      ASSERT_NEAR(r.y[i], ref.y[i], bound) << std::hexfloat << gamma[i] << " t_end " << t_end;
      ASSERT_NEAR(r.dy_dgamma[i], ref.dy_dgamma[i], 2 * bound) << std::hexfloat << gamma[i] << " t_end " << t_end;
    }
  }
}

// ---------------------------------------------------------------- independence
TEST_P(Independence, ElementResultDoesNotDependOnBatchOrThreads) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  const int n = 4097;
  std::vector<float> gamma(n);
  for (auto& g : gamma) g = normal(rng);
  gamma[5] = std::numeric_limits<float>::quiet_NaN();
  gamma[70] = 1e6f;
  SolverOptions o;
  o.lambda = 20.0;  // mixed stiffness: some elements need many more steps
  o.t_end = 2.0;
  const auto batch = solve_vector(o, gamma, true);
  for (int i : {0, 1, 5, 31, 32, 33, 70, 1000, 4096}) {
    const auto alone = solve_vector(o, std::vector<float>{gamma[i]}, true);
    EXPECT_EQ(std::memcmp(&alone.y[0], &batch.y[i], sizeof(float)), 0) << "element " << i;
    EXPECT_EQ(std::memcmp(&alone.dy_dgamma[0], &batch.dy_dgamma[i], sizeof(float)), 0) << "element " << i;
  }
  // A shifted window: every element lands in a different lane and block.
  const std::vector<float> shifted(gamma.begin() + 3, gamma.begin() + 1003);
  const auto part = solve_vector(o, shifted, true);
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(std::memcmp(&part.y[i], &batch.y[i + 3], sizeof(float)), 0) << "element " << i + 3;
#ifdef _OPENMP
  const int saved = omp_get_max_threads();
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    const auto again = solve_vector(o, gamma, true);
    EXPECT_EQ(std::memcmp(again.y.data(), batch.y.data(), n * sizeof(float)), 0) << threads << " threads";
    EXPECT_EQ(again.stats.accepted_steps, batch.stats.accepted_steps);
  }
  omp_set_num_threads(saved);
#endif
}

TEST_P(Independence, AwkwardSizes) {
  SolverOptions o;
  for (int n : {0, 1, 31, 32, 33, 1000, 4097}) {
    std::vector<double> gamma(n);
    for (int i = 0; i < n; ++i) gamma[i] = std::sin(i * 0.37) * 4;
    const auto r = solve_vector(o, gamma, true);
    EXPECT_EQ(r.stats.elements, n);
    EXPECT_EQ(r.stats.converged, n);
    for (int i = 0; i < n; ++i) ASSERT_TRUE(std::isfinite(r.y[i]));
  }
}

// ---------------------------------------------------------------- guards
TEST_P(Guards, MaxStepsIsReportedAndReturns) {
  SolverOptions o;
  o.max_steps = 2;
  o.t_end = 5.0;
  const auto r = solve_vector(o, std::vector<double>{0.3, 1.0}, true);
  EXPECT_EQ(r.stats.hit_max_steps, 2);
  EXPECT_EQ(r.status[0], ElementStatus::MaxSteps);
  EXPECT_TRUE(std::isnan(r.y[0]));
  EXPECT_TRUE(std::isnan(r.dy_dgamma[0]));
  EXPECT_EQ(r.stats.max_attempts, 2);
}

TEST_P(Guards, NonFiniteGammaFailsThatElementOnly) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> gamma = {0.5f, std::numeric_limits<float>::quiet_NaN(), -inf, 0.5f};
  const auto r = solve_vector(SolverOptions{}, gamma, true);
  EXPECT_EQ(r.status[1], ElementStatus::NonFinite);
  EXPECT_EQ(r.status[2], ElementStatus::NonFinite);
  EXPECT_TRUE(std::isnan(r.y[1]) && std::isnan(r.y[2]));
  EXPECT_EQ(r.status[0], ElementStatus::Converged);
  EXPECT_EQ(r.y[0], r.y[3]);
  EXPECT_EQ(r.stats.non_finite, 2);
  EXPECT_EQ(r.stats.converged, 2);
}

TEST_P(Guards, ZeroEndTimeReturnsStartWithZeroSensitivities) {
  SolverOptions o;
  o.t_end = 0.0;
  const std::vector<double> y0 = {0.25, -1.0};
  const auto r = solve_vector(o, std::vector<double>{1.0, -2.0}, true, &y0);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(r.y[i], y0[i]);
    EXPECT_EQ(r.dy_dgamma[i], 0.0);
    EXPECT_EQ(r.dy_dlambda[i], 0.0);
    EXPECT_EQ(r.dy_dy0[i], 1.0);  // d y0 / d y0
    EXPECT_EQ(r.status[i], ElementStatus::Converged);
  }
  EXPECT_EQ(r.stats.accepted_steps, 0);
}

TEST_P(Guards, StiffCaseConvergesWithinBudget) {
  SolverOptions o;
  o.lambda = 30;
  o.t_end = 5;
  o.rtol = o.atol = 1e-5;
  std::vector<double> gamma;
  for (int i = 0; i < 64; ++i) gamma.push_back(-3 + 0.1 * i);
  const auto r = solve_vector(o, gamma, false);
  EXPECT_EQ(r.stats.converged, 64);
  EXPECT_LT(r.stats.max_attempts, 200);  // design.md: the stiffest sensible case needs ~50
}

// atol = 0 is valid (pure relative control). At y0 = 0 the error scale
// atol + rtol |y| is then 0: the solver must still start and converge, including
// at gamma = 0 where y stays exactly 0, and agree with a tight reference.
TEST_P(Guards, PureRelativeToleranceConverges) {
  const std::vector<double> gamma = {0.0, 0.7, -1.3, 3.0};
  const auto ref = solve_vector(tight(3.0, 1.0), gamma, false);
  for (InitialStep rule : {InitialStep::Probe, InitialStep::Textbook}) {
    SolverOptions o;
    o.atol = 0;
    o.rtol = 1e-6;
    o.initial_step = rule;
    const auto d = solve_vector(o, gamma, false);
    const auto f = solve_vector(o, std::vector<float>(gamma.begin(), gamma.end()), false);
    EXPECT_EQ(d.stats.converged, 4);
    EXPECT_EQ(f.stats.converged, 4);
    for (size_t i = 0; i < gamma.size(); ++i) {
      // Local errors of at most rtol |y| per step over a few dozen steps (double);
      // float adds rounding of a few ulp per step.
      EXPECT_NEAR(d.y[i], ref.y[i], 1e-4 * std::abs(ref.y[i])) << "gamma " << gamma[i];
      EXPECT_NEAR(f.y[i], ref.y[i], 1e-4 * std::abs(ref.y[i]) + 1e-6) << "gamma " << gamma[i];
    }
  }
}

TEST_P(Guards, OverflowingUnstableVariantEndsWithAFailureStatus) {
  SolverOptions o;
  o.lambda = -5;  // y grows like exp(5t): float overflows near t = 18
  o.t_end = 40;
  const auto r = solve_vector(o, std::vector<float>{0.3f}, false);
  EXPECT_NE(r.status[0], ElementStatus::Converged);
  EXPECT_TRUE(std::isnan(r.y[0]));
  EXPECT_EQ(r.stats.failed(), 1);
}

TEST_P(Guards, InvalidOptionsThrowNamingTheOption) {
  auto expect_throw = [](SolverOptions o, const std::string& word) {
    try {
      solve_vector(o, std::vector<double>{0.1}, false);
      FAIL() << "expected InvalidArgument mentioning " << word;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  SolverOptions o;
  o.t_end = -1;
  expect_throw(o, "t_end");
  o = SolverOptions{};
  o.rtol = 0;
  expect_throw(o, "rtol");
  o = SolverOptions{};
  o.atol = -1e-3;
  expect_throw(o, "atol");
  o = SolverOptions{};
  o.lambda = std::nan("");
  expect_throw(o, "lambda");
  o = SolverOptions{};
  o.max_steps = 0;
  expect_throw(o, "max_steps");
  o = SolverOptions{};
  o.t_end = std::numeric_limits<double>::infinity();
  expect_throw(o, "t_end");
  EXPECT_THROW(solve<double>(SolverOptions{}, 3, nullptr, nullptr, SolveOutputs<double>{}), InvalidArgument);
}

// Below the type's unit roundoff a tolerance cannot be met, only chased: float at
// rtol 1e-30 used to take ~10^5 steps per element (until max_steps) for nothing.
// A solve clamps rtol to min_rtol<T>(): bitwise the floor's result, at its cost.
TEST(ToleranceFloor, RtolBelowTheTypesEpsilonSolvesAsTheFloor) {
  auto solve_at = [](auto value, double rtol) {
    using T = decltype(value);
    SolverOptions o;
    o.rtol = rtol;
    o.atol = 0;
    o.t_end = 5;
    o.max_steps = 1 << 20;
    return solve_vector(o, std::vector<T>{T(0.3), T(1.5), T(-2), T(1000)}, true);
  };
  const auto f_floor = solve_at(0.0f, nmode::min_rtol<float>());
  for (double rtol : {1e-12, 1e-30}) {
    const auto f = solve_at(0.0f, rtol);
    EXPECT_EQ(f.y, f_floor.y) << "float at rtol " << rtol;
    EXPECT_EQ(f.stats.accepted_steps, f_floor.stats.accepted_steps);
    EXPECT_EQ(f.stats.converged, 4);
  }
  EXPECT_LT(f_floor.stats.max_accepted, 200);
  EXPECT_NE(solve_at(0.0f, 1e-5).y, f_floor.y) << "a tolerance above the floor must not be clamped";
  EXPECT_EQ(solve_at(0.0, 1e-17).y, solve_at(0.0, nmode::min_rtol<double>()).y);
  EXPECT_EQ(nmode::min_rtol<float>(), double(std::numeric_limits<float>::epsilon()));
  EXPECT_EQ(nmode::min_rtol<double>(), std::numeric_limits<double>::epsilon());
}

// ---------------------------------------------------------------- initial step
TEST_P(InitialStepChoice, UncappedProbeSavesAboutThreeStepsPerElement) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> gamma(20000);
  for (auto& g : gamma) g = normal(rng);
  SolverOptions o;  // lambda 3, t_end 1, tol 1e-3
  const auto probe = solve_vector(o, gamma, false);
  o.initial_step = InitialStep::Textbook;
  const auto textbook = solve_vector(o, gamma, false);
  // design.md measured 3.4 (probe) versus 6.4 (capped) accepted steps per element.
  EXPECT_LT(probe.stats.mean_accepted(), 3.7);
  EXPECT_GT(textbook.stats.mean_accepted(), 5.5);
  for (size_t i = 0; i < gamma.size(); i += 97)
    EXPECT_NEAR(probe.y[i], textbook.y[i], 4e-3);  // both within a few tolerances of the truth
}

// ---------------------------------------------------------------- Theorem 1
TEST_P(Theorem1, OutputDifferenceIsBoundedByTauOverLambdaMinusOne) {
  std::mt19937_64 rng(2024);
  std::uniform_real_distribution<double> unit(-1.0, 1.0), lam(1.2, 8.0), tend(0.05, 6.0);
  for (int trial = 0; trial < 30; ++trial) {
    const int m = 1 + int(rng() % 40), n = 1 + int(rng() % 30);
    const double scale = 3.0 * std::abs(unit(rng));
    std::vector<double> W(size_t(m) * n), b(m), x(n), xb(n);
    for (auto& w : W) w = scale * unit(rng);
    for (auto& v : b) v = unit(rng);
    double dx = 0;
    for (int j = 0; j < n; ++j) {
      x[j] = unit(rng);
      xb[j] = x[j] + 0.3 * unit(rng);
      dx = std::max(dx, std::abs(x[j] - xb[j]));
    }
    std::vector<double> g(m), gb(m);
    double tau = 0;
    for (int i = 0; i < m; ++i) {
      double row = 0, s = b[i], sb = b[i];
      for (int j = 0; j < n; ++j) {
        row += std::abs(W[i * n + j]);
        s += W[i * n + j] * x[j];
        sb += W[i * n + j] * xb[j];
      }
      tau = std::max(tau, row);
      g[i] = s;
      gb[i] = sb;
    }
    const double lambda = lam(rng), t_end = tend(rng);
    const auto y = solve_vector(tight(lambda, t_end), g, false);
    const auto yb = solve_vector(tight(lambda, t_end), gb, false);
    double dy = 0;
    for (int i = 0; i < m; ++i) dy = std::max(dy, std::abs(y.y[i] - yb.y[i]));
    const double finite_factor = -std::expm1(-(lambda - 1) * t_end) / (lambda - 1);
    // Slack 1e-8: the solver's own error at tolerance 1e-10.
    EXPECT_LE(dy, tau / (lambda - 1) * dx + 1e-8) << "trial " << trial;
    EXPECT_LE(dy, finite_factor * tau * dx + 1e-8) << "trial " << trial;
  }
}

// ---------------------------------------------------------------- stats
TEST_P(Stats, CountsAddUp) {
  std::vector<double> gamma(100, 0.7);
  gamma[3] = std::nan("");
  const auto r = solve_vector(SolverOptions{}, gamma, false);
  EXPECT_EQ(r.stats.elements, 100);
  EXPECT_EQ(r.stats.converged + r.stats.failed(), 100);
  EXPECT_EQ(r.stats.accepted_steps, 99 * r.stats.max_accepted);  // identical elements
  EXPECT_GT(r.stats.rhs_evaluations(), 6 * r.stats.accepted_steps);
  EXPECT_NE(r.stats.summary().find("non-finite"), std::string::npos);
}

// The per-element statistics against a recount from the per-element outputs
// (status and accepted steps), and merge's sums and maxima by hand.
TEST_P(Stats, MatchARecountOfTheElementOutputs) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> gamma(1000);
  for (auto& g : gamma) g = normal(rng);
  gamma[10] = std::numeric_limits<float>::infinity();
  gamma[500] = std::nanf("");
  std::vector<float> y(gamma.size());
  std::vector<ElementStatus> status(gamma.size());
  std::vector<int32_t> accepted(gamma.size());
  SolveOutputs<float> out;
  out.y = y.data();
  out.status = status.data();
  out.accepted_steps = accepted.data();
  SolverOptions o;
  o.t_end = 5;
  o.max_steps = 6;  // some elements run out of steps
  const SolveStats stats = solve_cpu<float>(o, int64_t(gamma.size()), gamma.data(), nullptr, out);
  int64_t sum = 0, most = 0, by_status[kElementStatuses] = {};
  for (size_t i = 0; i < gamma.size(); ++i) {
    sum += accepted[i];
    most = std::max<int64_t>(most, accepted[i]);
    ++by_status[static_cast<int>(status[i])];
  }
  EXPECT_EQ(stats.elements, 1000);
  EXPECT_EQ(stats.accepted_steps, sum);
  EXPECT_EQ(stats.max_accepted, most);
  EXPECT_EQ(stats.converged, by_status[0]);
  EXPECT_EQ(stats.hit_max_steps, by_status[1]);
  EXPECT_EQ(stats.non_finite, 2);
  EXPECT_EQ(stats.non_finite, by_status[2]);
  EXPECT_EQ(stats.step_too_small, by_status[3]);
  EXPECT_GT(stats.hit_max_steps, 0);
  EXPECT_LE(stats.max_attempts, 6);
}

TEST(SolveStatsMerge, SumsCountsAndKeepsTheLargestMaxima) {
  SolveStats a, b;
  a.elements = 3, a.accepted_steps = 10, a.rejected_steps = 2, a.max_accepted = 5, a.max_attempts = 6;
  a.converged = 2, a.hit_max_steps = 1, a.lane_slots = 16;
  b.elements = 4, b.accepted_steps = 7, b.rejected_steps = 0, b.max_accepted = 2, b.max_attempts = 9;
  b.converged = 1, b.non_finite = 2, b.step_too_small = 1, b.lane_slots = 8;
  a.merge(b);
  EXPECT_EQ(a.elements, 7);
  EXPECT_EQ(a.accepted_steps, 17);
  EXPECT_EQ(a.rejected_steps, 2);
  EXPECT_EQ(a.max_accepted, 5);
  EXPECT_EQ(a.max_attempts, 9);
  EXPECT_EQ(a.converged, 3);
  EXPECT_EQ(a.hit_max_steps, 1);
  EXPECT_EQ(a.non_finite, 2);
  EXPECT_EQ(a.step_too_small, 1);
  EXPECT_EQ(a.lane_slots, 24);
}

// ---------------------------------------------------------------- SIMD targets
// Every supported target computes what the scalar target computes, the code one
// CUDA thread runs: bitwise, since no target fuses a multiply-add the scalar code
// does not (CMakeLists.txt). Also on the unstable variant and at t_end = 0.05, 5.
template <class T>
void expect_targets_agree_with_scalar(const SolverOptions& o, int64_t n) {
  std::mt19937 rng(11);
  std::normal_distribution<double> normal(0.0, 2.0);
  std::vector<T> gamma(static_cast<size_t>(n));
  for (auto& g : gamma) g = static_cast<T>(normal(rng));
  gamma[3] = std::numeric_limits<T>::quiet_NaN();  // a failed element in the middle of a block
  gamma[7] = T(100.3);  // a block whose reduction goes lane by lane (|gamma| > 16)
  // Next to k pi, where the reduction's last bits decide r: the vector reduction
  // must round exactly as the scalar one.
  for (int k = -5; k <= 5; ++k) {
    T g = static_cast<T>(k * M_PI);
    for (int i = 0; i < 8; ++i, g = std::nextafter(g, T(100))) gamma[static_cast<size_t>(100 + 8 * (k + 5) + i)] = g;
  }
  const SimdTarget before = active_simd_target();
  set_simd_target(SimdTarget::Scalar);
  // y with dy/dgamma and dy/dlambda: the training path (without dy/dy0).
  const auto sens_only = [&](std::vector<T>& y, std::vector<T>& s, std::vector<T>& q) {
    y.assign(gamma.size(), T(0));
    s.assign(gamma.size(), T(0));
    q.assign(gamma.size(), T(0));
    SolveOutputs<T> out;
    out.y = y.data();
    out.dy_dgamma = s.data();
    out.dy_dlambda = q.data();
    solve_cpu<T>(o, n, gamma.data(), nullptr, out);
  };
  const auto ref = solve_vector(o, gamma, true);
  const auto ref_value = solve_vector(o, gamma, false);
  std::vector<T> ref_y, ref_s, ref_q, y, s, q;
  sens_only(ref_y, ref_s, ref_q);
  for (SimdTarget t : supported_simd_targets()) {
    set_simd_target(t);
    const auto r = solve_vector(o, gamma, true);
    const auto value = solve_vector(o, gamma, false);
    sens_only(y, s, q);
    const auto same = [](const std::vector<T>& a, const std::vector<T>& b) {
      return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
    };
    EXPECT_TRUE(same(r.y, ref.y)) << to_string(t) << ": y";
    EXPECT_TRUE(same(r.dy_dgamma, ref.dy_dgamma)) << to_string(t) << ": dy/dgamma";
    EXPECT_TRUE(same(r.dy_dlambda, ref.dy_dlambda)) << to_string(t) << ": dy/dlambda";
    EXPECT_TRUE(same(r.dy_dy0, ref.dy_dy0)) << to_string(t) << ": dy/dy0";
    EXPECT_TRUE(same(value.y, ref_value.y)) << to_string(t) << ": y without sensitivities";
    EXPECT_TRUE(same(y, ref_y) && same(s, ref_s) && same(q, ref_q)) << to_string(t) << ": y, s, q without dy/dy0";
    EXPECT_EQ(r.stats.accepted_steps, ref.stats.accepted_steps) << to_string(t);
    EXPECT_EQ(r.stats.rejected_steps, ref.stats.rejected_steps) << to_string(t);
    EXPECT_EQ(r.stats.non_finite, 1) << to_string(t);
    EXPECT_GE(r.stats.lane_slots, r.stats.accepted_steps + r.stats.rejected_steps) << to_string(t);
  }
  set_simd_target(before);
}

TEST(SimdTargetsAgree, BitwiseWithTheScalarTargetInFloat) {
  for (double t_end : {0.05, 1.0, 5.0}) {
    SolverOptions o;
    o.t_end = t_end;
    expect_targets_agree_with_scalar<float>(o, 5000);
  }
  SolverOptions unstable;
  unstable.lambda = -5.0;
  unstable.t_end = 0.5;
  expect_targets_agree_with_scalar<float>(unstable, 2000);
}

TEST(SimdTargetsAgree, BitwiseWithTheScalarTargetInDouble) {
  SolverOptions o;
  o.rtol = o.atol = 1e-8;
  expect_targets_agree_with_scalar<double>(o, 3000);
}

// Each target runs its own kernel: one element occupies a whole lane block, so
// the lane slots it costs are its attempts times that target's block width
// (4 vectors of 16 or 8 floats, 3 of 4 on SSE4; 1 for the scalar target).
TEST(SimdTargetsAgree, EachTargetRunsItsOwnBlockWidth) {
  const SimdTarget before = active_simd_target();
  for (SimdTarget t : supported_simd_targets()) {
    set_simd_target(t);
    const auto r = solve_vector(SolverOptions{}, std::vector<float>{0.7f}, false);
    const int64_t attempts = r.stats.accepted_steps + r.stats.rejected_steps;
    const int64_t width = t == SimdTarget::Avx512 ? 64 : t == SimdTarget::Avx2 ? 32 : t == SimdTarget::Sse4 ? 12 : 1;
    EXPECT_EQ(r.stats.lane_slots, attempts * width) << to_string(t);
  }
  set_simd_target(before);
}

}  // namespace
}  // namespace nmode
