// The per-element adaptive driver: start, then one DP5(4) attempt at a time until
// the element lands exactly on t_end or fails. Generic over the lane type
// (lanes.hpp): the CPU runs attempts for a block of elements in SIMD lanes, the
// GPU (and the CPU's scalar target) one element per thread with plain floats;
// both call these. Read once per CPU SIMD target (lane_namespace.hpp).
#if defined(NMODE_DETAIL_ELEMENT_SOLVER_HPP) == defined(HWY_TARGET_TOGGLE)
#ifdef NMODE_DETAIL_ELEMENT_SOLVER_HPP
#undef NMODE_DETAIL_ELEMENT_SOLVER_HPP
#else
#define NMODE_DETAIL_ELEMENT_SOLVER_HPP
#endif

#include <cstdint>

#include "nmode/detail/dopri5.hpp"
#include "nmode/detail/element_params.hpp"
#include "nmode/detail/hd.hpp"
#include "nmode/detail/lane_namespace.hpp"
#include "nmode/detail/nmode_rhs.hpp"

NMODE_LANES_BEGIN

// Chooses lane-wise between two masks.
template <class M> NMODE_HD inline M select_mask(M c, M a, M b) { return (c & a) | ((!c) & b); }

template <class L, class State>
struct ElementSolver {
  NmodeRhs<L> f;
  State y, k1;
  L t, h;
  L accepted, rejected, status;  // whole numbers (see kMaxStepsLimit)
  mask_of<L> after_rejection, done;
};

// Starts elements from their checked inputs: evaluates k1 = f(y0) and picks the
// first step.
template <class L, class State>
NMODE_HD inline void element_begin(ElementSolver<L, State>& e, L gamma, L y0, mask_of<L> finite,
                                   const ElementParams<scalar_of<L>>& p) {
  using T = scalar_of<L>;
  e.f = NmodeRhs<L>{gamma, L(p.lambda)};
  e.y = initial_state<State>(y0);
  e.t = L(T(0));
  e.k1 = e.f(e.t, e.y);
  e.h = min_of(initial_step(e.f, e.t, e.y, e.k1, p.t_end, p.rtol, p.atol, p.rule), L(p.h_max));
  e.accepted = L(T(0));
  e.rejected = L(T(0));
  e.after_rejection = mask_of<L>(false);
  e.status = select(finite, L(status_code<T>(ElementStatus::Converged)), L(status_code<T>(ElementStatus::NonFinite)));
  // t_end = 0: y(0) = y0 with the sensitivities at their initial values.
  e.done = (!finite) | mask_of<L>(p.t_end == T(0));
}

// One element from its raw inputs (the GPU's thread, the CPU's scalar target).
template <class T, class State>
NMODE_HD inline void element_begin(ElementSolver<T, State>& e, T gamma, T y0, const ElementParams<T>& p) {
  const ElementInput<T> in = element_input(gamma, y0);
  element_begin(e, in.gamma, in.y0, in.finite, p);
}

// One attempt. Every outcome is a lane-wise select, so a block of elements
// advances together in SIMD lanes; finished elements pass through unchanged.
template <class L, class State>
NMODE_HD inline void element_attempt(ElementSolver<L, State>& e, const ElementParams<scalar_of<L>>& p) {
  using T = scalar_of<L>;
  using M = mask_of<L>;
  const M active = !e.done;
  const M out_of_steps = e.accepted + e.rejected >= L(static_cast<T>(p.max_steps));
  // Stretch the final step to land exactly on t_end instead of leaving a sliver.
  const M last = e.t + T(1.01) * e.h >= L(p.t_end);
  const L h = select(last, p.t_end - e.t, e.h);
  const M stuck = e.t + h == e.t;  // the step no longer moves t
  State y_new, k7;
  const L err_y = dopri5_step(e.f, e.t, h, e.y, e.k1, y_new, k7);
  const L err = scaled_error(err_y, primary(e.y), primary(y_new), p.rtol, p.atol);
  const M attempted = active & (!out_of_steps) & (!stuck);
  const M accept = attempted & (err <= L(T(1)));  // a NaN error is a rejection
  const M reject = attempted & (!(err <= L(T(1))));
  const L factor = step_factor(err, e.after_rejection);
  e.y = select_state(accept, y_new, e.y);
  e.k1 = select_state(accept, k7, e.k1);
  e.t = select(accept, select(last, L(p.t_end), e.t + h), e.t);  // land exactly on t_end, never past it
  e.h = select(attempted, min_of(h * factor, L(p.h_max)), e.h);
  e.accepted = e.accepted + select(accept, L(T(1)), L(T(0)));
  e.rejected = e.rejected + select(reject, L(T(1)), L(T(0)));
  e.after_rejection = select_mask(attempted, reject, e.after_rejection);
  const L failure =
      select(out_of_steps, L(status_code<T>(ElementStatus::MaxSteps)), L(status_code<T>(ElementStatus::StepTooSmall)));
  e.status = select(active & (out_of_steps | stuck), failure, e.status);
  e.done = e.done | out_of_steps | stuck | (accept & last);
}

NMODE_LANES_END

#endif  // NMODE_DETAIL_ELEMENT_SOLVER_HPP toggle
