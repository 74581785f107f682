// The CPU solver's SIMD kernels for one target and precision: blocks of elements
// advance one DP5(4) attempt at a time in the lanes of Lanes<T, N>
// (src/simd/lanes-inl.hpp), lanes that have finished pass through unchanged until
// the whole block is done. The math is the generic per-element code of
// include/nmode/detail/, the same that CUDA runs per thread. Read once per target
// by ode_cpu_lanes_float.cpp and ode_cpu_lanes_double.cpp: each precision is its
// own source, so a parallel build compiles the two (the library's slowest) at once.
#if defined(NMODE_SOLVER_ODE_CPU_LANES_INL_HPP) == defined(HWY_TARGET_TOGGLE)
#ifdef NMODE_SOLVER_ODE_CPU_LANES_INL_HPP
#undef NMODE_SOLVER_ODE_CPU_LANES_INL_HPP
#else
#define NMODE_SOLVER_ODE_CPU_LANES_INL_HPP
#endif

#include <hwy/highway.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "nmode/detail/element_solver.hpp"
#include "simd/lanes-inl.hpp"
#include "solver/ode_cpu_kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace nmode {
namespace HWY_NAMESPACE {
namespace {

namespace hn = hwy::HWY_NAMESPACE;
using detail::HWY_NAMESPACE::ElementSolver;
using detail::HWY_NAMESPACE::Lanes;

// Vectors per lane block: independent vectors interleave the long dependent
// chains of a step: on AVX-512, 4 vectors gave 40 M elements/s and 2 about 31
// (bench/RESULTS.md); the grouping by gamma mod pi keeps the wider blocks' idle
// lanes at 1-2.6 %. SSE4 takes 3: with sensitivities, side by side on a Zen 5,
// 3 vectors solved 20.4-20.7 M elements/s against 16.8 for 4 (t_end = 1), where
// AVX2, with as many registers, was slower with 3 (30-40 against 39-42).
template <class T>
constexpr int kVectors = HWY_TARGET == HWY_SSE4 ? 3 : 4;

template <class T, template <class> class StateOf>
void solve_blocks(const detail::ElementParams<T>& p, int count, const T* gamma, const T* y0,
                  const SolveOutputs<T>& out, KernelCount& counted) {
  using L = Lanes<T, kVectors<T>>;
  using State = StateOf<L>;
  constexpr size_t kMaxWidth = kVectors<T> * HWY_LANES(T);
  const int width = static_cast<int>(L::size());
  alignas(64) T g[kMaxWidth], start[kMaxWidth], real[kMaxWidth];
  alignas(64) T components[4][kMaxWidth], status[kMaxWidth], accepted[kMaxWidth], rejected[kMaxWidth];
  for (int first = 0; first < count; first += width) {
    // A partial block pads with lanes that start finished, so every element runs
    // through the same code: results do not depend on where it sits in the batch.
    const int lanes = std::min(width, count - first);
    // Plain copies, not `l < lanes ? gamma[first + l] : 0`: GCC turns that into
    // masked loads, which QEMU's AVX2 emulation faults on past the end of an array.
    std::fill(g, g + width, T(0));
    std::fill(start, start + width, T(0));
    std::fill(real, real + width, T(0));
    std::copy_n(gamma + first, lanes, g);
    if (y0) std::copy_n(y0 + first, lanes, start);
    std::fill(real, real + lanes, T(1));
    // detail::element_input in lanes.
    const L raw_gamma = L::load(g), raw_y0 = L::load(start);
    const auto finite = is_finite(raw_gamma) & is_finite(raw_y0);
    ElementSolver<L, State> e;
    detail::HWY_NAMESPACE::element_begin(e, select(finite, reduced_mod_pi(raw_gamma), L(T(0))),
                                         select(finite, raw_y0, L(T(0))), finite, p);
    e.done = e.done | (L::load(real) == L(T(0)));
    int64_t attempts = 0;
    for (; !all_of(e.done); ++attempts) detail::HWY_NAMESPACE::element_attempt(e, p);
    counted.lane_slots += attempts * width;
    for (int c = 0; c < State::kComponents; ++c) component(e.y, c).store(components[c]);
    e.status.store(status);
    e.accepted.store(accepted);
    e.rejected.store(rejected);
    const FinishedBlock<T> done{{components[0], components[1], components[2], components[3]},
                                State::kComponents, status, accepted, rejected};
    finish_block(done, first, lanes, out, counted.tally);
  }
}

template <class T>
void solve_kind(StateKind kind, const detail::ElementParams<T>& p, int count, const T* gamma, const T* y0,
                const SolveOutputs<T>& out, KernelCount& counted) {
  switch (kind) {
    case StateKind::Value:
      return solve_blocks<T, detail::HWY_NAMESPACE::ValueState>(p, count, gamma, y0, out, counted);
    case StateKind::Sens:
      return solve_blocks<T, detail::HWY_NAMESPACE::SensState>(p, count, gamma, y0, out, counted);
    case StateKind::SensY0:
      return solve_blocks<T, detail::HWY_NAMESPACE::SensY0State>(p, count, gamma, y0, out, counted);
  }
}

// `evaluations` right-hand sides per element in the solver's lanes, each feeding
// the next (an Euler-like chain), so the compiler can skip none.
template <class T, template <class> class StateOf>
void rhs_chain(const T* gamma, int count, int evaluations, T* sink) {
  using L = Lanes<T, kVectors<T>>;
  using State = StateOf<L>;
  constexpr size_t kMaxWidth = kVectors<T> * HWY_LANES(T);
  const int width = static_cast<int>(L::size());
  alignas(64) T g[kMaxWidth], result[kMaxWidth];
  for (int first = 0; first < count; first += width) {
    const int lanes = std::min(width, count - first);
    for (int l = 0; l < width; ++l) g[l] = l < lanes ? gamma[first + l] : T(0);
    const detail::HWY_NAMESPACE::NmodeRhs<L> f{L::load(g), L(T(3))};
    State v = detail::HWY_NAMESPACE::initial_state<State>(L(T(0)));
    for (int e = 0; e < evaluations; ++e) v = v + T(1e-3) * f(L(T(0)), v);
    L sum = component(v, 0);
    for (int c = 1; c < State::kComponents; ++c) sum = sum + component(v, c);
    sum.store(result);
    for (int l = 0; l < lanes; ++l) sink[first + l] = result[l];
  }
}

template <class T>
void rhs_floor(const T* gamma, int count, int evaluations, bool sensitivities, T* sink) {
  if (sensitivities)
    rhs_chain<T, detail::HWY_NAMESPACE::SensState>(gamma, count, evaluations, sink);
  else
    rhs_chain<T, detail::HWY_NAMESPACE::ValueState>(gamma, count, evaluations, sink);
}

// This target's kernels in precision T.
template <class T>
const LaneKernels<T>* kernels_of_target() {
  static constexpr LaneKernels<T> kKernels{solve_kind<T>, rhs_floor<T>, static_cast<int>(kVectors<T> * HWY_LANES(T))};
  return &kKernels;
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace nmode
HWY_AFTER_NAMESPACE();

#endif  // NMODE_SOLVER_ODE_CPU_LANES_INL_HPP

#ifndef NMODE_DEFINE_SIMD_LANE_KERNELS
#include "simd/dispatch.hpp"
// For the HWY_ONCE section of the source that compiles precision T: defines
// simd_lane_kernels<T>, which picks the kernels of the target serving `target`.
#define NMODE_DEFINE_SIMD_LANE_KERNELS(T)                                                                      \
  template <>                                                                                                  \
  const LaneKernels<T>* simd_lane_kernels<T>(SimdTarget target) {                                              \
    return NMODE_FOR_SIMD_TARGET(target, kernels_of_target<T>(), static_cast<const LaneKernels<T>*>(nullptr)); \
  }
#endif
