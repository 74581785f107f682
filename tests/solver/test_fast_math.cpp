// The solver's branch-free elementary functions against the standard library,
// for float and double, over the ranges the solver calls them with.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "nmode/detail/fast_math.hpp"

namespace {

using nmode::detail::inv_fifth_root_guess;
using nmode::detail::inv_fifth_root;
using nmode::detail::sin_squared;
using nmode::detail::sincos_poly;

template <class T>
class FastMath : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(FastMath, Types);

// Two Newton steps from a bit-level guess within 7.3 % leave a relative error of
// 9.2e-4; the step-size controller needs no more.
TYPED_TEST(FastMath, InvFifthRootMatchesPowOverTwentyDecades) {
  using T = TypeParam;
  double worst = 0;
  for (double e = -10; e <= 10; e += 0.01) {
    const double a = std::pow(10.0, e);
    const double want = std::pow(a, -0.2);
    const double got = static_cast<double>(inv_fifth_root(static_cast<T>(a)));
    worst = std::max(worst, std::abs(got - want) / want);
  }
  EXPECT_LT(worst, 1e-3);
}

// The step-size controller clamps its argument, so extreme inputs stay finite.
TYPED_TEST(FastMath, InvFifthRootOfExtremesIsFinite) {
  using T = TypeParam;
  for (const T a : {T(0), T(1e-38), T(1e38), std::numeric_limits<T>::max()}) {
    EXPECT_TRUE(std::isfinite(static_cast<double>(inv_fifth_root(a)))) << a;
  }
}

TYPED_TEST(FastMath, SincosMatchesTheStandardLibrary) {
  using T = TypeParam;
  const double tolerance = sizeof(T) == sizeof(float) ? 2e-7 : 1e-15;
  double worst = 0;
  for (double x = -8; x <= 8; x += 1e-3) {
    T s, c;
    sincos_poly(static_cast<T>(x), s, c);
    const double xt = static_cast<double>(static_cast<T>(x));  // the argument the function saw
    worst = std::max({worst, std::abs(double(s) - std::sin(xt)), std::abs(double(c) - std::cos(xt))});
  }
  EXPECT_LT(worst, tolerance);
}

// sin²u and sin 2u as the solver's right-hand side forms them, on its arguments
// (|u| ≤ π/2 + 1/λ, λ ≥ 1 and beyond): sin²u = (1 − ĉ)/2 within half the sincos's
// bound and the rounding of 1 − ĉ, halved (ε), and sin 2u within the sincos's bound.
TYPED_TEST(FastMath, SinSquaredAndItsSlopeOnTheSolversArguments) {
  using T = TypeParam;
  const double sincos_tol = sizeof(T) == sizeof(float) ? 2e-7 : 1e-15;
  const double eps = std::numeric_limits<T>::epsilon() / 2;
  double worst = 0, worst_slope = 0;
  for (double x = -2.7; x <= 2.7; x += 1e-4) {
    T sin_sq, sin_2u;
    sin_squared(static_cast<T>(x), sin_sq, sin_2u);
    const double xt = static_cast<double>(static_cast<T>(x));
    worst = std::max(worst, std::abs(double(sin_sq) - std::sin(xt) * std::sin(xt)));
    // 2u is exact in binary floating point, so sincos saw 2 xt.
    worst_slope = std::max(worst_slope, std::abs(double(sin_2u) - std::sin(2 * xt)));
  }
  EXPECT_LT(worst, sincos_tol / 2 + eps);
  EXPECT_LT(worst_slope, sincos_tol);
}

// The bit-level first guess that seeds the Newton steps: within 7.3 % of
// x^(-1/5) (Blinn's bound, plus the float rounding of the bit pattern / 5).
TYPED_TEST(FastMath, FifthRootGuessIsWithinSevenPercent) {
  using T = TypeParam;
  double worst = 0;
  for (double e = -30; e <= 30; e += 0.0137) {
    const double a = std::pow(10.0, e);
    const double want = std::pow(static_cast<double>(static_cast<T>(a)), -0.2);
    worst = std::max(worst, std::abs(double(inv_fifth_root_guess(static_cast<T>(a))) - want) / want);
  }
  EXPECT_LT(worst, 0.074);
  EXPECT_GT(worst, 0.05);  // a guess, not the refined value: the test sees the guess itself
}

}  // namespace
