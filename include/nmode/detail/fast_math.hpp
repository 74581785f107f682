// Branch-free elementary functions for the per-element solver, generic over the
// lane type (see lanes.hpp), so the CPU's SIMD targets, its scalar target and CUDA
// run the same arithmetic. Accuracy: sincos a few ulp on the ranges the solver
// uses; x^(-1/5), which only sets step sizes, 1e-3 relative.
// Read once per SIMD target (lane_namespace.hpp), hence the toggle guard.
#if defined(NMODE_DETAIL_FAST_MATH_HPP) == defined(HWY_TARGET_TOGGLE)
#ifdef NMODE_DETAIL_FAST_MATH_HPP
#undef NMODE_DETAIL_FAST_MATH_HPP
#else
#define NMODE_DETAIL_FAST_MATH_HPP
#endif

#include "nmode/detail/hd.hpp"
#include "nmode/detail/lane_namespace.hpp"
#include "nmode/detail/lanes.hpp"

NMODE_LANES_BEGIN

template <class L> NMODE_HD inline L abs_of(L x) { return select(x < L(scalar_of<L>(0)), -x, x); }
// False for NaN and +-Inf (x - x is NaN for both).
template <class L> NMODE_HD inline mask_of<L> is_finite(L x) { return (x - x) == L(scalar_of<L>(0)); }

// Adding and subtracting 1.5 * 2^(mantissa bits) rounds to the nearest integer
// for |x| < 2^(mantissa bits - 1).
template <class L>
NMODE_HD inline L round_nearest(L x) {
  using T = scalar_of<L>;
  const T shift = sizeof(T) == sizeof(float) ? T(12582912.0f) : T(6755399441055744.0);
  return (x + L(shift)) - L(shift);
}

// Polynomial cores on [-pi/4, pi/4]: Cephes sinf/cosf (float) and sin/cos (double)
// minimax coefficients (S. L. Moshier, Cephes Math Library).
template <class L, class T = scalar_of<L>>
NMODE_HD inline void sincos_core(L r, L& s, L& c) {
  const L z = r * r;
  if constexpr (sizeof(T) == sizeof(float)) {
    s = r + r * z * ((T(-1.9515295891e-4f) * z + T(8.3321608736e-3f)) * z - T(1.6666654611e-1f));
    c = T(1) - T(0.5f) * z +
        z * z * ((T(2.443315711809948e-5f) * z - T(1.388731625493765e-3f)) * z + T(4.166664568298827e-2f));
  } else {
    const L ps = ((((T(1.58962301576546568060e-10) * z - T(2.50507477628578072866e-8)) * z +
                    T(2.75573136213857245213e-6)) * z - T(1.98412698295895385996e-4)) * z +
                  T(8.33333333332211858878e-3)) * z - T(1.66666666666666307295e-1);
    const L pc = ((((T(-1.13585365213876817300e-11) * z + T(2.08757008419747316778e-9)) * z -
                    T(2.75573141792967388112e-7)) * z + T(2.48015872888517045348e-5)) * z -
                  T(1.38888888888730564116e-3)) * z + T(4.16666666666665929218e-2);
    s = r + r * z * ps;
    c = T(1) - T(0.5) * z + z * z * pc;
  }
}

// pi/2 split for Cody-Waite reduction: k * part1 is exact for the k we meet.
template <class T> struct HalfPiParts;
template <> struct HalfPiParts<float> {
  static constexpr float p1 = 1.5703125f, p2 = 4.837512969970703125e-4f, p3 = 7.54978995489188216e-8f;
};
template <> struct HalfPiParts<double> {  // fdlibm's pio2_1, pio2_2, pio2_2t
  static constexpr double p1 = 1.57079632673412561417e+00, p2 = 6.07710050630396597660e-11,
                          p3 = 2.02226624879595063154e-21;
};

// sin(x) and cos(x), accurate while |x| stays moderate (the solver calls it with
// |x| <~ 2*pi after reducing gamma modulo pi). For huge |x| (the unstable +lambda
// variant in float) the reduced argument is clamped, so results stay in [-1, 1].
template <class L>
NMODE_HD inline void sincos_poly(L x, L& s, L& c) {
  using T = scalar_of<L>;
  using Pi = HalfPiParts<T>;
  x = select(is_finite(x), x, L(T(0)));  // the caller rejects non-finite states anyway
  const L k = round_nearest(x * T(0.63661977236758134308));  // 2/pi
  L r = ((x - k * Pi::p1) - k * Pi::p2) - k * Pi::p3;
  r = min_of(max_of(r, L(T(-0.785398163397448))), L(T(0.785398163397448)));
  L sr, cr;
  sincos_core(r, sr, cr);
  // The quadrant k mod 4 from two halvings of the integer k, in floating point:
  // floor(k / 2) = round(k / 2 - 1/4) for integer k.
  const L k2 = round_nearest(k * T(0.5) - T(0.25));
  const L k4 = round_nearest(k2 * T(0.5) - T(0.25));
  const mask_of<L> odd = k != k2 + k2;         // bit 0 of k: sin and cos swap
  const mask_of<L> second = k2 != k4 + k4;     // bit 1 of k: sin flips sign
  const mask_of<L> cos_flip = (odd & !second) | (second & !odd);  // bit 1 of k + 1
  const L sq = select(odd, cr, sr);
  const L cq = select(odd, sr, cr);
  s = select(second, -sq, sq);
  c = select(cos_flip, -cq, cq);
}

// sin(x), cos(x) for the solver: the polynomial on the CPU, the SFU intrinsic on
// the GPU. For lambda > 0 the argument 2(y + gamma) stays within about [-pi, pi + 2/lambda]
// (gamma reduced modulo pi, 0 <= y <= 1/lambda); where y grows (lambda <= 0) the GPU's
// __sincosf loses accuracy as |x| grows, like the float variant itself.
template <class L>
NMODE_HD inline void solver_sincos(L x, L& s, L& c) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(L) == sizeof(float)) {
    __sincosf(x, &s, &c);
  } else {
    sincos(x, &s, &c);
  }
#else
  sincos_poly(x, s, c);
#endif
}

// sin²u = (1 − cos 2u)/2 and d/du sin²u = sin 2u from one sincos(2u): the solver's
// right-hand side and the surrogate both call this, on the CPU and the GPU. The
// form keeps sin²u to absolute accuracy only (a multiple of 2^-25 in float where u
// is next to a multiple of pi), and that is deliberate: s² and 2sc from sincos(u)
// keep it relative, but then the tiny forcing next to k pi lets the step control,
// which watches y alone, take steps too long for dy/dgamma there (at rtol = atol =
// 1e-6 in float, 1.2 % off: TrainGolden.FiveAdamStepsMatchADoublePrecisionReimplementation).
template <class L>
NMODE_HD inline void sin_squared(L u, L& sin_sq, L& sin_2u) {
  using T = scalar_of<L>;
  L cos_2u;
  solver_sincos(T(2) * u, sin_2u, cos_2u);
  sin_sq = T(0.5) * (T(1) - cos_2u);
}

// x^(-1/5) for positive finite x, the power in the step-size controller
// (0.9 * err^(-1/5)): the bit-level first guess refined by Newton steps on
// x^(-5) = a, i.e. g <- g * (6 - a * g^5) / 5, which need no division.
template <class L>
NMODE_HD inline L inv_fifth_root(L a) {
  using T = scalar_of<L>;
  const L am = min_of(max_of(a, L(T(1e-30))), L(T(1e30)));
  L g = inv_fifth_root_guess(am);
  // The first guess is within 7.3 %; each Newton step about squares the relative
  // error (times ~3): 1.8 %, then 9.2e-4 (tests/solver/test_fast_math.cpp), ample for
  // step-size factors, which are heuristics clamped to [0.2, 10] anyway.
  g = g * (T(6) - am * (g * g) * (g * g) * g) * T(0.2);
  g = g * (T(6) - am * (g * g) * (g * g) * g) * T(0.2);
  return g;
}

NMODE_LANES_END

#endif  // NMODE_DETAIL_FAST_MATH_HPP toggle
