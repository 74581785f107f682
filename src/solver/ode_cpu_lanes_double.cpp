// The CPU solver's SIMD kernels in double (ode_cpu_lanes_float.cpp: in float),
// compiled once per target by Highway's foreach_target.h; the kernels themselves
// are in ode_cpu_lanes-inl.hpp.
#include "solver/ode_cpu_kernels.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "solver/ode_cpu_lanes_double.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "solver/ode_cpu_lanes-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace nmode {
namespace HWY_NAMESPACE {

const LaneKernels<double> kDoubleLaneKernels = lane_kernels<double>();
const LaneKernels<double>* const kDoubleKernelsOfTarget = &kDoubleLaneKernels;

}  // namespace HWY_NAMESPACE
}  // namespace nmode
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "simd/dispatch.hpp"

namespace nmode {

template <>
const LaneKernels<double>* simd_lane_kernels<double>(SimdTarget target) {
  return NMODE_FOR_SIMD_TARGET(target, kDoubleKernelsOfTarget, static_cast<const LaneKernels<double>*>(nullptr));
}

}  // namespace nmode
#endif  // HWY_ONCE
