// A small seeded generator (SplitMix64) whose streams are identical on every
// platform, unlike std::shuffle and std:: distributions, whose results are
// implementation-defined. Used for shuffles, splits and weight initialisation.
#pragma once

#include <cstdint>

#include "nmode/detail/counter_rng.hpp"

namespace nmode {

struct SplitMix64 {
  uint64_t state;

  explicit SplitMix64(uint64_t seed) : state(seed) {}

  // Vigna's splitmix64.c (https://prng.di.unimi.it/splitmix64.c); draw i of a
  // stream is also detail::splitmix64_at(initial state, i).
  uint64_t next_u64() { return detail::splitmix64_next(state); }

  // Uniform in [0, bound) without modulo bias; 0 when bound is 0.
  uint64_t next_below(uint64_t bound) { return detail::splitmix64_below(state, bound); }

  // Uniform in [0, 1): the top 53 bits scaled by 2^-53, so every value is exact.
  double next_uniform01() { return detail::uniform01_from_bits(next_u64()); }

  // Standard normal by Box–Muller (cosine branch only, so each call consumes
  // exactly two draws). Bit-identical wherever std::log/std::cos are.
  double next_normal() {
    const double u1 = next_uniform01();  // sequenced: u1 is the first draw
    return detail::box_muller(u1, next_uniform01());
  }
};

// A seed for an independent stream (e.g. one per epoch) derived from a base seed.
inline uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  SplitMix64 g(seed ^ (stream * 0xd1b54a32d192ed03ULL));
  return g.next_u64();
}

}  // namespace nmode
