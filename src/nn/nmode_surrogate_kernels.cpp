// The surrogate layer's scalar kernel: the generic closed forms of
// nmode/detail/nmode_surrogate.hpp with plain floats, one element at a time, for
// SimdTarget::Scalar. Built without fused multiply-adds, like the SIMD kernels, so
// both give the same bits (CMakeLists.txt).
#include <cstdint>

#include "nmode/detail/nmode_surrogate.hpp"
#include "nn/nmode_surrogate_kernels.hpp"

namespace nmode {

void nmode_surrogate_scalar(const SurrogateKernelParams& p, int64_t begin, int64_t end, const float* gamma, float* y,
                            float* slope) {
  const detail::SurrogateParams<float> q{p.steady, p.lambda, p.gain, p.newton_steps};
  if (slope) {
    for (int64_t i = begin; i < end; ++i) {
      const detail::SurrogateValue<float> v = detail::nmode_surrogate_element<true>(gamma[i], q);
      y[i] = v.y;
      slope[i] = v.dy;
    }
  } else {
    for (int64_t i = begin; i < end; ++i) y[i] = detail::nmode_surrogate_element<false>(gamma[i], q).y;
  }
}

}  // namespace nmode
