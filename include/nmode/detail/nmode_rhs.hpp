// The nmODE neuron y' = -lambda*y + sin^2(y + gamma) and its forward
// sensitivities, as right-hand sides for the generic DP5(4) step.
// One sincos(2u) per stage gives sin^2(u) = (1 - cos 2u)/2 and d/du sin^2(u) = sin 2u.
#pragma once

#include "nmode/detail/fast_math.hpp"
#include "nmode/detail/hd.hpp"

namespace nmode::detail {

// y only: inference and gradient-free attacks.
template <class T>
struct ValueState {
  T y;
};
// y with s = dy/dgamma, q = dy/dlambda and r = dy/dy0, integrated with the same
// stages and steps as y, so they are the exact derivatives of the discrete map.
template <class T>
struct SensState {
  T y, s, q, r;
};

template <class T> NMODE_HD inline ValueState<T> operator+(const ValueState<T>& a, const ValueState<T>& b) {
  return {a.y + b.y};
}
template <class T> NMODE_HD inline ValueState<T> operator*(T c, const ValueState<T>& a) { return {c * a.y}; }
template <class T> NMODE_HD inline T primary(const ValueState<T>& a) { return a.y; }

template <class T> NMODE_HD inline SensState<T> operator+(const SensState<T>& a, const SensState<T>& b) {
  return {a.y + b.y, a.s + b.s, a.q + b.q, a.r + b.r};
}
template <class T> NMODE_HD inline SensState<T> operator*(T c, const SensState<T>& a) {
  return {c * a.y, c * a.s, c * a.q, c * a.r};
}
template <class T> NMODE_HD inline T primary(const SensState<T>& a) { return a.y; }

// Initial states: y(0) = y0, s(0) = q(0) = 0, r(0) = 1.
template <class State, class T> NMODE_HD inline State initial_state(T y0);
template <> NMODE_HD inline ValueState<float> initial_state<ValueState<float>, float>(float y0) { return {y0}; }
template <> NMODE_HD inline ValueState<double> initial_state<ValueState<double>, double>(double y0) { return {y0}; }
template <> NMODE_HD inline SensState<float> initial_state<SensState<float>, float>(float y0) {
  return {y0, 0.0f, 0.0f, 1.0f};
}
template <> NMODE_HD inline SensState<double> initial_state<SensState<double>, double>(double y0) {
  return {y0, 0.0, 0.0, 1.0};
}

// gamma is expected reduced modulo pi (see reduce_mod_pi); the solution is exactly
// pi-periodic in gamma, and the reduction keeps the fast sincos accurate.
template <class T>
struct NmodeRhs {
  T gamma;
  T lambda;

  NMODE_HD ValueState<T> operator()(T /*t*/, const ValueState<T>& v) const {
    T sin2u, cos2u;
    solver_sincos(T(2) * (v.y + gamma), sin2u, cos2u);
    return {-lambda * v.y + T(0.5) * (T(1) - cos2u)};
  }

  NMODE_HD SensState<T> operator()(T /*t*/, const SensState<T>& v) const {
    T sin2u, cos2u;
    solver_sincos(T(2) * (v.y + gamma), sin2u, cos2u);
    const T jac = -lambda + sin2u;  // df/dy
    return {-lambda * v.y + T(0.5) * (T(1) - cos2u),  // same expression as ValueState: bitwise-equal y
            jac * v.s + sin2u,                        // df/dgamma = sin 2u
            jac * v.q - v.y,                          // df/dlambda = -y
            jac * v.r};
  }
};

// gamma - pi * round(gamma / pi) in double with a two-part pi (error ~1e-16 * |k|).
NMODE_HD inline double reduce_mod_pi(double gamma) {
  const double k = round_nearest(gamma * 0.31830988618379067154);
  return (gamma - k * 3.14159265358979311600e+00) - k * 1.22464679914735317723e-16;
}

}  // namespace nmode::detail
