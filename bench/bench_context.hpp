// Every benchmark names the SIMD target it measured (and the GEMM kernel), so a
// number is never read without the code path that produced it. NMODE_SIMD forces a
// target; a bad value ends the program before any benchmark runs.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "nmode/gemm.hpp"
#include "nmode/random.hpp"
#include "nmode/tensor.hpp"
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

// The OpenMP threads of the benchmark that follows (ignored without OpenMP).
inline void set_threads(int threads) {
#ifdef _OPENMP
  omp_set_num_threads(threads);
#else
  (void)threads;
#endif
}

// A training batch of uniform [0, 1) inputs x: (batch, features) and labels
// below `classes`, the same for every benchmark that asks with the same seed.
inline void random_batch(int64_t batch, int64_t features, int32_t classes, uint64_t seed, Tensor& x,
                         std::vector<int32_t>& y) {
  SplitMix64 rng(seed);
  x.resize({batch, features});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = float(rng.next_uniform01());
  y.resize(static_cast<size_t>(batch));
  for (auto& v : y) v = int32_t(rng.next_below(uint64_t(classes)));
}

}  // namespace nmode::bench
