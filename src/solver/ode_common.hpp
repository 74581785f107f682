// Pieces of the solver front end shared by the CPU and CUDA backends: argument
// checks, the translation of options to per-element parameters, statistics.
#pragma once

#include <cstdint>

#include "nmode/detail/element_params.hpp"
#include "nmode/detail/solve_tally.hpp"
#include "nmode/ode.hpp"

namespace nmode {

// Validates options and buffers; throws InvalidArgument.
template <class T>
void check_solve_arguments(const SolverOptions& options, int64_t n, const T* gamma,
                           const SolveOutputs<T>& out);

// SolveStats as a tally (detail/solve_tally.hpp) and back; lane_slots is not part
// of a tally (0 on the way back).
detail::SolveTally tally_of(const SolveStats& s);
SolveStats stats_of(const detail::SolveTally& t);

template <class T>
detail::ElementParams<T> element_params(const SolverOptions& options) {
  return {static_cast<T>(options.lambda), static_cast<T>(options.t_end), static_cast<T>(options.effective_rtol<T>()),
          static_cast<T>(options.atol), options.max_steps,
          options.initial_step == InitialStep::Textbook ? detail::InitialStepRule::Textbook
                                                        : detail::InitialStepRule::Probe,
          detail::stable_step_limit(static_cast<T>(options.lambda))};
}

}  // namespace nmode
