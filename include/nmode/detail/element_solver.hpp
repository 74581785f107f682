// The per-element adaptive driver: start, then one DP5(4) attempt at a time until
// the element lands exactly on t_end or fails. The CPU runs attempts for a block of
// elements in SIMD lanes, the GPU runs one element per thread; both call these.
#pragma once

#include <cstdint>

#include "nmode/detail/dopri5.hpp"
#include "nmode/detail/hd.hpp"
#include "nmode/detail/nmode_rhs.hpp"

namespace nmode::detail {

// Per-element outcome (the public nmode::ElementStatus has the same values).
// int32, like the lane data: a byte-sized member would make the vectoriser pick
// 64-lane vectors, more than a block has.
enum : int32_t {
  kConverged = 0,     // reached t_end within tolerance
  kMaxSteps = 1,      // ran out of attempts (max_steps)
  kNonFinite = 2,     // gamma or y0 not finite: the loop never ran
  kStepTooSmall = 3,  // t + h == t: the step no longer moves time
};

template <class T>
struct ElementParams {
  T lambda, t_end, rtol, atol;
  int32_t max_steps;  // attempts, accepted + rejected
  InitialStepRule rule;
  // Largest step: DP5's real stability interval is about [-3.3, 0] and the
  // sensitivities obey s' = J s + ... with J = -lambda + sin 2u in
  // [-|lambda| - 1, -lambda + 1]. Where y ~ 0 (gamma ~ k pi) y's error estimate
  // is tiny and lets h grow far past 3.3/|J|: y survives, but s and q would blow
  // up. The cap applies with and without sensitivities, so y stays bitwise equal.
  T h_max;
};

// h_max for a given lambda (see ElementParams::h_max).
template <class T>
NMODE_HD inline T stable_step_limit(T lambda) {
  return T(3.3) / (abs_of(lambda) + T(1));
}

template <class T, class State>
struct ElementSolver {
  NmodeRhs<T> f;
  State y, k1;
  T t, h;
  int32_t accepted, rejected;
  bool after_rejection, done;
  int32_t status;
};

// Starts an element: reduces gamma, evaluates k1 = f(y0) and picks the first step.
// Branch-free like element_attempt (the CPU starts a block of lanes at once).
template <class T, class State>
NMODE_HD inline void element_begin(ElementSolver<T, State>& e, double gamma, T y0, const ElementParams<T>& p) {
  const bool finite = is_finite(gamma) & is_finite(y0);
  const double g = finite ? gamma : 0.0;
  e.f = NmodeRhs<T>{static_cast<T>(reduce_mod_pi(g)), p.lambda};
  e.y = initial_state<State>(finite ? y0 : T(0));
  e.t = T(0);
  e.k1 = e.f(T(0), e.y);
  e.h = min_of(initial_step(e.f, T(0), e.y, e.k1, p.t_end, p.rtol, p.atol, p.rule), p.h_max);
  e.accepted = 0;
  e.rejected = 0;
  e.after_rejection = false;
  e.status = finite ? kConverged : kNonFinite;
  // t_end = 0: y(0) = y0 with the sensitivities at their initial values.
  e.done = !finite | (p.t_end == T(0));
}

template <class T> NMODE_HD inline ValueState<T> select(bool c, const ValueState<T>& a, const ValueState<T>& b) {
  return {c ? a.y : b.y};
}
template <class T> NMODE_HD inline SensState<T> select(bool c, const SensState<T>& a, const SensState<T>& b) {
  return {c ? a.y : b.y, c ? a.s : b.s, c ? a.q : b.q};
}
template <class T> NMODE_HD inline SensY0State<T> select(bool c, const SensY0State<T>& a, const SensY0State<T>& b) {
  return {c ? a.y : b.y, c ? a.s : b.s, c ? a.q : b.q, c ? a.r : b.r};
}

// One attempt. Written without branches (every outcome is a select) so that the
// CPU can run it for a block of elements in SIMD lanes; finished elements pass
// through unchanged.
template <class T, class State>
NMODE_HD inline void element_attempt(ElementSolver<T, State>& e, const ElementParams<T>& p) {
  const bool active = !e.done;
  const bool out_of_steps = e.accepted + e.rejected >= p.max_steps;
  // Stretch the final step to land exactly on t_end instead of leaving a sliver.
  const bool last = e.t + T(1.01) * e.h >= p.t_end;
  const T h = last ? p.t_end - e.t : e.h;
  const bool stuck = e.t + h == e.t;  // the step no longer moves t
  State y_new, k7;
  const T err_y = dopri5_step(e.f, e.t, h, e.y, e.k1, y_new, k7);
  const T err = scaled_error(err_y, primary(e.y), primary(y_new), p.rtol, p.atol);
  // Bitwise & and | instead of && and ||: no short-circuit branches in SIMD lanes.
  const bool attempted = active & !out_of_steps & !stuck;
  const bool accept = attempted & (err <= T(1));  // a NaN error is a rejection
  const bool reject = attempted & !(err <= T(1));
  const T factor = step_factor(err, e.after_rejection);
  e.y = select(accept, y_new, e.y);
  e.k1 = select(accept, k7, e.k1);
  e.t = accept ? (last ? p.t_end : e.t + h) : e.t;  // land exactly on t_end, never past it
  const T h_next = min_of(h * factor, p.h_max);
  e.h = attempted ? h_next : e.h;
  e.accepted += accept ? 1 : 0;
  e.rejected += reject ? 1 : 0;
  e.after_rejection = attempted ? reject : e.after_rejection;
  const int32_t failure = out_of_steps ? kMaxSteps : kStepTooSmall;
  e.status = (active & (out_of_steps | stuck)) ? failure : e.status;
  e.done = e.done | out_of_steps | stuck | (accept & last);
}

}  // namespace nmode::detail
