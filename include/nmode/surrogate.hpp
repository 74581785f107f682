// A closed-form surrogate of the nmODE layer and of a model built on it: the
// same Linear weights, each NmOde replaced by its steady state or its frozen-
// forcing solution. It is a source of input gradients for a transfer attack
// (AttackConfig::gradient_model), never a model whose verdicts count.
//
// Regime rule (SurrogateRegime::Auto), for an NmOde with λ and t̄:
//   λ > 1 and λ·t̄ ≥ 2.5  -> SteadyState   (y* of λy* = sin²(y* + γ))
//   λ > 1 and λ·t̄ < 2.5  -> FrozenForcing (y = (1 − e^{−λt̄})/λ · sin²γ)
//   λ ≤ 1                -> refused (no contracting steady state; see below)
// Measured against a tiny-step (h ≤ 1e-3) double RK4 of y and dy/dγ, worst case
// over γ in one period [0, π] (y is π-periodic in γ), written |Δy|, |Δ dy/dγ|; the
// same to two digits for the float layer (its own error is below 2e-5, see below):
//   λ     λt̄    steady            frozen
//   1.5   2.5   2.1e-1  1.0e+0    2.2e-1  5.6e-1
//   2     2.5   1.0e-1  3.3e-1    1.2e-1  3.3e-1
//   3     2.5   4.5e-2  1.0e-1    5.4e-2  1.5e-1
//   5     2.5   2.1e-2  3.6e-2    1.9e-2  5.6e-2
//   10    2.5   8.8e-3  1.2e-2    4.7e-3  1.4e-2
//   3     3     3.1e-2  7.6e-2    6.1e-2  1.7e-1   (the reference model: λ = 3, t̄ = 1)
//   3     10    2.4e-4  9.0e-4    8.2e-2  2.1e-1
//   3     0.3   2.6e-1  4.1e-1    2.7e-3  8.2e-3   (t̄ = 0.1)
// The regimes' errors cross (for y and for dy/dγ) between λt̄ = 2.1 and 3.5 for
// λ in [1.5, 10] (3.95 at λ = 30), hence the threshold 2.5. Bounds behind the
// tests: steady |y(t̄) − y*| ≤ e^{−(λ−1)t̄}/λ (|sin²a − sin²b| ≤ |a − b|, y* ≤ 1/λ);
// frozen |Δy| ≤ t̄²/2 for λ ≥ 0 (nmode/detail/nmode_surrogate.hpp).
// λ ≤ 1: y ↦ sin²(y + γ)/λ is no contraction and F' = λ − sin 2u can vanish (y*
// need not be unique), and the frozen forcing's neglected term is not damped
// (measured |Δy| 0.17-0.58 at t̄ = 1 for λ in [-1, 1]), so Auto refuses;
// FrozenForcing can still be asked for.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nmode/layers.hpp"
#include "nmode/model.hpp"

namespace nmode {

enum class SurrogateRegime { Auto, SteadyState, FrozenForcing };

// λ·t̄ from which Auto takes the steady state (see the table above).
constexpr double kSurrogateSteadyMinLambdaT = 2.5;

const char* to_string(SurrogateRegime regime);  // "auto", "steady", "frozen"
SurrogateRegime parse_surrogate_regime(const std::string& name);  // InvalidArgument naming the choices

// The regime a surrogate of an NmOde with lambda and t_end uses: `requested`
// unless it is Auto, then the rule above. InvalidArgument (naming λ, t̄ and the
// way out) for SteadyState or Auto with λ ≤ 1, and for a non-finite λ or t̄ < 0.
SurrogateRegime resolve_surrogate_regime(double lambda, double t_end, SurrogateRegime requested);

// The surrogate neuron layer: y_i = the regime's closed form at γ = x_i, computed
// per element in float by the active SIMD target (γ reduced modulo π in double,
// the solver's fast sincos, a fixed number of Newton steps for the steady state),
// so independent of the batch and the thread count, and the same bits on every
// target. Within 1.10e-6 of the exact closed form in y and 1.84e-5 in dy/dγ at
// λ = 1.5, 2.86e-7 and 1.03e-6 at λ = 3 (bounds derived in tests/robust/
// test_surrogate.cpp; measured worst cases 1.9e-7, 1.1e-6, 5.5e-8, 1.4e-7), far
// below the regimes' own errors above. A training forward keeps dy/dγ; backward is
// dx = dy · dy/dγ. No parameters (λ is fixed: attacks need no parameter gradients).
class NmOdeSurrogate final : public ElementwiseLayer {
 public:
  // regime: Auto resolves by resolve_surrogate_regime; InvalidArgument as it does.
  NmOdeSurrogate(int64_t features, double lambda, double t_end, SurrogateRegime regime = SurrogateRegime::Auto);

  double lambda() const { return lambda_; }
  double t_end() const { return t_end_; }
  SurrogateRegime regime() const { return regime_; }  // never Auto
  std::string describe() const override;  // "NmOdeSurrogate(2048, steady, lambda=3, t_end=1)"

 private:
  void forward_impl(const Tensor& x, Tensor& y, bool training) override;
  void backward_impl(const Tensor& dy, Tensor& dx, bool need_dx, bool need_param_grads) override;

  double lambda_, t_end_;
  SurrogateRegime regime_;
};

struct SurrogateModel {
  std::unique_ptr<Sequential> model;
  // "surrogate-steady", "surrogate-frozen" (or "surrogate-frozen+steady" when
  // the nmODE layers differ): what AttackConfig::gradient_name should say.
  std::string name;
};

// A copy of `model` with every NmOde replaced by an NmOdeSurrogate of its current
// λ and its t̄; Linear, ReLU and Tanh layers are copied with their weights, so the
// surrogate shares no state with the model and can run beside it (e.g. the model
// on the GPU). InvalidArgument when the model has no NmOde layer ("the surrogate
// attack needs a model with an nmODE layer; this model is: ..."), has a layer of
// another kind, or an NmOde whose λ, t̄ the regime rule refuses.
SurrogateModel make_surrogate_model(const Sequential& model, SurrogateRegime regime = SurrogateRegime::Auto);

}  // namespace nmode
