// The CPU solver's SIMD kernels in float (ode_cpu_lanes_double.cpp: in double),
// compiled once per target by Highway's foreach_target.h; the kernels themselves
// are in ode_cpu_lanes-inl.hpp.
#include "solver/ode_cpu_kernels.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "solver/ode_cpu_lanes_float.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "solver/ode_cpu_lanes-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace nmode {
namespace HWY_NAMESPACE {

const LaneKernels<float> kFloatLaneKernels = lane_kernels<float>();
const LaneKernels<float>* const kFloatKernelsOfTarget = &kFloatLaneKernels;

}  // namespace HWY_NAMESPACE
}  // namespace nmode
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "simd/dispatch.hpp"

namespace nmode {

template <>
const LaneKernels<float>* simd_lane_kernels<float>(SimdTarget target) {
  return NMODE_FOR_SIMD_TARGET(target, kFloatKernelsOfTarget, static_cast<const LaneKernels<float>*>(nullptr));
}

}  // namespace nmode
#endif  // HWY_ONCE
