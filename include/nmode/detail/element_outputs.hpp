// Writes one finished element into the caller's output arrays; shared by the CPU
// and CUDA backends. Failed elements get NaN everywhere.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "nmode/detail/element_solver.hpp"
#include "nmode/detail/hd.hpp"
#include "nmode/ode.hpp"

namespace nmode::detail {

template <class T, class State>
NMODE_HD inline void write_element(const ElementSolver<T, State>& e, int64_t i, const SolveOutputs<T>& out) {
  const bool ok = e.status == kConverged;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  out.y[i] = ok ? e.y.y : nan;
  if constexpr (!std::is_same_v<State, ValueState<T>>) {
    if (out.dy_dgamma) out.dy_dgamma[i] = ok ? e.y.s : nan;
    if (out.dy_dlambda) out.dy_dlambda[i] = ok ? e.y.q : nan;
  }
  if constexpr (std::is_same_v<State, SensY0State<T>>) {
    out.dy_dy0[i] = ok ? e.y.r : nan;
  }
  if (out.status) out.status[i] = static_cast<ElementStatus>(e.status);
  if (out.accepted_steps) out.accepted_steps[i] = e.accepted;
}

}  // namespace nmode::detail
