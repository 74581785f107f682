// The Dormand-Prince 5(4) method: tableau, one step with its embedded error
// estimate, the scaled error norm, the step-size controller and the initial-step
// choice. Generic over the state type and right-hand side, so tests can run it on
// equations with closed-form solutions; compiled for host and device.
#pragma once

#include "nmode/detail/fast_math.hpp"
#include "nmode/detail/hd.hpp"

namespace nmode::detail {

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

// The component of the state that error control looks at. Plain scalars are
// their own primary component; structured states provide an overload.
template <class T> NMODE_HD inline T primary(T y) { return y; }

// One DP5(4) step of size h from (t, y) with k1 = f(t, y) (FSAL).
// Writes the 5th-order solution and k7 = f(t + h, y_new), returns the error
// estimate h * sum(e_j k_j) of the primary component.
// Rhs: NMODE_HD State operator()(T t, const State& y) const.
template <class T, class State, class Rhs>
NMODE_HD inline T dopri5_step(const Rhs& f, T t, T h, const State& y, const State& k1, State& y_new,
                              State& k7) {
  using C = Dopri5<T>;
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
template <class T>
NMODE_HD inline T scaled_error(T err, T y_old, T y_new, T rtol, T atol) {
  return abs_of(err) / max_of(atol + rtol * max_of(abs_of(y_old), abs_of(y_new)), min_error_scale<T>());
}

// Step-size factor after an attempt with scaled error `err` (Hairer's controller:
// safety 0.9, exponent -1/5, factor clamped to [0.2, 10]; after a rejection no growth).
// A non-finite error (overflow, NaN) takes the smallest factor.
template <class T>
NMODE_HD inline T step_factor(T err, bool after_rejection) {
  const T e = min_of(max_of(err, T(1e-10)), T(1e10));  // err = 0 would mean an infinite factor
  T factor = min_of(T(10), max_of(T(0.2), T(0.9) * inv_fifth_root(e)));
  factor = (after_rejection | (err > T(1))) ? min_of(factor, T(1)) : factor;
  return is_finite(err) ? factor : T(0.2);
}

enum class InitialStepRule : int {
  // h = min(t_end, (0.01 / max(d1, d2))^(1/5)): the textbook probe without its
  // 100*h0 cap. With y0 = 0 the cap pins the first step at 1e-4 and costs about
  // three extra steps per element (see the step-count test).
  Probe = 0,
  // Hairer's heuristic as published: min(100 * h0, h1).
  Textbook = 1,
};

// Initial step from the probe of Hairer, Norsett & Wanner (II.4): d0 = |y0|/sc,
// d1 = |f0|/sc, one explicit Euler step of size h0 and d2 = |f1 - f0|/(sc h0).
template <class T, class State, class Rhs>
NMODE_HD inline T initial_step(const Rhs& f, T t0, const State& y0, const State& f0, T t_end, T rtol,
                               T atol, InitialStepRule rule) {
  const T sc = max_of(atol + rtol * abs_of(primary(y0)), min_error_scale<T>());
  const T d0 = abs_of(primary(y0)) / sc;
  const T d1 = abs_of(primary(f0)) / sc;
  const T h0 = ((d0 < T(1e-5)) | (d1 < T(1e-5))) ? T(1e-6) : T(0.01) * d0 / d1;
  const State f1 = f(t0 + h0, y0 + h0 * f0);
  const T d2 = abs_of(primary(f1) - primary(f0)) / sc / h0;
  const T dmax = max_of(d1, d2);
  // (0.01 / dmax)^(1/5) = (100 * dmax)^(-1/5)
  const T h1 = dmax <= T(1e-15) ? max_of(T(1e-6), h0 * T(1e-3)) : inv_fifth_root(T(100) * dmax);
  const T h = rule == InitialStepRule::Textbook ? min_of(T(100) * h0, h1) : h1;
  return min_of(h, t_end - t0);
}

}  // namespace nmode::detail
