// Writes one finished element into the caller's output arrays; shared by the
// CUDA backend and the CPU's scalar target (one element at a time). Failed
// elements get NaN everywhere.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "nmode/detail/element_solver.hpp"
#include "nmode/detail/hd.hpp"
#include "nmode/ode.hpp"

namespace nmode::detail {

// What the caller sees of a result: the value, or NaN when the element failed.
template <class T>
NMODE_HD inline T element_output(T status, T value) {
  return status == status_code<T>(ElementStatus::Converged) ? value : std::numeric_limits<T>::quiet_NaN();
}

template <class T, class State>
NMODE_HD inline void write_element(const ElementSolver<T, State>& e, int64_t i, const SolveOutputs<T>& out) {
  out.y[i] = element_output(e.status, e.y.y);
  if constexpr (!std::is_same_v<State, ValueState<T>>) {
    if (out.dy_dgamma) out.dy_dgamma[i] = element_output(e.status, e.y.s);
    if (out.dy_dlambda) out.dy_dlambda[i] = element_output(e.status, e.y.q);
  }
  if constexpr (std::is_same_v<State, SensY0State<T>>) {
    out.dy_dy0[i] = element_output(e.status, e.y.r);
  }
  if (out.status) out.status[i] = static_cast<ElementStatus>(static_cast<int32_t>(e.status));
  if (out.accepted_steps) out.accepted_steps[i] = static_cast<int32_t>(e.accepted);
}

}  // namespace nmode::detail
