// The nmODE solver: for every element i, integrate y' = -lambda*y + sin^2(y + gamma_i)
// from y(0) = y0_i to t_end with its own adaptive Dormand-Prince 5(4) step, and
// optionally the sensitivities dy/dgamma, dy/dlambda, dy/dy0 (forward mode, O(n) memory).
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "nmode/device.hpp"
#include "nmode/element_status.hpp"

namespace nmode {

const char* to_string(ElementStatus status);  // "converged", "max_steps", "non_finite", "step_too_small"
ElementStatus parse_element_status(const std::string& name);  // its inverse; InvalidArgument otherwise

enum class InitialStep {
  Probe,     // Hairer's probe without the 100*h0 cap (default; ~3.4 steps at lambda=3, t=1, tol 1e-3)
  Textbook,  // Hairer's heuristic with the cap (the first step is 1e-4 when y0 = 0)
};

// The smallest rtol a solve in T uses: its unit roundoff. A tighter tolerance
// cannot be met, only chased (float at rtol 1e-12 took ~10^4 steps per element
// for an answer worse than at 1e-7; at 1e-15 it ran into max_steps), so a solve
// in T clamps rtol to this floor: "as tight as T allows" stays a valid request.
template <class T>
constexpr double min_rtol() {
  return double(std::numeric_limits<T>::epsilon());
}

struct SolverOptions {
  double lambda = 3.0;  // any finite value; negative lambda gives the unstable "P-nmODE"
  double t_end = 1.0;   // >= 0
  double rtol = 1e-3;   // > 0; a solve in T uses max(rtol, min_rtol<T>()): 1.2e-7 float, 2.2e-16 double
  double atol = 1e-3;   // >= 0
  int32_t max_steps = 1000;  // attempts (accepted + rejected) per element, in [1, 2^24]
  InitialStep initial_step = InitialStep::Probe;

  // Throws InvalidArgument naming the option and its value.
  void validate() const;
  // The rtol a solve in T (float or double) uses.
  template <class T>
  double effective_rtol() const {
    return rtol < min_rtol<T>() ? min_rtol<T>() : rtol;
  }
};

// Output buffers, each (n) or nullptr when not wanted. Sensitivities are computed
// when any of the three is requested; y is bitwise the same either way.
template <class T>
struct SolveOutputs {
  T* y = nullptr;            // y(t_end); required
  T* dy_dgamma = nullptr;    // dy(t_end)/dgamma
  T* dy_dlambda = nullptr;   // dy(t_end)/dlambda
  T* dy_dy0 = nullptr;       // dy(t_end)/dy0
  ElementStatus* status = nullptr;
  int32_t* accepted_steps = nullptr;  // accepted steps per element

  bool wants_sensitivities() const { return dy_dgamma || dy_dlambda || dy_dy0; }
};

struct SolveStats {
  int64_t elements = 0;
  int64_t accepted_steps = 0;   // summed over elements
  int64_t rejected_steps = 0;   // summed over elements
  int64_t max_accepted = 0;     // most accepted steps of one element
  int64_t max_attempts = 0;     // most attempts (accepted + rejected) of one element
  int64_t converged = 0;
  int64_t hit_max_steps = 0;
  int64_t non_finite = 0;
  int64_t step_too_small = 0;
  // Attempt slots the lane blocks ran (the CPU's SIMD blocks, the GPU's warps of
  // 32): a block runs until its slowest lane is done, so slots >= attempts; 0 where
  // not measured.
  int64_t lane_slots = 0;

  int64_t failed() const { return hit_max_steps + non_finite + step_too_small; }
  double mean_accepted() const { return elements ? double(accepted_steps) / double(elements) : 0.0; }
  // Right-hand-side evaluations spent: 6 per attempt (FSAL) plus 2 per started element.
  int64_t rhs_evaluations() const;
  // The share of lane slots spent on elements that had already finished.
  double idle_lane_fraction() const;
  void merge(const SolveStats& other);
  std::string summary() const;  // one line for logs
};

// CPU backend (OpenMP over work items, SIMD across the elements of a lane block,
// on the active SIMD target: see nmode/simd.hpp).
// gamma, y0: (n) host arrays; y0 == nullptr means y0 = 0.
template <class T>
SolveStats solve_cpu(const SolverOptions& options, int64_t n, const T* gamma, const T* y0,
                     const SolveOutputs<T>& out);

// Host arrays in and out; Device::Cuda copies to the GPU and back (float only).
// Device::Auto takes the GPU when one is present.
template <class T>
SolveStats solve(const SolverOptions& options, int64_t n, const T* gamma, const T* y0,
                 const SolveOutputs<T>& out, Device device = Device::Cpu);

// A benchmark's floor: the arithmetic no solver can avoid. `evaluations` nmODE
// right-hand sides per element (lambda = 3; with the sensitivities when asked),
// each feeding the next so none can be skipped, in the lanes of the active SIMD
// target with the solver's own right-hand side, OpenMP over work items. Writes one
// value per element to sink (n).
template <class T>
void rhs_floor(int64_t n, const T* gamma, int evaluations, bool sensitivities, T* sink);

}  // namespace nmode
