// The Dormand-Prince 5(4) method: tableau, one step with its embedded error
// estimate, the scaled error norm, the step-size controller and the initial-step
// choice. Generic over the lane type (lanes.hpp), the state type and the right-hand
// side, so tests can run it on equations with closed-form solutions; compiled for
// host and device, and once per CPU SIMD target (lane_namespace.hpp).
#if defined(NMODE_DETAIL_DOPRI5_HPP) == defined(HWY_TARGET_TOGGLE)
#ifdef NMODE_DETAIL_DOPRI5_HPP
#undef NMODE_DETAIL_DOPRI5_HPP
#else
#define NMODE_DETAIL_DOPRI5_HPP
#endif

#include "nmode/detail/element_params.hpp"
#include "nmode/detail/fast_math.hpp"
#include "nmode/detail/hd.hpp"
#include "nmode/detail/lane_namespace.hpp"

NMODE_LANES_BEGIN

// Coefficients as exact fractions: Dormand & Prince (1980), with the embedded
// weights of Hairer, Norsett & Wanner, "Solving ODEs I", Table 5.2 (and their
// dopri5.f): e = b - b_hat. torchdiffeq's Shampine weights give an error estimate
// exactly 2/3 as large; we keep Hairer's, the more conservative of the two.
template <class T>
struct Dopri5 {
  static constexpr T c2 = T(1) / T(5), c3 = T(3) / T(10), c4 = T(4) / T(5), c5 = T(8) / T(9);
  static constexpr T a21 = T(1) / T(5);
  static constexpr T a31 = T(3) / T(40), a32 = T(9) / T(40);
  static constexpr T a41 = T(44) / T(45), a42 = T(-56) / T(15), a43 = T(32) / T(9);
  static constexpr T a51 = T(19372) / T(6561), a52 = T(-25360) / T(2187), a53 = T(64448) / T(6561),
                     a54 = T(-212) / T(729);
  static constexpr T a61 = T(9017) / T(3168), a62 = T(-355) / T(33), a63 = T(46732) / T(5247),
                     a64 = T(49) / T(176), a65 = T(-5103) / T(18656);
  // 5th-order weights (= the last row of A: the FSAL property, k7 = f(y_new)).
  static constexpr T b1 = T(35) / T(384), b3 = T(500) / T(1113), b4 = T(125) / T(192),
                     b5 = T(-2187) / T(6784), b6 = T(11) / T(84);
  // Error weights b - b_hat (Hairer).
  static constexpr T e1 = T(71) / T(57600), e3 = T(-71) / T(16695), e4 = T(71) / T(1920),
                     e5 = T(-17253) / T(339200), e6 = T(22) / T(525), e7 = T(-1) / T(40);
};

// The component of the state that error control looks at. Plain lanes are
// their own primary component; structured states provide an overload.
template <class L> NMODE_HD inline L primary(L y) { return y; }

// One DP5(4) step of size h from (t, y) with k1 = f(t, y) (FSAL).
// Writes the 5th-order solution and k7 = f(t + h, y_new), returns the error
// estimate h * sum(e_j k_j) of the primary component.
// Rhs: NMODE_HD State operator()(L t, const State& y) const.
template <class L, class State, class Rhs>
NMODE_HD inline L dopri5_step(const Rhs& f, L t, L h, const State& y, const State& k1, State& y_new,
                              State& k7) {
  using C = Dopri5<scalar_of<L>>;
  const State k2 = f(t + C::c2 * h, y + h * (C::a21 * k1));
  const State k3 = f(t + C::c3 * h, y + h * (C::a31 * k1 + C::a32 * k2));
  const State k4 = f(t + C::c4 * h, y + h * (C::a41 * k1 + C::a42 * k2 + C::a43 * k3));
  const State k5 = f(t + C::c5 * h, y + h * (C::a51 * k1 + C::a52 * k2 + C::a53 * k3 + C::a54 * k4));
  const State k6 = f(t + h, y + h * (C::a61 * k1 + C::a62 * k2 + C::a63 * k3 + C::a64 * k4 + C::a65 * k5));
  y_new = y + h * (C::b1 * k1 + C::b3 * k3 + C::b4 * k4 + C::b5 * k5 + C::b6 * k6);
  k7 = f(t + h, y_new);
  return h * (C::e1 * primary(k1) + C::e3 * primary(k3) + C::e4 * primary(k4) + C::e5 * primary(k5) +
              C::e6 * primary(k6) + C::e7 * primary(k7));
}

// The smallest error scale: with atol = 0 and y = 0 the scale atol + rtol |y| is 0,
// and 0/0 would reject every step and poison the initial step. Far below any
// meaningful tolerance, so results for atol > 0 are unchanged.
template <class T> NMODE_HD inline constexpr T min_error_scale() { return T(1e-30); }

// Scaled error |err| / (atol + rtol * max(|y_n|, |y_{n+1}|)); accept when <= 1.
template <class L>
NMODE_HD inline L scaled_error(L err, L y_old, L y_new, scalar_of<L> rtol, scalar_of<L> atol) {
  using T = scalar_of<L>;
  return abs_of(err) / max_of(atol + rtol * max_of(abs_of(y_old), abs_of(y_new)), L(min_error_scale<T>()));
}

// Step-size factor after an attempt with scaled error `err` (Hairer's controller:
// safety 0.9, exponent -1/5, factor clamped to [0.2, 10]; after a rejection no growth).
// A non-finite error (overflow, NaN) takes the smallest factor.
template <class L>
NMODE_HD inline L step_factor(L err, mask_of<L> after_rejection) {
  using T = scalar_of<L>;
  const L e = min_of(max_of(err, L(T(1e-10))), L(T(1e10)));  // err = 0 would mean an infinite factor
  L factor = min_of(L(T(10)), max_of(L(T(0.2)), T(0.9) * inv_fifth_root(e)));
  factor = select(after_rejection | (err > L(T(1))), min_of(factor, L(T(1))), factor);
  return select(is_finite(err), factor, L(T(0.2)));
}

// Initial step from the probe of Hairer, Norsett & Wanner (II.4): d0 = |y0|/sc,
// d1 = |f0|/sc, one explicit Euler step of size h0 and d2 = |f1 - f0|/(sc h0).
template <class L, class State, class Rhs>
NMODE_HD inline L initial_step(const Rhs& f, L t0, const State& y0, const State& f0, scalar_of<L> t_end,
                               scalar_of<L> rtol, scalar_of<L> atol, InitialStepRule rule) {
  using T = scalar_of<L>;
  const L sc = max_of(atol + rtol * abs_of(primary(y0)), L(min_error_scale<T>()));
  const L d0 = abs_of(primary(y0)) / sc;
  const L d1 = abs_of(primary(f0)) / sc;
  const L h0 = select((d0 < L(T(1e-5))) | (d1 < L(T(1e-5))), L(T(1e-6)), T(0.01) * d0 / d1);
  const State f1 = f(t0 + h0, y0 + h0 * f0);
  const L d2 = abs_of(primary(f1) - primary(f0)) / sc / h0;
  const L dmax = max_of(d1, d2);
  // (0.01 / dmax)^(1/5) = (100 * dmax)^(-1/5)
  const L h1 = select(dmax <= L(T(1e-15)), max_of(L(T(1e-6)), h0 * T(1e-3)), inv_fifth_root(T(100) * dmax));
  const L h = rule == InitialStepRule::Textbook ? min_of(T(100) * h0, h1) : h1;  // one rule for all lanes
  return min_of(h, t_end - t0);
}

NMODE_LANES_END

#endif  // NMODE_DETAIL_DOPRI5_HPP toggle
