// Every benchmark names the SIMD target it measured (and the GEMM kernel), so a
// number is never read without the code path that produced it. NMODE_SIMD forces a
// target; a bad value ends the program before any benchmark runs.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

#include "nmode/gemm.hpp"
#include "nmode/simd.hpp"

namespace nmode::bench {

// Adds the context lines; false (after a one-line message) when NMODE_SIMD is bad.
inline bool add_simd_context(const char* program) {
  try {
    benchmark::AddCustomContext("nmode_simd_target", to_string(active_simd_target()));
    benchmark::AddCustomContext("nmode_sgemm_kernel", sgemm_kernel_name());
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return false;
  }
}

// The targets a sweep measures: the one NMODE_SIMD names, or every target this
// CPU supports (none for a bad name, which add_simd_context reports).
inline std::vector<SimdTarget> measured_targets() {
  const char* forced = std::getenv("NMODE_SIMD");
  if (!forced || !*forced) return supported_simd_targets();
  try {
    return {active_simd_target()};
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace nmode::bench
