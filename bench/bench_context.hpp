// Every benchmark names the SIMD target it measured (and the GEMM kernel), so a
// number is never read without the code path that produced it. NMODE_SIMD forces a
// target; a bad value ends the program before any benchmark runs.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>

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

}  // namespace nmode::bench
