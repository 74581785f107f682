// Picks a per-target object by SimdTarget, for the HWY_ONCE section of a source
// compiled once per target by Highway's foreach_target.h. Chosen here rather than
// by HWY_DYNAMIC_DISPATCH, which would take the best target the CPU has and so
// ignore NMODE_SIMD and set_simd_target. A target this build or architecture lacks
// is never active (active_simd_target() returns supported ones only); it maps to
// the fallback all the same.
#pragma once

#include <hwy/highway.h>

#include "nmode/simd.hpp"

#if HWY_TARGETS & HWY_AVX3
#define NMODE_PASS_AVX3(name, fallback) N_AVX3::name
#else
#define NMODE_PASS_AVX3(name, fallback) fallback
#endif
#if HWY_TARGETS & HWY_AVX2
#define NMODE_PASS_AVX2(name, fallback) N_AVX2::name
#else
#define NMODE_PASS_AVX2(name, fallback) fallback
#endif
#if HWY_TARGETS & HWY_SSE4
#define NMODE_PASS_SSE4(name, fallback) N_SSE4::name
#else
#define NMODE_PASS_SSE4(name, fallback) fallback
#endif

// `name` from the namespace of the pass that serves `target`; `fallback` for
// SimdTarget::Scalar.
#define NMODE_FOR_SIMD_TARGET(target, name, fallback)                       \
  ((target) == ::nmode::SimdTarget::Avx512 ? NMODE_PASS_AVX3(name, fallback) \
   : (target) == ::nmode::SimdTarget::Avx2 ? NMODE_PASS_AVX2(name, fallback) \
   : (target) == ::nmode::SimdTarget::Sse4 ? NMODE_PASS_SSE4(name, fallback) \
                                           : (fallback))
