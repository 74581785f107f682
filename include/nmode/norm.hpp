// The norm of an input perturbation, shared by the attacks' threat models and the
// certificates.
#pragma once

#include <string>

namespace nmode {

enum class Norm { Linf, L2 };

const char* to_string(Norm norm);         // "linf", "l2"
Norm parse_norm(const std::string& name);  // "linf" | "l2"; InvalidArgument otherwise

}  // namespace nmode
