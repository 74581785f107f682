// The group of an element by gamma mod pi, shared by the CPU's work items and the
// GPU's tiles: both sort elements by it before dealing them to lanes. For y0 = 0
// an element's step count is a function of gamma mod pi alone (the solution is
// pi-periodic in gamma), and a lane block (or a warp) runs until its slowest lane
// is done: in batch order 16 % of the lane attempts at t_end = 1 idled in 64-lane
// blocks, grouped 2.5 %.
#pragma once

#include "nmode/detail/hd.hpp"

namespace nmode::detail {

constexpr int kGammaGroups = 64;

// In [0, kGammaGroups) for every input. No branch and no libm call, so the CPU's
// loop over a work item vectorises (std::nearbyint is a call on the x86-64
// baseline): adding and subtracting 1.5 * 2^(mantissa bits) rounds to the nearest
// whole number. NaN, Inf and gamma too large for that rounding land anywhere in
// the range: the group only orders work, it never changes a result.
template <class T>
NMODE_HD inline int gamma_group(T gamma) {
  const T shift = sizeof(T) == sizeof(float) ? T(12582912.0f) : T(0x1.8p52);
  const T turns = gamma * T(0.31830988618379067154);  // gamma / pi
  const T nearest = (turns + shift) - shift;
  const T x = (turns - nearest + T(0.5)) * T(kGammaGroups);
  const T low = x > T(0) ? x : T(0);  // NaN -> 0
  return static_cast<int>(low < T(kGammaGroups - 1) ? low : T(kGammaGroups - 1));
}

}  // namespace nmode::detail
