// Tests of the reduction of gamma modulo pi (reduce_mod_pi, include/nmode/detail/
// lanes.hpp and reduce_pi.hpp) against exact remainders, tests/data/reduce-pi-golden.json,
// generated independently of the header with Python 3 (no floating point):
//   decimal at 520 digits, pi by the Gauss-Legendre AGM (the header's tables come
//   from Machin's formula in integers): PI = Fraction(pi_520_digits);
//   r = Fraction(gamma) - round(Fraction(gamma) / PI) * PI, exact for a double gamma
//   (error < 2^1024 * 1e-518); "r" is r to 25 significant digits, "r_hi" = float(r)
//   and "r_lo" = float(r - r_hi), a double-double of r;
//   gammas ("tag"): 120 random (53-bit mantissa, exponent in [-30, 1023], sign),
//   30 random in [-16, 16] and edges (+-16, multiples of pi/2), 2^k for k = 0..1023,
//   the floats 1e30, -3e38 and FLT_MAX, DBL_MAX, 6381956970095103 * 2^797 (within
//   5e-19 of an odd multiple of pi/2: |r| next to pi/2), and the doubles closest
//   to multiples of pi: for every exponent e, the mantissas m in [2^52, 2^53) among
//   the denominators q_{n-1} + j q_n and c q_n of the continued fraction of
//   2^e/pi mod 1, the 30 with the smallest |r| (down to 9.4e-19, for
//   6381956970095103 * 2^798), both signs; and convergents p of pi (p ~ q pi);
//   "inv_pi_words" = floor(2^1216 / PI) in 64-bit words, "pi_times_2_126" =
//   round(PI * 2^126).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <ios>
#include <limits>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "nmode/detail/lanes.hpp"

namespace nmode {
namespace {

using detail::reduce_mod_pi;

nlohmann::json load_reduce_golden() {
  std::ifstream in(std::string(NMODE_TEST_DATA_DIR) + "/reduce-pi-golden.json");
  return nlohmann::json::parse(in);
}

double parse(const std::string& s) { return std::strtod(s.c_str(), nullptr); }  // hex floats too

uint64_t bits_of(double x) {
  uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// The code reduce_mod_pi had before Payne-Hanek, verbatim: the reference for the
// range where it must stay bit for bit.
double historical_reduce_mod_pi(double gamma) {
  const double k = (gamma * 0.31830988618379067154 + 6755399441055744.0) - 6755399441055744.0;
  return (gamma - k * 3.14159265358979311600e+00) - k * 1.22464679914735317723e-16;
}

// The spacing of doubles at |x| (x normal).
double ulp(double x) {
  int e;
  std::frexp(x, &e);
  return std::ldexp(1.0, e - 53);
}

constexpr double kPiHi = 3.141592653589793116, kPiLo = 1.2246467991473532e-16;  // pi as a double-double
constexpr double kHalfPi = 1.5707963267948966;                                  // the double nearest pi/2

TEST(ReduceModPi, TablesMatchAnIndependentPi) {
  const auto g = load_reduce_golden();
  EXPECT_EQ(detail::reduce_pi::inv_pi_word(0), 0u) << "the integer part of 1/pi";
  const auto& words = g["inv_pi_words"];
  ASSERT_EQ(words.size(), 19u);
  for (int j = 0; j < 19; ++j)
    EXPECT_EQ(detail::reduce_pi::inv_pi_word(j + 1), std::stoull(words[j].get<std::string>(), nullptr, 16))
        << "word " << j + 1;
  EXPECT_EQ(detail::reduce_pi::kPiHi, std::stoull(g["pi_times_2_126"][0].get<std::string>(), nullptr, 16));
  EXPECT_EQ(detail::reduce_pi::kPiLo, std::stoull(g["pi_times_2_126"][1].get<std::string>(), nullptr, 16));
}

TEST(ReduceModPi, MatchesExactRemaindersFromTinyToDblMax) {
  const auto cases = load_reduce_golden()["cases"];
  ASSERT_GT(cases.size(), 1200u);
  double worst_abs = 0, worst_ulps_large = 0, worst_ulps_small = 0;
  int correctly_rounded = 0, large = 0;
  for (const auto& c : cases) {
    const double gamma = parse(c["gamma"]);
    double ref_hi = c["r_hi"], ref_lo = c["r_lo"];
    ASSERT_TRUE(std::isfinite(gamma)) << c.dump();
    // The 25 digits and the double-double describe the same r.
    EXPECT_EQ(parse(c["r"]), ref_hi) << c.dump();
    const double r = reduce_mod_pi(gamma);
    const bool small = std::abs(gamma) <= 16;
    // The Cody-Waite path's k comes from a rounded gamma / pi: next to a half
    // multiple of pi it may take the other neighbour, r -+ pi, just as good.
    // Shifting the reference is exact (Sterbenz: |ref_hi| ~ pi/2 ~ pi_hi / 2).
    if (small && std::abs(ref_hi) > 1.5 && (r < 0) != (ref_hi < 0)) {
      const double s = ref_hi > 0 ? -1.0 : 1.0;
      ref_hi += s * kPiHi;
      ref_lo += s * kPiLo;
    }
    // r - ref_hi is exact once r is within a factor 2 of ref_hi (Sterbenz), so the
    // error is measured to ~2^-100 |r|, far below the bounds.
    const double err = (r - ref_hi) - ref_lo;
    // The bound asked of reduce_mod_pi, for all gamma: an ulp of pi is 4.4e-16 and
    // a correct rounding of |r| <= pi/2 errs by up to 1.1e-16; 2e-16 leaves room for
    // the Cody-Waite path's |k| * 6e-32 and rejects any error of an ulp of pi or more.
    EXPECT_LE(std::abs(err), 2e-16 * std::max(1.0, std::abs(ref_hi))) << c.dump() << " got " << r;
    // Tighter, per path (derivations in lanes.hpp and reduce_pi.hpp):
    // Cody-Waite, |gamma| <= 16: k * pi_hi and gamma - k * pi_hi are exact, then one
    // rounding of r, after k * pi_lo (|k| <= 5) rounded by <= 5e-32 and pi_lo's own
    // error <= 2.3e-33 * |k|: half an ulp + 1e-31.
    // Payne-Hanek: half an ulp + 2^-120 |r| + 2^-138 (window, products, pi in 128 bits).
    const double half_ulp = 0.5 * ulp(std::abs(ref_hi));
    const double bound = small ? half_ulp + 1e-31 : half_ulp * (1 + 0x1p-60) + 0x1p-130;
    EXPECT_LE(std::abs(err), bound) << c.dump() << " got " << r;
    worst_abs = std::max(worst_abs, std::abs(err));
    double& worst_ulps = small ? worst_ulps_small : worst_ulps_large;
    worst_ulps = std::max(worst_ulps, std::abs(err) / (2 * half_ulp));
    if (!small) {
      ++large;
      correctly_rounded += r == c["r_hi"].get<double>();
    }
  }
  std::printf("%zu cases: largest error %.3g; in ulps of r %.4f (|gamma| <= 16), %.4f (Payne-Hanek, %d of %d "
              "correctly rounded)\n",
              cases.size(), worst_abs, worst_ulps_small, worst_ulps_large, correctly_rounded, large);
}

TEST(ReduceModPi, HistoricalFormulaBitForBitUpTo16) {
  // Every existing golden test uses |gamma| <= 8, and the SIMD targets repeat the
  // formula (src/simd/lanes-inl.hpp): up to the threshold 16 nothing may change.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> uniform(-16.0, 16.0);
  std::uniform_int_distribution<int> exponent(-1074, 3);
  auto check = [](double g) {
    ASSERT_EQ(bits_of(reduce_mod_pi(g)), bits_of(historical_reduce_mod_pi(g))) << std::hexfloat << g;
  };
  for (int i = 0; i < 1000000; ++i) check(uniform(rng));
  for (int i = 0; i < 200000; ++i) {  // all scales down to the subnormals, both signs
    const double g = std::ldexp(1.0 + std::ldexp(double(rng() >> 12), -52), exponent(rng));
    check(i % 2 ? g : -g);
  }
  for (int k = -10; k <= 10; ++k) {  // around multiples of pi/2, where k changes
    double g = k * (kPiHi / 2);
    for (int n = 0; n < 64; ++n, g = std::nextafter(g, 1e9)) check(g);
    for (int n = 0; n < 64; ++n, g = std::nextafter(g, -1e9)) check(g);
  }
  for (double g : {0.0, -0.0, 16.0, -16.0, std::nextafter(16.0, 0.0), 8.0, -8.0, 5e-324, -5e-324}) check(g);
  // Just beyond, the new path takes over and does differ where the old one was off.
  EXPECT_NE(reduce_mod_pi(1e30), historical_reduce_mod_pi(1e30));
}

TEST(ReduceModPi, AlwaysWithinHalfPiAndOdd) {
  // |r| <= pi/2 up to rounding: Payne-Hanek rounds at most to the double nearest
  // pi/2; Cody-Waite's rounded k may overshoot by ~2e-16. Two ulps of pi/2 cover both.
  const double limit = kHalfPi + 2 * ulp(kHalfPi);
  std::mt19937_64 rng(5);
  auto check = [&](double g) {
    const double r = reduce_mod_pi(g);
    ASSERT_LE(std::abs(r), limit) << std::hexfloat << g << " -> " << r;
    ASSERT_EQ(bits_of(reduce_mod_pi(-g)), bits_of(-r)) << std::hexfloat << g;  // r(-gamma) = -r(gamma)
  };
  const auto golden = load_reduce_golden();  // kept: a range-for over a temporary's member dangles
  for (const auto& c : golden["cases"]) check(parse(c["gamma"]));
  for (int i = 0; i < 300000; ++i) {  // random bit patterns: every finite double alike
    const double g = [&] {
      for (;;) {
        const uint64_t b = rng();
        double x;
        std::memcpy(&x, &b, sizeof x);
        if (std::isfinite(x)) return x;
      }
    }();
    check(g);
  }
  check(std::numeric_limits<double>::max());
  check(std::numeric_limits<double>::min());
  EXPECT_TRUE(std::isnan(reduce_mod_pi(std::numeric_limits<double>::infinity())));
  EXPECT_TRUE(std::isnan(reduce_mod_pi(-std::numeric_limits<double>::infinity())));
  EXPECT_TRUE(std::isnan(reduce_mod_pi(std::numeric_limits<double>::quiet_NaN())));
}

// ---- The float reduction (lanes.hpp's reduced_mod_pi(float)) ----
// Reference: reduce_mod_pi of the same value as a double, whose error for
// |gamma| <= 16 is below 2^-53 |r| + 1e-31 (the tests above check it against
// exact remainders), far inside the float bounds.

float float_ulp(double x) {
  const float f = static_cast<float>(std::abs(x));
  return std::nextafter(f, std::numeric_limits<float>::infinity()) - f;
}

// The float result minus the exact remainder, taken modulo pi: where gamma / pi
// is within an ulp of a half-integer, the float k may be the other neighbour,
// and r is then the congruent value just past -pi/2 or pi/2.
double float_reduction_error(float g) {
  const double exact = reduce_mod_pi(static_cast<double>(g));
  double d = static_cast<double>(detail::reduced_mod_pi(g)) - exact;
  if (std::abs(d) > 1.0) d -= std::copysign(3.14159265358979323846, d);  // |r| ~ pi/2: the double pi is exact enough
  return d;
}

// The bound of lanes.hpp: 1.5 ulp(r) from the roundings, 2e-16 from pi's third
// part, which keeps r's relative accuracy down to |r| ~ 1e-9 near gamma = k pi.
void expect_float_reduction_accurate(float g) {
  const double exact = reduce_mod_pi(static_cast<double>(g));
  const double bound = 1.5 * float_ulp(exact) + 2e-16;
  ASSERT_LE(std::abs(float_reduction_error(g)), bound) << std::hexfloat << g << " exact " << exact;
  // k is off by one only where gamma / pi is within its product's rounding error
  // (|gamma| 2^-23, with 1/pi's) of a half-integer, so r passes pi/2 by at most
  // pi |gamma| 2^-23 < |gamma| 2^-21.
  const float r = detail::reduced_mod_pi(g);
  ASSERT_LE(std::abs(r), 1.5707964f + std::abs(g) * 0x1p-21f) << std::hexfloat << g;
  ASSERT_EQ(detail::bit_cast_of<uint32_t>(detail::reduced_mod_pi(-g)), detail::bit_cast_of<uint32_t>(-r))
      << std::hexfloat << g;  // r(-gamma) = -r(gamma)
}

TEST(ReduceModPiFloat, WithinOneAndAHalfUlpNearMultiplesOfPi) {
  // Every float within 2^14 ulps of k pi, k = 0..5 (negatives by the oddness
  // check): the smallest |r| a float gamma can have, where an absolute error
  // bound alone would lose all of r's digits.
  for (int k = 0; k <= 5; ++k) {
    const float centre = static_cast<float>(k * 3.14159265358979323846);
    float up = centre, down = centre;
    for (int i = 0; i < (1 << 14); ++i) {
      expect_float_reduction_accurate(up);
      expect_float_reduction_accurate(down);
      up = std::nextafter(up, 100.0f);
      down = std::nextafter(down, -100.0f);
    }
  }
}

TEST(ReduceModPiFloat, WithinOneAndAHalfUlpEverywhereUpTo16) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> uniform(-16.0f, 16.0f);
  for (int i = 0; i < 1000000; ++i) expect_float_reduction_accurate(uniform(rng));
  // Near the half-integer multiples, where k flips; and the edges of the range.
  for (int k = 0; k <= 5; ++k) {
    float g = static_cast<float>((k + 0.5) * 3.14159265358979323846);
    for (int i = 0; i < 64; ++i) g = std::nextafter(g, 0.0f);
    for (int i = 0; i < 128; ++i, g = std::nextafter(g, 100.0f)) expect_float_reduction_accurate(g);
  }
  for (float g : {16.0f, std::nextafter(16.0f, 0.0f), 1e-30f, 1e-45f, 0.0f}) expect_float_reduction_accurate(g);
}

TEST(ReduceModPiFloat, BeyondSixteenAndNonFiniteTakeTheDoubleReduction) {
  for (float g : {std::nextafter(16.0f, 100.0f), 100.3f, -1e30f, 3.0e38f}) {
    const float expected = static_cast<float>(reduce_mod_pi(static_cast<double>(g)));
    EXPECT_EQ(detail::bit_cast_of<uint32_t>(detail::reduced_mod_pi(g)), detail::bit_cast_of<uint32_t>(expected))
        << g;
  }
  EXPECT_TRUE(std::isnan(detail::reduced_mod_pi(std::numeric_limits<float>::infinity())));
  EXPECT_TRUE(std::isnan(detail::reduced_mod_pi(std::numeric_limits<float>::quiet_NaN())));
}

}  // namespace
}  // namespace nmode
