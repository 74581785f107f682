// Per-element closed forms that stand in for the nmODE neuron y' = -λy + sin²(y + γ),
// y(0) = 0, at t̄: its steady state (large λt̄) and its solution with the forcing
// frozen at y = 0 (small λt̄), each with dy/dγ. Double precision; the regime rule
// and the measured errors are in nmode/surrogate.hpp.
#pragma once

#include <cmath>

#include "nmode/detail/hd.hpp"

namespace nmode::detail {

struct SurrogateValue {
  double y;   // y at t̄ (or t → ∞)
  double dy;  // dy/dγ
};

// Fixed-point iteration of the steady state: stop when one step moves y by at
// most kSteadyTol, or after kSteadyMaxIter steps (never loop forever). With the
// contraction factor q ≤ 1/λ the last iterate is within kSteadyTol·q/(1 − q) =
// kSteadyTol/(λ − 1) of y*.
constexpr double kSteadyTol = 1e-7;
constexpr int kSteadyMaxIter = 200;

// y* with λy* = sin²(y* + γ), for λ > 1. g(y) = sin²(y + γ)/λ has |g'| =
// |sin 2(y + γ)|/λ ≤ 1/λ < 1: a contraction, so y* is unique and the iteration
// from sin²γ/λ (the first step from y = 0) converges. Implicit function theorem
// on F(y, γ) = λy − sin²(y + γ) = 0: dy*/dγ = sin 2u/(λ − sin 2u), u = y* + γ,
// with λ − sin 2u ≥ λ − 1 > 0. NaN γ gives NaN after kSteadyMaxIter steps.
NMODE_HD inline SurrogateValue nmode_steady_state(double gamma, double lambda) {
  const double sg = std::sin(gamma);
  double y = sg * sg / lambda;
  for (int k = 0; k < kSteadyMaxIter; ++k) {
    const double s = std::sin(y + gamma);
    const double next = s * s / lambda;
    const double step = next - y;
    y = next;
    if (std::fabs(step) <= kSteadyTol) break;
  }
  const double s2 = std::sin(2.0 * (y + gamma));
  return {y, s2 / (lambda - s2)};
}

// (1 − e^{−λt})/λ, the response at t of y' = −λy + 1 from y(0) = 0; t at λ = 0.
// expm1 keeps it accurate for small λt, and it holds for λ < 0 too.
NMODE_HD inline double nmode_frozen_gain(double lambda, double t_end) {
  return lambda == 0.0 ? t_end : -std::expm1(-lambda * t_end) / lambda;
}

// y(t̄) of y' = −λy + sin²γ (the forcing frozen at y = 0): c·sin²γ, dy/dγ = c·sin 2γ,
// c = nmode_frozen_gain(λ, t̄). For λ ≥ 0 it differs from the nmODE by at most
// t̄²/2: 0 ≤ y ≤ t on [0, t̄] and |sin²(y + γ) − sin²γ| ≤ |y|.
NMODE_HD inline SurrogateValue nmode_frozen_forcing(double gamma, double lambda, double t_end) {
  const double c = nmode_frozen_gain(lambda, t_end);
  const double sg = std::sin(gamma);
  return {c * sg * sg, c * std::sin(2.0 * gamma)};
}

}  // namespace nmode::detail
