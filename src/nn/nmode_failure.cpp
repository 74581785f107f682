#include "nn/nmode_failure.hpp"

#include <sstream>

namespace nmode {

std::string nmode_failure_message(const std::string& layer, const SolveStats& s, const SolverOptions& o) {
  std::ostringstream m;
  m << layer << ": nmODE solver failed on " << s.failed() << " of " << s.elements << " elements (" << s.hit_max_steps
    << " used all max_steps = " << o.max_steps << " attempts, " << s.non_finite << " had a NaN/Inf input, "
    << s.step_too_small << " had a step too small to move t)";
  if (s.non_finite > 0) m << "; check the inputs and weights for NaN/Inf (diverged training?)";
  if (s.hit_max_steps > 0) m << "; raise max_steps or loosen rtol/atol";
  return m.str();
}

}  // namespace nmode
