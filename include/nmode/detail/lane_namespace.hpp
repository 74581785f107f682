// Where the lane-generic math of detail/ lives. In a source file that includes
// Highway (src/solver/ode_cpu_lanes_float.cpp, compiled once per SIMD target by Highway's
// foreach_target.h), every generic header is read again for each target, into that
// target's namespace and under its target attributes: templates compiled for one
// target must never be shared with another (an AVX-512 copy picked by the linker
// for an SSE4 caller would crash an older CPU). Everywhere else (CUDA, the CPU's
// scalar target) they are read once, into an inline namespace.
//
// The generic headers guard themselves with Highway's toggle pattern:
//   #if defined(GUARD) == defined(HWY_TARGET_TOGGLE) ... toggle GUARD ... #endif
// which is an ordinary include guard where HWY_TARGET_TOGGLE is never defined.
#pragma once

#if defined(HWY_NAMESPACE)
#define NMODE_LANES_BEGIN \
  HWY_BEFORE_NAMESPACE(); \
  namespace nmode {       \
  namespace detail {      \
  namespace HWY_NAMESPACE {
#define NMODE_LANES_END \
  }                     \
  }                     \
  }                     \
  HWY_AFTER_NAMESPACE();
#else
#define NMODE_LANES_BEGIN \
  namespace nmode {       \
  namespace detail {      \
  inline namespace plain {
#define NMODE_LANES_END \
  }                     \
  }                     \
  }
#endif
