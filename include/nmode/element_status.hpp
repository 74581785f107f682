// How one element of a solve ended. Its own header because the per-element code
// shared with CUDA (include/nmode/detail/) needs it without the rest of ode.hpp.
#pragma once

#include <cstdint>

namespace nmode {

enum class ElementStatus : uint8_t {
  Converged = 0,     // reached t_end within tolerance
  MaxSteps = 1,      // used max_steps attempts without reaching t_end: output NaN
  NonFinite = 2,     // gamma or y0 was NaN/Inf: output NaN
  StepTooSmall = 3,  // the step size no longer moved t: output NaN
};
constexpr int kElementStatuses = 4;

}  // namespace nmode
