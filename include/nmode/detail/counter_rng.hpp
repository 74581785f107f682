// SplitMix64 read by position: draw i of a stream is a pure function of the
// stream's state and i, so a GPU thread can compute the draws of its own element
// while the CPU walks the same stream in order (SplitMix64, nmode/random.hpp) and
// gets the same numbers, bit for bit.
#pragma once

#include <math.h>

#include <cstdint>

#include "nmode/detail/hd.hpp"

namespace nmode::detail {

constexpr uint64_t kSplitMixIncrement = 0x9e3779b97f4a7c15ULL;

// Vigna's splitmix64.c output function (https://prng.di.unimi.it/splitmix64.c).
NMODE_HD inline uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Draw i (from 0) of the stream that starts at `state`: the (i + 1)-th
// SplitMix64::next_u64 (the state only ever grows by the increment, mod 2^64).
NMODE_HD inline uint64_t splitmix64_at(uint64_t state, uint64_t i) {
  return splitmix64_mix(state + (i + 1) * kSplitMixIncrement);
}

// The stream walked in order (SplitMix64::next_u64): advances state by one draw.
NMODE_HD inline uint64_t splitmix64_next(uint64_t& state) { return splitmix64_mix(state += kSplitMixIncrement); }

// Uniform in [0, bound) without modulo bias (SplitMix64::next_below): rejects the
// low values that would make some residues more likely, so it spends a varying
// number of draws, except for a power of two (never a rejection: draw i of a
// stream of next_below(2) is splitmix64_at(state, i) % 2). 0 when bound is 0.
NMODE_HD inline uint64_t splitmix64_below(uint64_t& state, uint64_t bound) {
  if (bound == 0) return 0;
  const uint64_t threshold = (0 - bound) % bound;  // = 2^64 mod bound
  for (;;) {
    const uint64_t r = splitmix64_next(state);
    if (r >= threshold) return r % bound;
  }
}

// Uniform in [0, 1): the top 53 bits scaled by 2^-53, so every value is exact.
NMODE_HD inline double uniform01_from_bits(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

NMODE_HD inline double uniform01_at(uint64_t state, uint64_t i) { return uniform01_from_bits(splitmix64_at(state, i)); }

// Box–Muller, cosine branch, from two uniforms in [0, 1): u1 is flipped to (0, 1]
// so the logarithm is finite.
NMODE_HD inline double box_muller(double u1, double u2) {
  return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586476925 * u2);
}

// The i-th standard normal of a stream that spends two draws on each (2i, 2i + 1),
// as SplitMix64::next_normal does.
NMODE_HD inline double normal_at(uint64_t state, uint64_t i) {
  return box_muller(uniform01_at(state, 2 * i), uniform01_at(state, 2 * i + 1));
}

}  // namespace nmode::detail
