// Lane types of the per-element math. The functions in detail/ are templates over a
// lane type L: a plain float or double (one element per CUDA thread, and the CPU's
// scalar target) or a SIMD vector of them (the CPU's Highway targets, see
// src/simd/lanes-inl.hpp). A lane type has arithmetic, comparisons that yield its
// mask type, construction from a scalar (a broadcast), and the primitives below;
// masks combine with &, | and !, and lane-wise choices are explicit select()s.
// This header holds the traits and the plain-scalar primitives; it is included
// once per translation unit, outside any SIMD target region.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "nmode/detail/hd.hpp"
#include "nmode/detail/reduce_pi.hpp"

namespace nmode::detail {

template <class L, class = void>
struct LaneTraits {
  using Scalar = L;
  using Mask = bool;
};
template <class L>
struct LaneTraits<L, std::void_t<typename L::Scalar>> {
  using Scalar = typename L::Scalar;
  using Mask = typename L::Mask;
};
// The element type of a lane type (float for float lanes and for float vectors).
template <class L> using scalar_of = typename LaneTraits<L>::Scalar;
// The type of a lane-wise comparison: bool for plain scalars.
template <class L> using mask_of = typename LaneTraits<L>::Mask;

NMODE_HD inline float select(bool m, float a, float b) { return m ? a : b; }
NMODE_HD inline double select(bool m, double a, double b) { return m ? a : b; }
// min/max that return the first argument when the pair is unordered (a NaN), as
// the x86 min/max instructions do with their operands swapped.
NMODE_HD inline float min_of(float a, float b) { return b < a ? b : a; }
NMODE_HD inline double min_of(double a, double b) { return b < a ? b : a; }
NMODE_HD inline float max_of(float a, float b) { return a < b ? b : a; }
NMODE_HD inline double max_of(double a, double b) { return a < b ? b : a; }
NMODE_HD inline bool all_of(bool m) { return m; }

// Reinterprets the bits of one trivially copyable value as another type.
template <class To, class From>
NMODE_HD inline To bit_cast_of(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast_of needs types of equal size");
  To to;
  memcpy(&to, &from, sizeof(To));
  return to;
}

// First guess of x^(-1/5) for x in [1e-30, 1e30] (Blinn's trick): log2 of the
// result is -log2(x)/5, and a float's bit pattern is a scaled, shifted log2;
// 1278423860 = 1.2 * bits(1.0f) maps 1 to 1. The division by 5 is a float multiply
// of the bit pattern (exact to 2^-24, far inside the guess's 7.3 %), because SIMD
// units have no integer division: every target computes the very same guess.
// Doubles take the float guess; it only seeds Newton steps done in double.
NMODE_HD inline float inv_fifth_root_guess(float x) {
  const int32_t bits = bit_cast_of<int32_t>(x);
  return bit_cast_of<float>(1278423860 - static_cast<int32_t>(static_cast<float>(bits) * 0.2f));
}
NMODE_HD inline double inv_fifth_root_guess(double x) {
  return static_cast<double>(inv_fifth_root_guess(static_cast<float>(x)));
}

// gamma - pi * round(gamma / pi), in [-pi/2, pi/2] up to rounding, accurate to
// about half an ulp of the result for every finite double (and NaN for Inf, NaN).
// Per element, before the lanes start: the solution is exactly pi-periodic in
// gamma, and the reduction keeps the fast sincos accurate for any gamma.
// For |gamma| <= 16: Cody-Waite with a two-part pi. k <= 5, and pi_hi has only 50
// significant bits (its mantissa ends in three zeros), so k * pi_hi is exact, and
// so is gamma - k * pi_hi (Sterbenz); what remains is one rounding of the result
// and |k| * ~1e-32 from pi_lo: below 1.2e-16. (With a larger k, k * pi_hi rounds,
// an error of up to ulp(gamma) / 2, and k itself is wrong from 2^51 on.) This path
// is the historical code, kept bit for bit; src/simd/lanes-inl.hpp repeats it.
// Beyond, Payne-Hanek (reduce_pi.hpp), exact to ~2^-120 relative before its one
// rounding; rare, so its cost (a dozen 64-bit multiplies) does not matter.
NMODE_HD inline double reduce_mod_pi(double gamma) {
  if (!(gamma <= 16.0 && gamma >= -16.0)) return reduce_mod_pi_large(gamma);
  const double k = (gamma * 0.31830988618379067154 + 6755399441055744.0) - 6755399441055744.0;
  return (gamma - k * 3.14159265358979311600e+00) - k * 1.22464679914735317723e-16;
}

// The float reduction for |gamma| <= 16, in float only: a GPU thread then needs
// no FP64 per element (1/64 rate on RTX cards). Cody-Waite with pi in three
// parts: kFloatPi1 = 3.140625 has 8 significant bits and kFloatPi2 19, so for
// |k| <= 5 both products are exact, and so is gamma - k * kFloatPi1 (Sterbenz);
// kFloatPi3 is the float nearest the rest, and the three miss pi by 2.4e-18.
// What remains is one rounding in each of the last two subtractions and of
// k * kFloatPi3: |error| <= 1.5 ulp(r) + 2e-16, so the result keeps its relative
// accuracy near gamma = k pi, where r is tiny (tests/solver/test_reduce_pi.cpp).
// k comes from a float product and may be off by one where gamma / pi is within
// an ulp of a half-integer; r is then just outside [-pi/2, pi/2] and still
// congruent to gamma, which is all the solver needs. Written with explicit
// roundings: nvcc would otherwise fuse the multiply-adds (which would also do),
// and the CPU's SIMD targets must give the same bits as this scalar code.
constexpr float kFloatInvPi = 0x1.45f306p-2f;
constexpr float kFloatPi1 = 3.140625f;
constexpr float kFloatPi2 = 0x1.fb544p-11f;
constexpr float kFloatPi3 = 0x1.0b4612p-33f;
constexpr float kFloatRoundShift = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer

NMODE_HD inline float mul_rounded(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
NMODE_HD inline float sub_rounded(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
NMODE_HD inline float add_rounded(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

NMODE_HD inline float reduce_mod_pi_small_float(float gamma) {
  const float k = sub_rounded(add_rounded(mul_rounded(gamma, kFloatInvPi), kFloatRoundShift), kFloatRoundShift);
  const float r1 = sub_rounded(gamma, mul_rounded(k, kFloatPi1));
  const float r2 = sub_rounded(r1, mul_rounded(k, kFloatPi2));
  return sub_rounded(r2, mul_rounded(k, kFloatPi3));
}

// gamma reduced modulo pi in the lane's own type: the plain-scalar counterpart of
// the SIMD lanes' reduced_mod_pi (src/simd/lanes-inl.hpp), which gives the same
// bits, so generic code can reduce gamma on every target with one call. Floats
// beyond |gamma| <= 16 (rare), Inf and NaN take reduce_mod_pi's branch for them,
// called directly so that no double arithmetic is compiled into the common path.
NMODE_HD inline float reduced_mod_pi(float gamma) {
  if (gamma <= 16.0f && gamma >= -16.0f) return reduce_mod_pi_small_float(gamma);
  return static_cast<float>(reduce_mod_pi_large(static_cast<double>(gamma)));
}
NMODE_HD inline double reduced_mod_pi(double gamma) { return reduce_mod_pi(gamma); }

}  // namespace nmode::detail
