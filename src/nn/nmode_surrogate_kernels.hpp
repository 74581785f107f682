// The seam between NmOdeSurrogate (src/nn/layer_nmode_surrogate.cpp) and its
// elementwise kernels: the closed forms of nmode/detail/nmode_surrogate.hpp over
// [begin, end), in SIMD lanes per target (nmode_surrogate_lanes.cpp) or one element
// at a time (nmode_surrogate_kernels.cpp); every target computes the same bits.
#pragma once

#include <cstdint>

#include "nmode/simd.hpp"

namespace nmode {

struct SurrogateKernelParams {
  bool steady;       // steady state, else frozen forcing
  float lambda;      // λ > 1 for the steady state
  float gain;        // (1 − e^{−λt̄})/λ, for frozen forcing
  int newton_steps;  // detail::steady_newton_steps(λ)
};

// gamma, y, slope: (count) over the same indices; y[i] and, when slope is not
// null, slope[i] = dy/dγ for i in [begin, end).
using SurrogateKernel = void (*)(const SurrogateKernelParams& p, int64_t begin, int64_t end, const float* gamma,
                                 float* y, float* slope);

// The one-element-at-a-time kernel (SimdTarget::Scalar).
void nmode_surrogate_scalar(const SurrogateKernelParams& p, int64_t begin, int64_t end, const float* gamma, float* y,
                            float* slope);

// The kernel of a SIMD target; nmode_surrogate_scalar for SimdTarget::Scalar.
SurrogateKernel nmode_surrogate_kernel_for(SimdTarget target);

}  // namespace nmode
