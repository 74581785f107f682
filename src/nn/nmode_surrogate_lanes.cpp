// The surrogate layer's SIMD kernels, compiled once per target by Highway's
// foreach_target.h: the generic closed forms of nmode/detail/nmode_surrogate.hpp on
// blocks of Lanes<float, N> (src/simd/lanes-inl.hpp). A partial block at the end is
// padded, so every element runs through the same lane code wherever it sits.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "nn/nmode_surrogate_kernels.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "nn/nmode_surrogate_lanes.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "nmode/detail/nmode_surrogate.hpp"
#include "simd/lanes-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace nmode {
namespace HWY_NAMESPACE {
namespace {

namespace lanes = detail::HWY_NAMESPACE;

// Vectors per block: the Newton steps are one long dependent chain (sincos, a
// division) per element, so independent vectors interleave to hide its latency,
// as in the solver's blocks (src/solver/ode_cpu_lanes-inl.hpp).
constexpr int kVectors = 4;
using L = lanes::Lanes<float, kVectors>;

template <bool kSlope>
HWY_INLINE void block(const lanes::SurrogateParams<float>& q, const float* gamma, float* y, float* slope) {
  const lanes::SurrogateValue<L> v = lanes::nmode_surrogate_element<kSlope>(L::load(gamma), q);
  v.y.store(y);
  if constexpr (kSlope) v.dy.store(slope);
}

template <bool kSlope>
void surrogate_range(const lanes::SurrogateParams<float>& q, int64_t begin, int64_t end, const float* gamma, float* y,
                     float* slope) {
  const int64_t width = static_cast<int64_t>(L::size());
  int64_t i = begin;
  for (; i + width <= end; i += width) block<kSlope>(q, gamma + i, y + i, kSlope ? slope + i : nullptr);
  if (i == end) return;
  // The tail through a zero-padded block; plain copies, not masked loads (which
  // QEMU's AVX2 emulation faults on past the end of an array, see ode_cpu_lanes-inl.hpp).
  constexpr size_t kMaxWidth = kVectors * HWY_LANES(float);
  alignas(64) float g[kMaxWidth], out[kMaxWidth], ds[kMaxWidth];
  const int64_t lanes_left = end - i;
  std::fill(g, g + width, 0.0f);
  std::copy_n(gamma + i, lanes_left, g);
  block<kSlope>(q, g, out, ds);
  std::copy_n(out, lanes_left, y + i);
  if constexpr (kSlope) std::copy_n(ds, lanes_left, slope + i);
}

void nmode_surrogate(const SurrogateKernelParams& p, int64_t begin, int64_t end, const float* gamma, float* y,
                     float* slope) {
  const lanes::SurrogateParams<float> q{p.steady, p.lambda, p.gain, p.newton_steps};
  if (slope)
    surrogate_range<true>(q, begin, end, gamma, y, slope);
  else
    surrogate_range<false>(q, begin, end, gamma, y, nullptr);
}

}  // namespace

extern const SurrogateKernel kSurrogateKernel;
const SurrogateKernel kSurrogateKernel = nmode_surrogate;

}  // namespace HWY_NAMESPACE
}  // namespace nmode
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "simd/dispatch.hpp"

namespace nmode {

SurrogateKernel nmode_surrogate_kernel_for(SimdTarget target) {
  return NMODE_FOR_SIMD_TARGET(target, kSurrogateKernel, &nmode_surrogate_scalar);
}

}  // namespace nmode
#endif  // HWY_ONCE
