// The reference model's kinds at the sizes tests can afford: a spec with its
// widths set and every other field at its default.
#pragma once

#include <cstdint>

#include "nmode/model.hpp"

namespace nmode::test {

inline ModelSpec sized_spec(int64_t input, int64_t hidden, int64_t classes) {
  ModelSpec spec;
  spec.input = input;
  spec.hidden = hidden;
  spec.classes = classes;
  return spec;
}

}  // namespace nmode::test
