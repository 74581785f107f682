// CPU backend of the solver: OpenMP hands out chunks of elements; inside a chunk,
// blocks of kLanes elements advance one DP5(4) attempt at a time in SIMD lanes,
// lanes that have finished are masked until the whole block is done.
#include <algorithm>
#include <cmath>
#include <limits>

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
// Elements per OpenMP work item: large enough to amortise scheduling, small
// enough to balance elements with very different step counts.
constexpr int64_t kChunk = 1024;

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

// Starts a block of lanes. A partial block pads with gamma = 0 lanes that start
// finished, so every element runs through the same vector code: results do not
// depend on where an element sits in the batch. Kept out of line because GCC's
// partial-redundancy elimination specialises the non-finite branch of
// element_begin into control flow that the vectoriser rejects; it is switched off
// for this function only (it helps the attempt loop).
template <class T, class State, int W>
__attribute__((noinline, optimize("no-tree-pre"))) void start_lanes(const ElementParams<T>& p, int64_t base,
                                                                  int64_t end, const T* gamma, const T* y0,
                                                                  LaneBlock<T, W>& b) {
  double g[W];
  T start[W];
  int32_t real[W];
  for (int l = 0; l < W; ++l) {
    const int64_t i = base + l;
    real[l] = i < end;
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

template <class T, class State>
void solve_range(const ElementParams<T>& p, int64_t begin, int64_t end, const T* gamma, const T* y0,
                 const SolveOutputs<T>& out, SolveStats& stats) {
  constexpr int W = kLanes<T>;
  LaneBlock<T, W> b;
  for (int64_t base = begin; base < end; base += W) {
    start_lanes<T, State, W>(p, base, end, gamma, y0, b);
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
    const int count = static_cast<int>(std::min<int64_t>(W, end - base));
    for (int l = 0; l < count; ++l) {
      const ElementSolver<T, State> e = load_lane<T, State>(b, l, p.lambda);
      detail::write_element(e, base + l, out);
      record_element(stats, e.status, e.accepted, e.rejected);
    }
  }
}

template <class T, class State>
SolveStats solve_all(const ElementParams<T>& p, int64_t n, const T* gamma, const T* y0,
                     const SolveOutputs<T>& out) {
  SolveStats total;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel if (chunks > 1)
  {
    SolveStats local;
#pragma omp for schedule(dynamic, 1) nowait
    for (int64_t c = 0; c < chunks; ++c) {
      solve_range<T, State>(p, c * kChunk, std::min(n, (c + 1) * kChunk), gamma, y0, out, local);
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
