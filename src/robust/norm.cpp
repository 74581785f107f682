#include "nmode/norm.hpp"

#include "nmode/error.hpp"

namespace nmode {

const char* to_string(Norm norm) { return norm == Norm::Linf ? "linf" : "l2"; }

Norm parse_norm(const std::string& name) {
  if (name == "linf") return Norm::Linf;
  if (name == "l2") return Norm::L2;
  throw InvalidArgument("norm must be linf or l2, got '" + name + "'");
}

}  // namespace nmode
