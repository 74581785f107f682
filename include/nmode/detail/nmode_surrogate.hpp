// Per-element closed forms that stand in for the nmODE neuron y' = -λy + sin²(y + γ),
// y(0) = 0, at t̄: its steady state (large λt̄) and its solution with the forcing
// frozen at y = 0 (small λt̄), each with dy/dγ, generic over the lane type
// (lanes.hpp) and read once per CPU SIMD target (lane_namespace.hpp). The regime
// rule and the measured errors are in nmode/surrogate.hpp.
#if defined(NMODE_DETAIL_NMODE_SURROGATE_HPP) == defined(HWY_TARGET_TOGGLE)
#ifdef NMODE_DETAIL_NMODE_SURROGATE_HPP
#undef NMODE_DETAIL_NMODE_SURROGATE_HPP
#else
#define NMODE_DETAIL_NMODE_SURROGATE_HPP
#endif

#include <cmath>
#include <limits>

#include "nmode/detail/fast_math.hpp"
#include "nmode/detail/hd.hpp"
#include "nmode/detail/lane_namespace.hpp"
#include "nmode/detail/lanes.hpp"

NMODE_LANES_BEGIN

template <class L>
struct SurrogateValue {
  L y;   // y at t̄ (or t → ∞)
  L dy;  // dy/dγ
};

// What one NmOdeSurrogate layer fixes for all its elements (scalars, so every lane
// of a block takes the same branch and the same number of Newton steps).
template <class T>
struct SurrogateParams {
  bool steady;       // steady state, else frozen forcing
  T lambda;          // λ > 1 for the steady state
  T gain;            // (1 − e^{−λt̄})/λ, for frozen forcing
  int newton_steps;  // steady_newton_steps(λ)
};

// Newton steps for the steady state at λ, from the first fixed-point iterate
// sin²γ/λ: enough that the worst error in exact arithmetic over γ is at most 1e-9,
// far below the float evaluation's own error (of order 1e-7: tests/robust/
// test_surrogate.cpp derives its bound). Measured in double against bisection (γ on
// 1e5 points of [−π/2, π/2], λ from 1.001 to 30 in steps of 1 %), the error reaches
// 1e-9 with 2 steps from λ = 5.49, 3 from 2.29, 4 from 1.505, 5 from 1.151, 6 from
// 1.095, 7 from 1.042, and with at most 17 for λ − 1 from 1e-7 to 0.05 (4e4 points);
// the thresholds below keep a margin, and the test checks them. Why so few: the
// error obeys |e_{n+1}| ≤ e_n²/(λ − 1) (Taylor, |F''| ≤ 2, F' ≥ λ − 1) and the start
// is within y*/λ ≤ 1/λ² of y*, so from λ ≈ 1.47 up this bound alone proves
// convergence; it is too loose to set the counts, hence the measurement.
inline int steady_newton_steps(double lambda) {
  if (lambda >= 6.0) return 2;
  if (lambda >= 2.5) return 3;
  if (lambda >= 1.6) return 4;
  if (lambda >= 1.2) return 5;
  if (lambda >= 1.1) return 6;
  if (lambda >= 1.05) return 7;
  return 24;
}

// y* with λy* = sin²(y* + γ), for λ > 1 and γ reduced modulo π (y* is exactly
// π-periodic in γ; reduced_mod_pi). Newton on F(y) = λy − sin²(y + γ), F'(y) =
// λ − sin 2(y + γ) ≥ λ − 1 > 0, so F is increasing and y* unique; y* ∈ [0, 1/λ]
// (λy* = sin² ∈ [0, 1]), and each iterate is clamped to it, which never moves it
// away from y* and keeps a wild first step (F' near λ − 1 at small λ) in range.
// A fixed count (steady_newton_steps) rather than a stop test: every lane runs the
// same operations, so the result of an element depends on nothing else.
template <class L>
NMODE_HD inline L nmode_steady_state_value(L gamma, scalar_of<L> lambda, int newton_steps) {
  using T = scalar_of<L>;
  const L zero(T(0)), y_max(T(1) / lambda);
  L sin_sq, sin_2u;
  sin_squared(gamma, sin_sq, sin_2u);
  L y = sin_sq / lambda;
  for (int k = 0; k < newton_steps; ++k) {
    sin_squared(y + gamma, sin_sq, sin_2u);
    const L f = lambda * y - sin_sq;
    y = min_of(max_of(y - f / (lambda - sin_2u), zero), y_max);
  }
  return y;
}

// The steady state with its slope: the implicit function theorem on F(y, γ) = 0
// gives dy*/dγ = sin 2u/(λ − sin 2u), u = y* + γ, evaluated at the returned y.
template <class L>
NMODE_HD inline SurrogateValue<L> nmode_steady_state(L gamma, scalar_of<L> lambda, int newton_steps) {
  const L y = nmode_steady_state_value(gamma, lambda, newton_steps);
  L sin_sq, sin_2u;
  sin_squared(y + gamma, sin_sq, sin_2u);
  return {y, sin_2u / (lambda - sin_2u)};
}

// (1 − e^{−λt})/λ, the response at t of y' = −λy + 1 from y(0) = 0; t at λ = 0.
// expm1 keeps it accurate for small λt, and it holds for λ < 0 too. Once per layer,
// in double.
inline double nmode_frozen_gain(double lambda, double t_end) {
  return lambda == 0.0 ? t_end : -std::expm1(-lambda * t_end) / lambda;
}

// y(t̄) of y' = −λy + sin²γ (the forcing frozen at y = 0): c·sin²γ, dy/dγ = c·sin 2γ,
// c = nmode_frozen_gain(λ, t̄). For λ ≥ 0 it differs from the nmODE by at most
// t̄²/2: 0 ≤ y ≤ t on [0, t̄] and |sin²(y + γ) − sin²γ| ≤ |y|. γ reduced modulo π.
template <class L>
NMODE_HD inline SurrogateValue<L> nmode_frozen_forcing(L gamma, scalar_of<L> gain) {
  L sin_sq, sin_2g;
  sin_squared(gamma, sin_sq, sin_2g);
  return {gain * sin_sq, gain * sin_2g};
}

// One element (or one block of lanes) from its raw γ: reduced modulo π in double
// (as the solver does, so |γ| up to the largest float keeps the sincos accurate),
// then the layer's regime. A NaN or ±Inf γ gives NaN y and dy: layers let non-
// finite inputs propagate (nmode/layers.hpp). Without kSlope, dy is left unset.
template <bool kSlope, class L>
NMODE_HD inline SurrogateValue<L> nmode_surrogate_element(L raw_gamma, const SurrogateParams<scalar_of<L>>& p) {
  using T = scalar_of<L>;
  const mask_of<L> finite = is_finite(raw_gamma);
  const L gamma = select(finite, reduced_mod_pi(raw_gamma), L(T(0)));
  SurrogateValue<L> v{L(T(0)), L(T(0))};
  if (p.steady) {
    if constexpr (kSlope) {
      v = nmode_steady_state(gamma, p.lambda, p.newton_steps);
    } else {
      v.y = nmode_steady_state_value(gamma, p.lambda, p.newton_steps);
    }
  } else {
    v = nmode_frozen_forcing(gamma, p.gain);
  }
  const L nan(std::numeric_limits<T>::quiet_NaN());
  v.y = select(finite, v.y, nan);
  if constexpr (kSlope) v.dy = select(finite, v.dy, nan);
  return v;
}

NMODE_LANES_END

#endif  // NMODE_DETAIL_NMODE_SURROGATE_HPP toggle
