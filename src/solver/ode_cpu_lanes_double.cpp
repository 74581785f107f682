// The CPU solver's SIMD kernels (ode_cpu_lanes-inl.hpp) in double, compiled once per
// target by Highway's foreach_target.h; ode_cpu_lanes_float.cpp compiles them in float.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "solver/ode_cpu_lanes_double.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "solver/ode_cpu_lanes-inl.hpp"

#if HWY_ONCE
namespace nmode {
NMODE_DEFINE_SIMD_LANE_KERNELS(double)
}  // namespace nmode
#endif
