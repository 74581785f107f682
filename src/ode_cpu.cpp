// CPU backend of the solver: OpenMP hands out chunks of elements; inside a chunk,
// blocks of kLanes elements advance one DP5(4) attempt at a time in SIMD lanes,
// lanes that have finished are masked until the whole block is done.
#include <algorithm>
#include <cmath>
#include <limits>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "nmode/detail/element_outputs.hpp"
#include "nmode/detail/element_solver.hpp"
#include "nmode/ode.hpp"
#include "ode_common.hpp"

namespace nmode {
namespace {

using detail::ElementParams;
using detail::ElementSolver;

// Lanes per block: four 512-bit vectors (64 floats, 32 doubles). Measured on
// AVX-512 (bench_ode): 16 float lanes are ~10% slower, 32 and 64 about equal;
// nearly all elements need 3 or 4 steps, so wider blocks waste little.
template <class T> constexpr int kLanes = 256 / int(sizeof(T));
// Most elements per OpenMP work item: large enough to amortise scheduling and to
// fill blocks with elements of equal step counts (see group_elements).
constexpr int kChunk = 4096;

// Elements per work item: kChunk, or less for small batches so that every thread
// still gets about four work items to balance.
inline int64_t chunk_size(int64_t n, int lanes) {
#ifdef _OPENMP
  const int64_t threads = omp_get_max_threads();
#else
  const int64_t threads = 1;
#endif
  const int64_t quarter = (n + 4 * threads - 1) / (4 * threads);
  const int64_t rounded = (quarter + lanes - 1) / lanes * lanes;
  return std::clamp<int64_t>(rounded, 4 * int64_t(lanes), kChunk);
}

// Lanes of a block stored as structure-of-arrays: the vectoriser needs
// unit-stride loads of plain scalars (it gives up on arrays of structs).
template <class T, int W>
struct LaneBlock {
  T gamma[W], t[W], h[W];
  T y[4][W], k1[4][W];  // state components (y, s, q, r); ValueState uses [0]
  int32_t accepted[W], rejected[W], after_rejection[W], done[W], status[W];
};

template <class T, int W>
inline void load_state(detail::ValueState<T>& v, const T (&a)[4][W], int l) { v.y = a[0][l]; }
template <class T, int W>
inline void store_state(const detail::ValueState<T>& v, T (&a)[4][W], int l) { a[0][l] = v.y; }
template <class T, int W>
inline void load_state(detail::SensState<T>& v, const T (&a)[4][W], int l) {
  v.y = a[0][l];
  v.s = a[1][l];
  v.q = a[2][l];
}
template <class T, int W>
inline void store_state(const detail::SensState<T>& v, T (&a)[4][W], int l) {
  a[0][l] = v.y;
  a[1][l] = v.s;
  a[2][l] = v.q;
}
template <class T, int W>
inline void load_state(detail::SensY0State<T>& v, const T (&a)[4][W], int l) {
  v.y = a[0][l];
  v.s = a[1][l];
  v.q = a[2][l];
  v.r = a[3][l];
}
template <class T, int W>
inline void store_state(const detail::SensY0State<T>& v, T (&a)[4][W], int l) {
  a[0][l] = v.y;
  a[1][l] = v.s;
  a[2][l] = v.q;
  a[3][l] = v.r;
}

template <class T, class State, int W>
inline ElementSolver<T, State> load_lane(const LaneBlock<T, W>& b, int l, T lambda) {
  ElementSolver<T, State> e;
  e.f = detail::NmodeRhs<T>{b.gamma[l], lambda};
  load_state(e.y, b.y, l);
  load_state(e.k1, b.k1, l);
  e.t = b.t[l];
  e.h = b.h[l];
  e.accepted = b.accepted[l];
  e.rejected = b.rejected[l];
  e.after_rejection = b.after_rejection[l] != 0;
  e.done = b.done[l] != 0;
  e.status = b.status[l];
  return e;
}

template <class T, class State, int W>
inline void store_lane(const ElementSolver<T, State>& e, LaneBlock<T, W>& b, int l) {
  b.gamma[l] = e.f.gamma;
  store_state(e.y, b.y, l);
  store_state(e.k1, b.k1, l);
  b.t[l] = e.t;
  b.h[l] = e.h;
  b.accepted[l] = e.accepted;
  b.rejected[l] = e.rejected;
  b.after_rejection[l] = e.after_rejection ? 1 : 0;
  b.done[l] = e.done ? 1 : 0;
  b.status[l] = e.status;
}

// Starts a block of lanes with the elements index[0..count). A partial block pads
// with gamma = 0 lanes that start finished, so every element runs through the same
// vector code: results do not depend on where an element sits in the batch. Kept
// out of line because GCC's partial-redundancy elimination specialises the
// non-finite branch of element_begin into control flow that the vectoriser
// rejects; it is switched off for this function only (it helps the attempt loop).
template <class T, class State, int W>
__attribute__((noinline, optimize("no-tree-pre"))) void start_lanes(const ElementParams<T>& p,
                                                                  const int64_t* index, int count,
                                                                  const T* gamma, const T* y0,
                                                                  LaneBlock<T, W>& b) {
  double g[W];
  T start[W];
  int32_t real[W];
  for (int l = 0; l < W; ++l) {
    real[l] = l < count;
    const int64_t i = real[l] ? index[l] : 0;
    g[l] = real[l] ? static_cast<double>(gamma[i]) : 0.0;
    start[l] = (real[l] && y0) ? y0[i] : T(0);
  }
#pragma GCC ivdep
  for (int l = 0; l < W; ++l) {
    ElementSolver<T, State> e;
    detail::element_begin(e, g[l], start[l], p);
    e.done = e.done | !real[l];
    store_lane(e, b, l);
  }
}

// Writes the first `count` lanes of a finished block to the elements index[0..count)
// (what detail::write_element does for one element) and adds them to the
// statistics, field by field in loops the vectoriser handles: done one element at a
// time, this bookkeeping cost about a tenth of the solver's time.
template <class T, class State, int W>
void finish_block(const LaneBlock<T, W>& b, const int64_t* index, int count, const SolveOutputs<T>& out,
                  SolveStats& stats) {
  T* const outputs[4] = {out.y, out.dy_dgamma, out.dy_dlambda, out.dy_dy0};
  constexpr int components = sizeof(State) / sizeof(T);
  for (int c = 0; c < components; ++c) {
    T* const dst = outputs[c];
    if (!dst) continue;
    for (int l = 0; l < count; ++l) dst[index[l]] = detail::element_output(b.status[l], b.y[c][l]);
  }
  if (out.status) {
    for (int l = 0; l < count; ++l) out.status[index[l]] = static_cast<ElementStatus>(b.status[l]);
  }
  if (out.accepted_steps) {
    for (int l = 0; l < count; ++l) out.accepted_steps[index[l]] = b.accepted[l];
  }
  int64_t accepted = 0, rejected = 0;  // up to count * max_steps
  int32_t max_accepted = 0, max_attempts = 0;
  int32_t by_status[4] = {0, 0, 0, 0};
  for (int l = 0; l < count; ++l) {
    accepted += b.accepted[l];
    rejected += b.rejected[l];
    max_accepted = std::max(max_accepted, b.accepted[l]);
    max_attempts = std::max(max_attempts, b.accepted[l] + b.rejected[l]);
  }
  for (int l = 0; l < count; ++l) {
    for (int s = 0; s < 4; ++s) by_status[s] += b.status[l] == s ? 1 : 0;
  }
  static_assert(detail::kConverged == 0 && detail::kMaxSteps == 1 && detail::kNonFinite == 2 &&
                detail::kStepTooSmall == 3);
  stats.elements += count;
  stats.accepted_steps += accepted;
  stats.rejected_steps += rejected;
  stats.max_accepted = std::max<int64_t>(stats.max_accepted, max_accepted);
  stats.max_attempts = std::max<int64_t>(stats.max_attempts, max_attempts);
  stats.converged += by_status[detail::kConverged];
  stats.hit_max_steps += by_status[detail::kMaxSteps];
  stats.non_finite += by_status[detail::kNonFinite];
  stats.step_too_small += by_status[detail::kStepTooSmall];
}

// Elements are grouped by gamma mod pi before they are dealt into blocks. For
// y0 = 0 an element's step count is a function of gamma mod pi alone (the solution
// is pi-periodic in gamma), and a block runs until its slowest lane is done: in
// batch order 16 % of the lane attempts at t_end = 1 idled, grouped 2.5 %.
constexpr int kGroups = 64;

inline int group_of(double gamma) {
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

template <class T, class State>
void solve_range(const ElementParams<T>& p, int64_t begin, int64_t end, const T* gamma, const T* y0,
                 const SolveOutputs<T>& out, SolveStats& stats) {
  constexpr int W = kLanes<T>;
  int64_t order[kChunk];
  group_elements(begin, end, gamma, order);
  LaneBlock<T, W> b;
  const int count = static_cast<int>(end - begin);
  for (int first = 0; first < count; first += W) {
    const int lanes = std::min(W, count - first);
    start_lanes<T, State, W>(p, order + first, lanes, gamma, y0, b);
    for (;;) {
      int32_t active = 0;
      for (int l = 0; l < W; ++l) active |= 1 - b.done[l];
      if (!active) break;
      // GCC ivdep rather than omp simd: omp simd privatises the local solver
      // struct into per-lane arrays before it can be split into scalars, which
      // defeats vectorisation. This file is also built with -fno-thread-jumps
      // (CMakeLists.txt): jump threading turns the branch-free selects of
      // element_attempt back into branches that the vectoriser cannot handle.
#pragma GCC ivdep
      for (int l = 0; l < W; ++l) {
        ElementSolver<T, State> e = load_lane<T, State>(b, l, p.lambda);
        detail::element_attempt(e, p);
        store_lane(e, b, l);
      }
    }
    finish_block<T, State>(b, order + first, lanes, out, stats);
  }
}

template <class T, class State>
SolveStats solve_all(const ElementParams<T>& p, int64_t n, const T* gamma, const T* y0,
                     const SolveOutputs<T>& out) {
  SolveStats total;
  const int64_t chunk = chunk_size(n, kLanes<T>);
  const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel if (chunks > 1)
  {
    SolveStats local;
#pragma omp for schedule(dynamic, 1) nowait
    for (int64_t c = 0; c < chunks; ++c) {
      solve_range<T, State>(p, c * chunk, std::min(n, (c + 1) * chunk), gamma, y0, out, local);
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
  if (out.dy_dy0) return solve_all<T, detail::SensY0State<T>>(p, n, gamma, y0, out);
  if (out.wants_sensitivities()) return solve_all<T, detail::SensState<T>>(p, n, gamma, y0, out);
  return solve_all<T, detail::ValueState<T>>(p, n, gamma, y0, out);
}

template SolveStats solve_cpu<float>(const SolverOptions&, int64_t, const float*, const float*,
                                     const SolveOutputs<float>&);
template SolveStats solve_cpu<double>(const SolverOptions&, int64_t, const double*, const double*,
                                      const SolveOutputs<double>&);

}  // namespace nmode
