// What every element of a solve shares (the parameters), what each one starts
// from (its checked input) and how it ends (its status): plain scalars, the same
// types for the CPU's SIMD targets, its scalar target and CUDA.
#pragma once

#include <cstdint>

#include "nmode/detail/hd.hpp"
#include "nmode/detail/lanes.hpp"
#include "nmode/element_status.hpp"

namespace nmode::detail {

// An element's status as the number its lanes hold (see below).
template <class T>
NMODE_HD constexpr T status_code(ElementStatus s) {
  return T(static_cast<int>(s));
}

enum class InitialStepRule : int {
  // h = min(t_end, (0.01 / max(d1, d2))^(1/5)): the textbook probe without its
  // 100*h0 cap. With y0 = 0 the cap pins the first step at 1e-4 and costs about
  // three extra steps per element (see the step-count test).
  Probe = 0,
  // Hairer's heuristic as published: min(100 * h0, h1).
  Textbook = 1,
};

// Step counts and statuses live in lanes of the element type, like everything
// else in a lane block; a float counts exactly up to 2^24.
constexpr int32_t kMaxStepsLimit = 1 << 24;

template <class T>
struct ElementParams {
  T lambda, t_end, rtol, atol;
  int32_t max_steps;  // attempts, accepted + rejected; at most kMaxStepsLimit
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
  return T(3.3) / ((lambda < T(0) ? -lambda : lambda) + T(1));
}

// One element's input, checked and reduced: gamma modulo pi, and zeros where
// gamma or y0 is not finite (x - x is NaN for NaN and +-Inf).
template <class T>
struct ElementInput {
  T gamma, y0;
  bool finite;
};
template <class T>
NMODE_HD inline ElementInput<T> element_input(T gamma, T y0) {
  const bool finite = ((gamma - gamma) == T(0)) & ((y0 - y0) == T(0));
  return {finite ? reduced_mod_pi(gamma) : T(0), finite ? y0 : T(0), finite};
}

}  // namespace nmode::detail
