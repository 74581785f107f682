#include "nmode/norm.hpp"

#include "core/names.hpp"


namespace nmode {

namespace {
constexpr Named<Norm> kNorms[] = {{Norm::Linf, "linf"}, {Norm::L2, "l2"}};
}  // namespace

const char* to_string(Norm norm) { return name_in(kNorms, norm); }

Norm parse_norm(const std::string& name) { return parse_name_in(kNorms, name, "norm"); }

}  // namespace nmode
