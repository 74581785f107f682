// The nmODE neuron y' = -lambda*y + sin^2(y + gamma) and its forward
// sensitivities, as right-hand sides for the generic DP5(4) step, over a lane type
// (lanes.hpp). One sincos(2u) per stage gives sin^2(u) = (1 - cos 2u)/2 and
// d/du sin^2(u) = sin 2u (sin_squared, fast_math.hpp). Read once per CPU SIMD target (lane_namespace.hpp).
#if defined(NMODE_DETAIL_NMODE_RHS_HPP) == defined(HWY_TARGET_TOGGLE)
#ifdef NMODE_DETAIL_NMODE_RHS_HPP
#undef NMODE_DETAIL_NMODE_RHS_HPP
#else
#define NMODE_DETAIL_NMODE_RHS_HPP
#endif

#include "nmode/detail/fast_math.hpp"
#include "nmode/detail/hd.hpp"
#include "nmode/detail/lane_namespace.hpp"

NMODE_LANES_BEGIN

// y only: inference and gradient-free attacks.
template <class L>
struct ValueState {
  static constexpr int kComponents = 1;
  L y;
};
// y with s = dy/dgamma and q = dy/dlambda, integrated with the same stages and
// steps as y, so they are the exact derivatives of the discrete map (training).
template <class L>
struct SensState {
  static constexpr int kComponents = 3;
  L y, s, q;
};
// SensState plus r = dy/dy0, for callers that also vary the initial value.
template <class L>
struct SensY0State {
  static constexpr int kComponents = 4;
  L y, s, q, r;
};

// A scalar coefficient (deduced from the state, not from the coefficient, so a
// plain number multiplies a state of SIMD lanes).
template <class L> struct Same { using type = L; };
template <class L> using coefficient_of = typename Same<L>::type;

template <class L> NMODE_HD inline ValueState<L> operator+(const ValueState<L>& a, const ValueState<L>& b) {
  return {a.y + b.y};
}
template <class L> NMODE_HD inline ValueState<L> operator*(coefficient_of<L> c, const ValueState<L>& a) {
  return {c * a.y};
}
template <class L> NMODE_HD inline L primary(const ValueState<L>& a) { return a.y; }

template <class L> NMODE_HD inline SensState<L> operator+(const SensState<L>& a, const SensState<L>& b) {
  return {a.y + b.y, a.s + b.s, a.q + b.q};
}
template <class L> NMODE_HD inline SensState<L> operator*(coefficient_of<L> c, const SensState<L>& a) {
  return {c * a.y, c * a.s, c * a.q};
}
template <class L> NMODE_HD inline L primary(const SensState<L>& a) { return a.y; }

template <class L> NMODE_HD inline SensY0State<L> operator+(const SensY0State<L>& a, const SensY0State<L>& b) {
  return {a.y + b.y, a.s + b.s, a.q + b.q, a.r + b.r};
}
template <class L> NMODE_HD inline SensY0State<L> operator*(coefficient_of<L> c, const SensY0State<L>& a) {
  return {c * a.y, c * a.s, c * a.q, c * a.r};
}
template <class L> NMODE_HD inline L primary(const SensY0State<L>& a) { return a.y; }

// Lane-wise choice between two states.
template <class L, class M>
NMODE_HD inline ValueState<L> select_state(M c, const ValueState<L>& a, const ValueState<L>& b) {
  return {select(c, a.y, b.y)};
}
template <class L, class M>
NMODE_HD inline SensState<L> select_state(M c, const SensState<L>& a, const SensState<L>& b) {
  return {select(c, a.y, b.y), select(c, a.s, b.s), select(c, a.q, b.q)};
}
template <class L, class M>
NMODE_HD inline SensY0State<L> select_state(M c, const SensY0State<L>& a, const SensY0State<L>& b) {
  return {select(c, a.y, b.y), select(c, a.s, b.s), select(c, a.q, b.q), select(c, a.r, b.r)};
}

// Component c of a state (0 = y, 1 = s, 2 = q, 3 = r), for the CPU's lane blocks.
template <class L> NMODE_HD inline L& component(ValueState<L>& v, int /*c*/) { return v.y; }
template <class L> NMODE_HD inline L& component(SensState<L>& v, int c) {
  return c == 0 ? v.y : c == 1 ? v.s : v.q;
}
template <class L> NMODE_HD inline L& component(SensY0State<L>& v, int c) {
  return c == 0 ? v.y : c == 1 ? v.s : c == 2 ? v.q : v.r;
}

// Initial states: y(0) = y0, s(0) = q(0) = 0, r(0) = 1.
template <class L> NMODE_HD inline void set_initial(ValueState<L>& v, L y0) { v = {y0}; }
template <class L> NMODE_HD inline void set_initial(SensState<L>& v, L y0) {
  v = {y0, L(scalar_of<L>(0)), L(scalar_of<L>(0))};
}
template <class L> NMODE_HD inline void set_initial(SensY0State<L>& v, L y0) {
  v = {y0, L(scalar_of<L>(0)), L(scalar_of<L>(0)), L(scalar_of<L>(1))};
}
template <class State, class L>
NMODE_HD inline State initial_state(L y0) {
  State v;
  set_initial(v, y0);
  return v;
}

// gamma is expected reduced modulo pi (see reduce_mod_pi); the solution is exactly
// pi-periodic in gamma, and the reduction keeps the fast sincos accurate.
template <class L>
struct NmodeRhs {
  L gamma;
  L lambda;

  NMODE_HD ValueState<L> operator()(L /*t*/, const ValueState<L>& v) const {
    L sin_sq, sin2u;
    sin_squared(v.y + gamma, sin_sq, sin2u);
    return {-lambda * v.y + sin_sq};
  }

  NMODE_HD SensState<L> operator()(L /*t*/, const SensState<L>& v) const {
    L sin_sq, sin2u;
    sin_squared(v.y + gamma, sin_sq, sin2u);
    const L jac = -lambda + sin2u;  // df/dy
    return {-lambda * v.y + sin_sq,  // same expression as ValueState: bitwise-equal y
            jac * v.s + sin2u,       // df/dgamma = sin 2u
            jac * v.q - v.y};        // df/dlambda = -y
  }

  NMODE_HD SensY0State<L> operator()(L t, const SensY0State<L>& v) const {
    const SensState<L> k = (*this)(t, SensState<L>{v.y, v.s, v.q});
    L sin_sq, sin2u;  // recomputed: this variant is for tests and tools, not the hot path
    sin_squared(v.y + gamma, sin_sq, sin2u);
    return {k.y, k.s, k.q, (-lambda + sin2u) * v.r};
  }
};

NMODE_LANES_END

#endif  // NMODE_DETAIL_NMODE_RHS_HPP toggle
