// Enumerations with their names in one table, from which both to_string and the
// parse_* functions read, so the two never disagree.
#pragma once

#include <cstddef>
#include <string>

#include "nmode/error.hpp"

namespace nmode {

template <class E>
struct Named {
  E value;
  const char* name;
};

template <class E, size_t N>
const char* name_in(const Named<E> (&table)[N], E value) {
  for (const Named<E>& n : table)
    if (n.value == value) return n.name;
  return "unknown";
}

// The value named `name`, or InvalidArgument "<what> must be one of a, b, c; got 'x'".
template <class E, size_t N>
E parse_name_in(const Named<E> (&table)[N], const std::string& name, const char* what) {
  std::string choices;
  for (const Named<E>& n : table) {
    if (name == n.name) return n.value;
    choices += (choices.empty() ? "" : ", ") + std::string(n.name);
  }
  throw InvalidArgument(std::string(what) + " must be one of " + choices + "; got '" + name + "'");
}

}  // namespace nmode
