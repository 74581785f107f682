// CPU backend of the solver: OpenMP hands out work items of elements, grouped by
// gamma mod pi; the active SIMD target's kernel (src/ode_cpu_lanes.cpp) solves a
// work item in lane blocks, and the scalar target solves it here one element at a
// time with exactly the code a CUDA thread runs.
#include <algorithm>
#include <cmath>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "nmode/detail/element_outputs.hpp"
#include "nmode/detail/element_solver.hpp"
#include "nmode/ode.hpp"
#include "nmode/simd.hpp"
#include "ode_common.hpp"
#include "ode_cpu_kernels.hpp"

namespace nmode {

template <class T>
void finish_block(const FinishedBlock<T>& b, const int64_t* index, int count, const SolveOutputs<T>& out,
                  SolveStats& stats) {
  T* const outputs[4] = {out.y, out.dy_dgamma, out.dy_dlambda, out.dy_dy0};
  for (int c = 0; c < b.component_count; ++c) {
    T* const dst = outputs[c];
    if (!dst) continue;
    for (int l = 0; l < count; ++l) dst[index[l]] = detail::element_output(b.status[l], b.components[c][l]);
  }
  if (out.status) {
    for (int l = 0; l < count; ++l)
      out.status[index[l]] = static_cast<ElementStatus>(static_cast<int32_t>(b.status[l]));
  }
  if (out.accepted_steps) {
    for (int l = 0; l < count; ++l) out.accepted_steps[index[l]] = static_cast<int32_t>(b.accepted[l]);
  }
  for (int l = 0; l < count; ++l) {
    const int64_t accepted = static_cast<int64_t>(b.accepted[l]);
    const int64_t attempts = accepted + static_cast<int64_t>(b.rejected[l]);
    stats.elements += 1;
    stats.accepted_steps += accepted;
    stats.rejected_steps += attempts - accepted;
    stats.max_accepted = std::max(stats.max_accepted, accepted);
    stats.max_attempts = std::max(stats.max_attempts, attempts);
    const int32_t status = static_cast<int32_t>(b.status[l]);
    stats.converged += status == detail::kConverged;
    stats.hit_max_steps += status == detail::kMaxSteps;
    stats.non_finite += status == detail::kNonFinite;
    stats.step_too_small += status == detail::kStepTooSmall;
  }
}
template void finish_block<float>(const FinishedBlock<float>&, const int64_t*, int, const SolveOutputs<float>&,
                                  SolveStats&);
template void finish_block<double>(const FinishedBlock<double>&, const int64_t*, int,
                                   const SolveOutputs<double>&, SolveStats&);

namespace {

using detail::ElementParams;

// Most elements per OpenMP work item: large enough to amortise scheduling and to
// fill lane blocks with elements of equal step counts (see group_elements).
constexpr int kChunk = 4096;

// Elements per work item: kChunk, or less for small batches so that every thread
// still gets about four work items to balance.
int64_t chunk_size(int64_t n, int block) {
#ifdef _OPENMP
  const int64_t threads = omp_get_max_threads();
#else
  const int64_t threads = 1;
#endif
  const int64_t quarter = (n + 4 * threads - 1) / (4 * threads);
  const int64_t rounded = (quarter + block - 1) / block * block;
  return std::clamp<int64_t>(rounded, 4 * int64_t(block), kChunk);
}

// Elements are grouped by gamma mod pi before they are dealt into blocks. For
// y0 = 0 an element's step count is a function of gamma mod pi alone (the solution
// is pi-periodic in gamma), and a block runs until its slowest lane is done: in
// batch order 16 % of the lane attempts at t_end = 1 idled in 64-lane blocks,
// grouped 2.5 %.
constexpr int kGroups = 64;

int group_of(double gamma) {
  const double turns = gamma * 0.31830988618379067154;  // gamma / pi
  const double x = (turns - std::nearbyint(turns) + 0.5) * kGroups;
  return (x >= 0.0 && x < double(kGroups)) ? static_cast<int>(x) : 0;  // NaN, Inf: group 0
}

// The elements [begin, end) (at most kChunk) in group order: a counting sort.
template <class T>
void group_elements(int64_t begin, int64_t end, const T* gamma, int64_t* order) {
  int16_t group[kChunk];
  int32_t start[kGroups + 1] = {};
  const int count = static_cast<int>(end - begin);
  for (int k = 0; k < count; ++k) group[k] = static_cast<int16_t>(group_of(static_cast<double>(gamma[begin + k])));
  for (int k = 0; k < count; ++k) ++start[group[k] + 1];
  for (int g = 0; g < kGroups; ++g) start[g + 1] += start[g];
  for (int k = 0; k < count; ++k) order[start[group[k]]++] = begin + k;
}

// The scalar target: one element at a time, as one CUDA thread runs it.
template <class T, class State>
void solve_elements(const ElementParams<T>& p, const int64_t* order, int count, const T* gamma, const T* y0,
                    const SolveOutputs<T>& out, SolveStats& stats) {
  for (int k = 0; k < count; ++k) {
    const int64_t i = order[k];
    detail::ElementSolver<T, State> e;
    detail::element_begin(e, static_cast<double>(gamma[i]), y0 ? y0[i] : T(0), p);
    int64_t attempts = 0;
    for (; !e.done; ++attempts) detail::element_attempt(e, p);
    stats.lane_slots += attempts;
    // A finished block of one lane: the outputs and statistics go where a SIMD
    // block's go.
    FinishedBlock<T> one{{}, State::kComponents, &e.status, &e.accepted, &e.rejected};
    for (int c = 0; c < State::kComponents; ++c) one.components[c] = &detail::component(e.y, c);
    finish_block(one, &i, 1, out, stats);
  }
}

template <class T>
void solve_elements(StateKind kind, const ElementParams<T>& p, const int64_t* order, int count, const T* gamma,
                    const T* y0, const SolveOutputs<T>& out, SolveStats& stats) {
  switch (kind) {
    case StateKind::Value: return solve_elements<T, detail::ValueState<T>>(p, order, count, gamma, y0, out, stats);
    case StateKind::Sens: return solve_elements<T, detail::SensState<T>>(p, order, count, gamma, y0, out, stats);
    case StateKind::SensY0:
      return solve_elements<T, detail::SensY0State<T>>(p, order, count, gamma, y0, out, stats);
  }
}

// The scalar target's floor: the same chain as the SIMD kernels, one element at a time.
template <class T>
void rhs_floor_elements(const T* gamma, int count, int evaluations, bool sensitivities, T* sink) {
  for (int i = 0; i < count; ++i) {
    const detail::NmodeRhs<T> f{gamma[i], T(3)};
    detail::SensState<T> v{T(0), T(0), T(0)};
    for (int e = 0; e < evaluations; ++e) {
      if (sensitivities) {
        v = v + T(1e-3) * f(T(0), v);
      } else {
        v.y = v.y + T(1e-3) * f(T(0), detail::ValueState<T>{v.y}).y;
      }
    }
    sink[i] = v.y + v.s + v.q;
  }
}

template <class T>
SolveBlocks<T> kernel_of(const SolverKernels* k) {
  if constexpr (sizeof(T) == sizeof(float)) {
    return k ? k->solve_float : solve_elements<float>;
  } else {
    return k ? k->solve_double : solve_elements<double>;
  }
}

template <class T>
SolveStats solve_all(StateKind kind, const ElementParams<T>& p, int64_t n, const T* gamma, const T* y0,
                     const SolveOutputs<T>& out) {
  const SolverKernels* kernels = simd_solver_kernels(active_simd_target());
  const SolveBlocks<T> solve_blocks = kernel_of<T>(kernels);
  const int block = kernels ? (sizeof(T) == sizeof(float) ? kernels->float_block : kernels->double_block) : 1;
  SolveStats total;
  const int64_t chunk = chunk_size(n, block);
  const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel if (chunks > 1)
  {
    SolveStats local;
    int64_t order[kChunk];
#pragma omp for schedule(dynamic, 1) nowait
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t begin = c * chunk, end = std::min(n, (c + 1) * chunk);
      group_elements(begin, end, gamma, order);
      solve_blocks(kind, p, order, static_cast<int>(end - begin), gamma, y0, out, local);
    }
#pragma omp critical(nmode_solve_stats)
    total.merge(local);
  }
  return total;
}

}  // namespace

template <class T>
SolveStats solve_cpu(const SolverOptions& options, int64_t n, const T* gamma, const T* y0,
                     const SolveOutputs<T>& out) {
  check_solve_arguments(options, n, gamma, out);
  const ElementParams<T> p = element_params<T>(options);
  const StateKind kind = out.dy_dy0                    ? StateKind::SensY0
                         : out.wants_sensitivities() ? StateKind::Sens
                                                     : StateKind::Value;
  return solve_all<T>(kind, p, n, gamma, y0, out);
}

template <class T>
void rhs_floor(int64_t n, const T* gamma, int evaluations, bool sensitivities, T* sink) {
  const SolverKernels* kernels = simd_solver_kernels(active_simd_target());
  RhsFloor<T> floor = nullptr;
  if constexpr (sizeof(T) == sizeof(float)) {
    floor = kernels ? kernels->floor_float : rhs_floor_elements<float>;
  } else {
    floor = kernels ? kernels->floor_double : rhs_floor_elements<double>;
  }
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk;
    floor(gamma + begin, static_cast<int>(std::min<int64_t>(kChunk, n - begin)), evaluations, sensitivities,
          sink + begin);
  }
}
template void rhs_floor<float>(int64_t, const float*, int, bool, float*);
template void rhs_floor<double>(int64_t, const double*, int, bool, double*);

template SolveStats solve_cpu<float>(const SolverOptions&, int64_t, const float*, const float*,
                                     const SolveOutputs<float>&);
template SolveStats solve_cpu<double>(const SolverOptions&, int64_t, const double*, const double*,
                                      const SolveOutputs<double>&);

}  // namespace nmode
