// The message an nmODE layer throws when its solve failed on some elements, the
// same whether the CPU layer or its GPU form (kernels/nn/device_nmode.cu) ran it.
#pragma once

#include <string>

#include "nmode/ode.hpp"

namespace nmode {

// `layer` names where it failed ("NmOde(2048, ...)", "... on the GPU"); the
// message counts each kind of failure and says what to try.
std::string nmode_failure_message(const std::string& layer, const SolveStats& stats, const SolverOptions& options);

}  // namespace nmode
