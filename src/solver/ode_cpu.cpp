// CPU backend of the solver: OpenMP hands out work items of elements, grouped by
// gamma mod pi; the active SIMD target's kernel (src/solver/ode_cpu_lanes-inl.hpp) solves a
// work item in lane blocks, and the scalar target solves it here one element at a
// time with exactly the code a CUDA thread runs.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "nmode/detail/element_outputs.hpp"
#include "core/numbers.hpp"
#include "nmode/detail/element_solver.hpp"
#include "nmode/detail/gamma_group.hpp"
#include "nmode/ode.hpp"
#include "nmode/simd.hpp"
#include "solver/ode_common.hpp"
#include "solver/ode_cpu_kernels.hpp"

namespace nmode {

template <class T>
void finish_block(const FinishedBlock<T>& b, int first, int count, const SolveOutputs<T>& out,
                  detail::SolveTally& tally) {
  T* const outputs[4] = {out.y, out.dy_dgamma, out.dy_dlambda, out.dy_dy0};
  for (int c = 0; c < b.component_count; ++c) {
    T* const dst = outputs[c];
    if (!dst) continue;
    for (int l = 0; l < count; ++l) dst[first + l] = detail::element_output(b.status[l], b.components[c][l]);
  }
  if (out.status) {
    for (int l = 0; l < count; ++l)
      out.status[first + l] = static_cast<ElementStatus>(static_cast<int32_t>(b.status[l]));
  }
  if (out.accepted_steps) {
    for (int l = 0; l < count; ++l) out.accepted_steps[first + l] = static_cast<int32_t>(b.accepted[l]);
  }
  for (int l = 0; l < count; ++l)  // whole numbers below 2^24 (kMaxStepsLimit) held in T
    tally.add(static_cast<unsigned long long>(b.accepted[l]), static_cast<unsigned long long>(b.rejected[l]),
              static_cast<ElementStatus>(static_cast<int32_t>(b.status[l])));
}
template void finish_block<float>(const FinishedBlock<float>&, int, int, const SolveOutputs<float>&,
                                  detail::SolveTally&);
template void finish_block<double>(const FinishedBlock<double>&, int, int, const SolveOutputs<double>&,
                                   detail::SolveTally&);

namespace {

using detail::ElementParams;

// Most elements per OpenMP work item: large enough to amortise scheduling and to
// fill lane blocks with elements of equal step counts (detail/gamma_group.hpp).
constexpr int kChunk = 4096;

// Elements per work item: kChunk, or less for small batches so that every thread
// still gets about four work items to balance.
int64_t chunk_size(int64_t n, int block) {
#ifdef _OPENMP
  const int64_t threads = omp_get_max_threads();
#else
  const int64_t threads = 1;
#endif
  const int64_t quarter = ceil_div(n, 4 * threads);
  const int64_t rounded = ceil_div(quarter, block) * block;
  return std::clamp<int64_t>(rounded, 4 * int64_t(block), kChunk);
}

// The scalar target: one element at a time, as one CUDA thread runs it.
template <class T, class State>
void solve_elements(const ElementParams<T>& p, int count, const T* gamma, const T* y0, const SolveOutputs<T>& out,
                    KernelCount& counted) {
  for (int k = 0; k < count; ++k) {
    detail::ElementSolver<T, State> e;
    detail::element_begin(e, gamma[k], y0 ? y0[k] : T(0), p);
    int64_t attempts = 0;
    for (; !e.done; ++attempts) detail::element_attempt(e, p);
    counted.lane_slots += attempts;
    // A finished block of one lane: the outputs and statistics go where a SIMD
    // block's go.
    FinishedBlock<T> one{{}, State::kComponents, &e.status, &e.accepted, &e.rejected};
    for (int c = 0; c < State::kComponents; ++c) one.components[c] = &detail::component(e.y, c);
    finish_block(one, k, 1, out, counted.tally);
  }
}

template <class T>
void solve_elements(StateKind kind, const ElementParams<T>& p, int count, const T* gamma, const T* y0,
                    const SolveOutputs<T>& out, KernelCount& counted) {
  switch (kind) {
    case StateKind::Value: return solve_elements<T, detail::ValueState<T>>(p, count, gamma, y0, out, counted);
    case StateKind::Sens: return solve_elements<T, detail::SensState<T>>(p, count, gamma, y0, out, counted);
    case StateKind::SensY0: return solve_elements<T, detail::SensY0State<T>>(p, count, gamma, y0, out, counted);
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

// One work item, elements [begin, begin + count) with count <= kChunk, in group
// order: the inputs are gathered into this buffer by a counting sort on the group,
// a kernel solves them side by side and writes its results here, and they move to
// the caller's arrays in element order at the end. Scattering each lane's results
// straight to its element missed the cache on most stores (10 % of a solve on
// AVX-512); this way the scattered accesses stay inside a small buffer and the
// caller's arrays are read and written in order.
template <class T>
class GroupedWorkItem {
 public:
  explicit GroupedWorkItem(const SolveOutputs<T>& out) : out_(out), b_(Buffers::of_this_thread()) {
    staged_.y = out.y ? b_.values[0].data() : nullptr;
    staged_.dy_dgamma = out.dy_dgamma ? b_.values[1].data() : nullptr;
    staged_.dy_dlambda = out.dy_dlambda ? b_.values[2].data() : nullptr;
    staged_.dy_dy0 = out.dy_dy0 ? b_.values[3].data() : nullptr;
    staged_.status = out.status ? b_.status.data() : nullptr;
    staged_.accepted_steps = out.accepted_steps ? b_.accepted.data() : nullptr;
  }

  void group(int64_t begin, int count, const T* gamma, const T* y0) {
    begin_ = begin;
    count_ = count;
    has_y0_ = y0 != nullptr;
    int32_t start[detail::kGammaGroups + 1] = {};
    for (int k = 0; k < count; ++k) b_.group[k] = static_cast<int16_t>(detail::gamma_group(static_cast<double>(gamma[begin + k])));
    for (int k = 0; k < count; ++k) ++start[b_.group[k] + 1];
    for (int g = 0; g < detail::kGammaGroups; ++g) start[g + 1] += start[g];
    for (int k = 0; k < count; ++k) {
      const int32_t at = start[b_.group[k]]++;
      b_.position[k] = at;
      b_.gamma[at] = gamma[begin + k];
      if (y0) b_.y0[at] = y0[begin + k];
    }
  }

  int count() const { return count_; }
  const T* gamma() const { return b_.gamma.data(); }
  const T* y0() const { return has_y0_ ? b_.y0.data() : nullptr; }
  const SolveOutputs<T>& staged() const { return staged_; }

  void move_to_outputs() const {
    move(out_.y, staged_.y);
    move(out_.dy_dgamma, staged_.dy_dgamma);
    move(out_.dy_dlambda, staged_.dy_dlambda);
    move(out_.dy_dy0, staged_.dy_dy0);
    move(out_.status, staged_.status);
    move(out_.accepted_steps, staged_.accepted_steps);
  }

 private:
  // Per thread and allocated once: training steps allocate nothing once their
  // shapes are fixed.
  struct Buffers {
    std::vector<int16_t> group = std::vector<int16_t>(kChunk);
    std::vector<int32_t> position = std::vector<int32_t>(kChunk);  // of element begin + k in group order
    std::vector<T> gamma = std::vector<T>(kChunk), y0 = std::vector<T>(kChunk);
    std::vector<T> values[4] = {std::vector<T>(kChunk), std::vector<T>(kChunk), std::vector<T>(kChunk),
                                std::vector<T>(kChunk)};
    std::vector<ElementStatus> status = std::vector<ElementStatus>(kChunk);
    std::vector<int32_t> accepted = std::vector<int32_t>(kChunk);

    static Buffers& of_this_thread() {
      thread_local Buffers buffers;
      return buffers;
    }
  };

  template <class V>
  void move(V* dst, const V* staged) const {
    if (!dst) return;
    for (int k = 0; k < count_; ++k) dst[begin_ + k] = staged[b_.position[k]];
  }

  SolveOutputs<T> out_, staged_;
  Buffers& b_;
  int64_t begin_ = 0;
  int count_ = 0;
  bool has_y0_ = false;
};

template <class T>
SolveStats solve_all(StateKind kind, const ElementParams<T>& p, int64_t n, const T* gamma, const T* y0,
                     const SolveOutputs<T>& out) {
  const LaneKernels<T>* kernels = simd_lane_kernels<T>(active_simd_target());
  const SolveBlocks<T> solve_blocks = kernels ? kernels->solve : solve_elements<T>;
  const int block = kernels ? kernels->block : 1;
  SolveStats total;
  const int64_t chunk = chunk_size(n, block);
  const int64_t chunks = ceil_div(n, chunk);
#pragma omp parallel if (chunks > 1)
  {
    KernelCount local;
    GroupedWorkItem<T> item(out);
#pragma omp for schedule(dynamic, 1) nowait
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t begin = c * chunk, end = std::min(n, (c + 1) * chunk);
      item.group(begin, static_cast<int>(end - begin), gamma, y0);
      solve_blocks(kind, p, item.count(), item.gamma(), item.y0(), item.staged(), local);
      item.move_to_outputs();
    }
    SolveStats stats = stats_of(local.tally);
    stats.lane_slots = local.lane_slots;
#pragma omp critical(nmode_solve_stats)
    total.merge(stats);
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
  const LaneKernels<T>* kernels = simd_lane_kernels<T>(active_simd_target());
  const RhsFloor<T> floor = kernels ? kernels->floor : rhs_floor_elements<T>;
  const int64_t chunks = ceil_div(n, kChunk);
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
