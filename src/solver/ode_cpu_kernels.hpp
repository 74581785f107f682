// The seam between the CPU solver's driver (src/solver/ode_cpu.cpp: work items, grouping,
// OpenMP, the scalar target) and its SIMD kernels (src/solver/ode_cpu_lanes-inl.hpp, compiled
// once per target): a kernel solves the `count` elements of one work item, given
// side by side, in lane blocks, writes their results side by side and adds them to
// the statistics.
#pragma once

#include <cstdint>

#include "nmode/detail/element_params.hpp"
#include "nmode/detail/solve_tally.hpp"
#include "nmode/ode.hpp"
#include "nmode/simd.hpp"

namespace nmode {

// Which outputs a solve integrates: y; y with dy/dgamma and dy/dlambda; and dy/dy0.
enum class StateKind { Value, Sens, SensY0 };

// What a kernel adds up for its elements: their tally, and the lane slots its
// blocks ran (see SolveStats::lane_slots). One per thread, turned into SolveStats
// once at the end of a solve.
struct KernelCount {
  detail::SolveTally tally;
  int64_t lane_slots = 0;
};

template <class T>
using SolveBlocks = void (*)(StateKind kind, const detail::ElementParams<T>& p, int count, const T* gamma,
                             const T* y0, const SolveOutputs<T>& out, KernelCount& counted);

// The floor of a benchmark (see nmode::rhs_floor) for elements [0, count).
template <class T>
using RhsFloor = void (*)(const T* gamma, int count, int evaluations, bool sensitivities, T* sink);

// A SIMD target's kernels in precision T.
template <class T>
struct LaneKernels {
  SolveBlocks<T> solve;
  RhsFloor<T> floor;
  int block;  // elements per lane block
};

// The kernels of a SIMD target; nullptr for SimdTarget::Scalar, which the driver
// runs itself one element at a time, as a GPU thread does. One source per
// precision defines them (ode_cpu_lanes_float.cpp, ode_cpu_lanes_double.cpp).
template <class T>
const LaneKernels<T>* simd_lane_kernels(SimdTarget target);
template <>
const LaneKernels<float>* simd_lane_kernels<float>(SimdTarget target);
template <>
const LaneKernels<double>* simd_lane_kernels<double>(SimdTarget target);

// A finished lane block as structure of arrays, lanes [0, count) real.
template <class T>
struct FinishedBlock {
  const T* components[4];  // y, s, q, r; only the first `components` are set
  int component_count;
  const T* status;
  const T* accepted;
  const T* rejected;
};

// Writes the first `count` lanes of a finished block to positions
// [first, first + count) of `out` and adds them to the tally.
template <class T>
void finish_block(const FinishedBlock<T>& b, int first, int count, const SolveOutputs<T>& out,
                  detail::SolveTally& tally);

}  // namespace nmode
