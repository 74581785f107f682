// The SIMD targets of the CPU hot loops (solver, GEMM). One build carries code for
// several instruction sets and picks the best one the CPU supports at first use;
// the environment variable NMODE_SIMD (or set_simd_target) forces one by name.
#pragma once

#include <string>
#include <vector>

namespace nmode {

// Best first. Scalar is portable C++ and always present: for the solver it is
// the one-element-at-a-time path that the CUDA backend runs per thread.
enum class SimdTarget { Avx512, Avx2, Sse4, Scalar };

// "avx512", "avx2", "sse4", "scalar".
const char* to_string(SimdTarget target);

// Case-insensitive name to target; throws InvalidArgument naming the valid names.
SimdTarget parse_simd_target(const std::string& name);

// Targets this build carries code for, best first.
std::vector<SimdTarget> compiled_simd_targets();

// Compiled targets this CPU (and operating system) can run, best first; never empty.
std::vector<SimdTarget> supported_simd_targets();

// The target the hot loops use. Chosen at the first call: NMODE_SIMD if set,
// otherwise the best supported target. Throws InvalidArgument when NMODE_SIMD
// names an unknown target or one this CPU cannot run (and on every later call).
SimdTarget active_simd_target();

// Makes `target` the active one (tests, benchmarks); throws InvalidArgument when
// it is not supported here. Not meant to race with running solves.
void set_simd_target(SimdTarget target);

}  // namespace nmode
