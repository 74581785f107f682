// Solver front end: option checks, statistics and the choice of backend.
#include <cmath>
#include <sstream>
#include <vector>

#include "nmode/cuda_solver.hpp"
#include "core/numbers.hpp"
#include "nmode/error.hpp"
#include "nmode/ode.hpp"
#include "solver/ode_common.hpp"

namespace nmode {

const char* to_string(ElementStatus status) {
  switch (status) {
    case ElementStatus::Converged: return "converged";
    case ElementStatus::MaxSteps: return "max_steps";
    case ElementStatus::NonFinite: return "non_finite";
    case ElementStatus::StepTooSmall: return "step_too_small";
  }
  return "unknown";
}

void SolverOptions::validate() const {
  if (!std::isfinite(lambda)) throw InvalidArgument("lambda must be finite, got " + exact_decimal(lambda));
  if (!std::isfinite(t_end) || t_end < 0)
    throw InvalidArgument("t_end must be finite and >= 0, got " + exact_decimal(t_end));
  if (!std::isfinite(rtol) || rtol <= 0) throw InvalidArgument("rtol must be > 0, got " + exact_decimal(rtol));
  if (!std::isfinite(atol) || atol < 0) throw InvalidArgument("atol must be >= 0, got " + exact_decimal(atol));
  if (max_steps < 1 || max_steps > detail::kMaxStepsLimit)
    throw InvalidArgument("max_steps must be in [1, " + std::to_string(detail::kMaxStepsLimit) + "], got " +
                          std::to_string(max_steps));
}

int64_t SolveStats::rhs_evaluations() const {
  // FSAL: 6 new evaluations per attempt; the start costs f(y0) and one probe.
  return 6 * (accepted_steps + rejected_steps) + 2 * (elements - non_finite);
}

double SolveStats::idle_lane_fraction() const {
  return lane_slots > 0 ? 1.0 - double(accepted_steps + rejected_steps) / double(lane_slots) : 0.0;
}

void SolveStats::merge(const SolveStats& o) {
  lane_slots += o.lane_slots;
  elements += o.elements;
  accepted_steps += o.accepted_steps;
  rejected_steps += o.rejected_steps;
  max_accepted = std::max(max_accepted, o.max_accepted);
  max_attempts = std::max(max_attempts, o.max_attempts);
  converged += o.converged;
  hit_max_steps += o.hit_max_steps;
  non_finite += o.non_finite;
  step_too_small += o.step_too_small;
}

std::string SolveStats::summary() const {
  std::ostringstream s;
  s.precision(3);
  s << elements << " elements, " << std::fixed << mean_accepted() << " accepted steps/element (max "
    << max_accepted << "), " << rejected_steps << " rejected";
  if (failed() > 0) {
    s << "; FAILED: " << hit_max_steps << " max_steps, " << non_finite << " non-finite, " << step_too_small
      << " step too small";
  }
  return s.str();
}

template <class T>
void check_solve_arguments(const SolverOptions& options, int64_t n, const T* gamma, const SolveOutputs<T>& out) {
  options.validate();
  if (n < 0) throw InvalidArgument("number of elements must be >= 0, got " + std::to_string(n));
  if (n > 0 && !gamma) throw InvalidArgument("gamma must not be null when n = " + std::to_string(n) + " > 0");
  if (n > 0 && !out.y) throw InvalidArgument("the output y must not be null when n > 0");
}
template void check_solve_arguments<float>(const SolverOptions&, int64_t, const float*, const SolveOutputs<float>&);
template void check_solve_arguments<double>(const SolverOptions&, int64_t, const double*,
                                            const SolveOutputs<double>&);

template <>
SolveStats solve<double>(const SolverOptions& options, int64_t n, const double* gamma, const double* y0,
                         const SolveOutputs<double>& out, Device device) {
  if (device == Device::Cuda)
    throw InvalidArgument("the CUDA backend solves in float only; use float or --device cpu for double");
  return solve_cpu(options, n, gamma, y0, out);
}

template <>
SolveStats solve<float>(const SolverOptions& options, int64_t n, const float* gamma, const float* y0,
                        const SolveOutputs<float>& out, Device device) {
  if (resolve_device(device) == Device::Cpu) return solve_cpu(options, n, gamma, y0, out);
  return solve_cuda_from_host(options, n, gamma, y0, out);
}

}  // namespace nmode
