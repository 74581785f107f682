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
// y with s = dy/dgamma and q = dy/dlambda, integrated with the same stages and
// steps as y, so they are the exact derivatives of the discrete map (training).
template <class T>
struct SensState {
  T y, s, q;
};
// SensState plus r = dy/dy0, for callers that also vary the initial value.
template <class T>
struct SensY0State {
  T y, s, q, r;
};

template <class T> NMODE_HD inline ValueState<T> operator+(const ValueState<T>& a, const ValueState<T>& b) {
  return {a.y + b.y};
}
template <class T> NMODE_HD inline ValueState<T> operator*(T c, const ValueState<T>& a) { return {c * a.y}; }
template <class T> NMODE_HD inline T primary(const ValueState<T>& a) { return a.y; }

template <class T> NMODE_HD inline SensState<T> operator+(const SensState<T>& a, const SensState<T>& b) {
  return {a.y + b.y, a.s + b.s, a.q + b.q};
}
template <class T> NMODE_HD inline SensState<T> operator*(T c, const SensState<T>& a) {
  return {c * a.y, c * a.s, c * a.q};
}
template <class T> NMODE_HD inline T primary(const SensState<T>& a) { return a.y; }

template <class T> NMODE_HD inline SensY0State<T> operator+(const SensY0State<T>& a, const SensY0State<T>& b) {
  return {a.y + b.y, a.s + b.s, a.q + b.q, a.r + b.r};
}
template <class T> NMODE_HD inline SensY0State<T> operator*(T c, const SensY0State<T>& a) {
  return {c * a.y, c * a.s, c * a.q, c * a.r};
}
template <class T> NMODE_HD inline T primary(const SensY0State<T>& a) { return a.y; }

// Initial states: y(0) = y0, s(0) = q(0) = 0, r(0) = 1.
template <class T> NMODE_HD inline void set_initial(ValueState<T>& v, T y0) { v = {y0}; }
template <class T> NMODE_HD inline void set_initial(SensState<T>& v, T y0) { v = {y0, T(0), T(0)}; }
template <class T> NMODE_HD inline void set_initial(SensY0State<T>& v, T y0) { v = {y0, T(0), T(0), T(1)}; }
template <class State, class T>
NMODE_HD inline State initial_state(T y0) {
  State v;
  set_initial(v, y0);
  return v;
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
            jac * v.q - v.y};                         // df/dlambda = -y
  }

  NMODE_HD SensY0State<T> operator()(T t, const SensY0State<T>& v) const {
    const SensState<T> k = (*this)(t, SensState<T>{v.y, v.s, v.q});
    T sin2u, cos2u;  // recomputed: this variant is for tests and tools, not the hot path
    solver_sincos(T(2) * (v.y + gamma), sin2u, cos2u);
    return {k.y, k.s, k.q, (-lambda + sin2u) * v.r};
  }
};

// gamma - pi * round(gamma / pi) in double with a two-part pi (error ~1e-16 * |k|).
NMODE_HD inline double reduce_mod_pi(double gamma) {
  const double k = round_nearest(gamma * 0.31830988618379067154);
  return (gamma - k * 3.14159265358979311600e+00) - k * 1.22464679914735317723e-16;
}

}  // namespace nmode::detail
