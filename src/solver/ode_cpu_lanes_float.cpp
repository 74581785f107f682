// The CPU solver's SIMD kernels (ode_cpu_lanes-inl.hpp) in float, compiled once per
// target by Highway's foreach_target.h; ode_cpu_lanes_double.cpp compiles them in double.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "solver/ode_cpu_lanes_float.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "solver/ode_cpu_lanes-inl.hpp"

#if HWY_ONCE
namespace nmode {
NMODE_DEFINE_SIMD_LANE_KERNELS(float)
}  // namespace nmode
#endif
