// NmOdeSurrogate: the nmODE neuron layer replaced by a closed form (steady state
// or frozen forcing, nmode/detail/nmode_surrogate.hpp, run by the active SIMD
// target's kernel), and the regime rule that picks one from λ and t̄ (documented
// with its measurements in nmode/surrogate.hpp).
#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "core/names.hpp"
#include "nmode/detail/nmode_surrogate.hpp"
#include "nmode/error.hpp"
#include "nmode/simd.hpp"
#include "nmode/surrogate.hpp"
#include "nn/nmode_surrogate_kernels.hpp"

namespace nmode {
namespace {

// The steady state costs a few sincos per element (steady_newton_steps(λ) + 1):
// threads pay off sooner than for the one-instruction activations (1 << 15).
// Each thread takes whole chunks; where a chunk ends changes no value, since
// every element goes through the same lane code (nn/nmode_surrogate_lanes.cpp).
constexpr int64_t kParallelMin = 1 << 13;
constexpr int64_t kChunk = 1 << 12;

constexpr Named<SurrogateRegime> kRegimes[] = {{SurrogateRegime::Auto, "auto"},
                                               {SurrogateRegime::SteadyState, "steady"},
                                               {SurrogateRegime::FrozenForcing, "frozen"}};

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

const char* to_string(SurrogateRegime regime) { return name_in(kRegimes, regime); }
SurrogateRegime parse_surrogate_regime(const std::string& name) {
  return parse_name_in(kRegimes, name, "surrogate regime");
}

SurrogateRegime resolve_surrogate_regime(double lambda, double t_end, SurrogateRegime requested) {
  if (!std::isfinite(lambda)) throw InvalidArgument("nmODE surrogate: lambda must be finite, got " + num(lambda));
  if (!(std::isfinite(t_end) && t_end >= 0.0))
    throw InvalidArgument("nmODE surrogate: t_end must be a finite number >= 0, got " + num(t_end));
  if (requested == SurrogateRegime::FrozenForcing) return requested;
  if (lambda <= 1.0) {
    const std::string why = requested == SurrogateRegime::SteadyState
                                ? "the steady-state surrogate needs lambda > 1"
                                : "the nmODE surrogate needs lambda > 1";
    throw InvalidArgument(why + " (then y <- sin^2(y + gamma)/lambda is a contraction), got lambda = " + num(lambda) +
                          " with t_end = " + num(t_end) +
                          "; attack this model with pgd or apgd, or ask for the frozen-forcing surrogate (--surrogate frozen)");
  }
  if (requested == SurrogateRegime::SteadyState) return requested;
  return lambda * t_end >= kSurrogateSteadyMinLambdaT ? SurrogateRegime::SteadyState
                                                      : SurrogateRegime::FrozenForcing;
}

NmOdeSurrogate::NmOdeSurrogate(int64_t features, double lambda, double t_end, SurrogateRegime regime)
    : ElementwiseLayer("NmOdeSurrogate", features), lambda_(lambda), t_end_(t_end),
      regime_(resolve_surrogate_regime(lambda, t_end, regime)) {}

std::string NmOdeSurrogate::describe() const {
  std::ostringstream s;
  s << "NmOdeSurrogate(" << features_ << ", " << to_string(regime_) << ", lambda=" << lambda_ << ", t_end=" << t_end_
    << ")";
  return s.str();
}

// x: (n, features) = gamma -> y: (n, features); kept_: (n, features) = dy/dgamma.
void NmOdeSurrogate::forward_impl(const Tensor& x, Tensor& y, bool training) {
  const int64_t count = x.size();
  if (training) resize_matrix(kept_, x.dim(0), features_);
  const float* g = x.data();
  float* out = y.data();
  float* slope = training ? kept_.data() : nullptr;
  const bool steady = regime_ == SurrogateRegime::SteadyState;
  // λ and the gain rounded to float once: the kernels compute in float, which is
  // ample for an attack's gradients (the error bounds are in test_surrogate.cpp).
  const SurrogateKernelParams p{steady, static_cast<float>(lambda_),
                                static_cast<float>(detail::nmode_frozen_gain(lambda_, t_end_)),
                                steady ? detail::steady_newton_steps(lambda_) : 0};
  const SurrogateKernel kernel = nmode_surrogate_kernel_for(active_simd_target());
  const int64_t chunks = (count + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (count >= kParallelMin)
  for (int64_t c = 0; c < chunks; ++c) kernel(p, c * kChunk, std::min(count, (c + 1) * kChunk), g, out, slope);
}

// dy, dx: (n, features): dx = dy * dy/dgamma of the last training forward.
void NmOdeSurrogate::backward_impl(const Tensor& dy, Tensor& dx, bool need_dx, bool) {
  if (!need_dx) return;
  const int64_t count = dy.size();
  const float* g = dy.data();
  const float* s = kept_.data();
  float* d = dx.data();
#pragma omp parallel for simd schedule(static) if (count >= (1 << 15))
  for (int64_t i = 0; i < count; ++i) d[i] = g[i] * s[i];
}

}  // namespace nmode
