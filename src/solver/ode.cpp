// Solver front end: option checks, statistics and the choice of backend.
#include <cmath>
#include <sstream>
#include <vector>

#include "core/names.hpp"
#include "core/numbers.hpp"
#include "nmode/cuda_solver.hpp"
#include "nmode/error.hpp"
#include "nmode/ode.hpp"
#include "solver/ode_common.hpp"

namespace nmode {

namespace {
constexpr Named<ElementStatus> kStatuses[] = {{ElementStatus::Converged, "converged"},
                                              {ElementStatus::MaxSteps, "max_steps"},
                                              {ElementStatus::NonFinite, "non_finite"},
                                              {ElementStatus::StepTooSmall, "step_too_small"}};
}  // namespace

const char* to_string(ElementStatus status) { return name_in(kStatuses, status); }

ElementStatus parse_element_status(const std::string& name) { return parse_name_in(kStatuses, name, "element status"); }

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

detail::SolveTally tally_of(const SolveStats& s) {
  using namespace detail;
  SolveTally t;
  const int64_t counts[kTallySlots] = {s.elements,     s.accepted_steps, s.rejected_steps, s.max_accepted,
                                       s.max_attempts, s.converged,      s.hit_max_steps,  s.non_finite,
                                       s.step_too_small};
  for (int k = 0; k < kTallySlots; ++k) t.slot[k] = static_cast<unsigned long long>(counts[k]);
  return t;
}

SolveStats stats_of(const detail::SolveTally& t) {
  using namespace detail;
  auto at = [&](int k) { return static_cast<int64_t>(t.slot[k]); };
  auto status = [&](ElementStatus e) { return at(kFirstStatusSlot + static_cast<int>(e)); };
  SolveStats s;
  s.elements = at(kElementsSlot);
  s.accepted_steps = at(kAcceptedSlot);
  s.rejected_steps = at(kRejectedSlot);
  s.max_accepted = at(kMostAcceptedSlot);
  s.max_attempts = at(kMostAttemptsSlot);
  s.converged = status(ElementStatus::Converged);
  s.hit_max_steps = status(ElementStatus::MaxSteps);
  s.non_finite = status(ElementStatus::NonFinite);
  s.step_too_small = status(ElementStatus::StepTooSmall);
  return s;
}

void SolveStats::merge(const SolveStats& o) {
  detail::SolveTally t = tally_of(*this);
  t.merge(tally_of(o));
  const int64_t slots = lane_slots + o.lane_slots;
  *this = stats_of(t);
  lane_slots = slots;
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
