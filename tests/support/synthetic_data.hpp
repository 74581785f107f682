// A small labelled dataset of uniform random features for training tests that
// need no real images: labels cycle through the classes (i % classes).
#pragma once

#include <cstdint>
#include <string>

#include "nmode/dataset.hpp"
#include "nmode/random.hpp"

namespace nmode::test {

inline Dataset synthetic_dataset(int64_t n, int64_t features, int64_t classes, uint64_t seed) {
  Dataset d;
  d.name = "synthetic";
  d.rows = 1;
  d.cols = features;
  d.classes = classes;
  d.images = Tensor({n, features});
  SplitMix64 rng(seed);
  for (float& v : d.images.vector()) v = static_cast<float>(rng.next_uniform01());
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int32_t>(i % classes));
  return d;
}

}  // namespace nmode::test
