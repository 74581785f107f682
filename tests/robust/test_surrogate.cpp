// Tests of the closed-form nmODE surrogate and of PGD/FGSM with gradients from it:
// the closed forms against a tiny-step double RK4 of the ODE (bounds derived in
// each test), their derivatives against central differences, the regime rule,
// the surrogate model's construction and refusals, and the transfer attack
// (verdicts on the real model, ε = 1 breaks everything, monotone in ε, determinism).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "nmode/attack.hpp"
#include "nmode/detail/nmode_surrogate.hpp"
#include "nmode/error.hpp"
#include "nmode/model.hpp"
#include "nmode/surrogate.hpp"
#include "support/attack_test_models.hpp"

namespace nmode {
namespace {

using detail::nmode_frozen_forcing;
using detail::nmode_steady_state;

constexpr double kPi = 3.14159265358979323846;

// The independent reference: y(t_end) of y' = -λy + sin²(y + γ), y(0) = 0, by
// classical RK4 with a fixed step h ≤ 1e-4 in double. Its error (truncation O(λ⁴h⁴t̄),
// ~1e-13 at t̄ = 10; rounding over ≤ 1e5 steps, ~1e-12) is far below every bound it
// is used for, whose allowance for it is 1e-12 beside terms of 1e-8 and more.
double rk4_nmode(double gamma, double lambda, double t_end) {
  const int64_t steps = std::max<int64_t>(100, static_cast<int64_t>(std::ceil(t_end / 1e-4)));
  const double h = t_end / static_cast<double>(steps);
  auto f = [&](double y) {
    const double s = std::sin(y + gamma);
    return -lambda * y + s * s;
  };
  double y = 0.0;
  for (int64_t i = 0; i < steps; ++i) {
    const double k1 = f(y), k2 = f(y + 0.5 * h * k1), k3 = f(y + 0.5 * h * k2), k4 = f(y + h * k3);
    y += h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
  }
  return y;
}

// γ over two periods (y is π-periodic in γ) plus points at and next to kπ, where
// sin²γ and sin 2γ vanish and the closed forms are at their flattest.
std::vector<double> gammas() {
  std::vector<double> g;
  for (int i = 0; i <= 80; ++i) g.push_back(-kPi + 2.0 * kPi * i / 80.0);
  for (int k = -2; k <= 2; ++k)
    for (double off : {0.0, 1e-9, -1e-9, 1e-6, -1e-6, 1e-3, -1e-3}) g.push_back(k * kPi + off);
  return g;
}

// The fixed point's own error: stopping when a step moves y by ≤ tol leaves it
// within tol·q/(1 − q) = tol/(λ − 1) of y* (contraction factor q ≤ 1/λ).
double steady_iteration_error(double lambda) { return detail::kSteadyTol / (lambda - 1.0); }

TEST(SurrogateClosedForm, SteadyStateMatchesTheOdeAtLargeTEnd) {
  for (double lambda : {3.0, 5.0}) {
    for (double t_end : {5.0, 10.0}) {
      for (double g : gammas()) {
        const double ref = rk4_nmode(g, lambda, t_end);
        const double ys = nmode_steady_state(g, lambda).y;
        // e = y − y* obeys e' = −λe + (sin²(y+γ) − sin²(y*+γ)) with |sin²a − sin²b| ≤ |a − b|,
        // so |e(t̄)| ≤ |e(0)|·e^{−(λ−1)t̄} = y*·e^{−(λ−1)t̄}; plus the iteration's
        // error and the reference's (1e-12 covers RK4 and rounding).
        const double bound = ys * std::exp(-(lambda - 1.0) * t_end) + steady_iteration_error(lambda) + 1e-12;
        EXPECT_LE(std::fabs(ys - ref), bound) << "lambda " << lambda << " t_end " << t_end << " gamma " << g;
        // And it solves its equation: the residual of λy = sin²(y + γ) is λ times its distance to y*.
        const double s = std::sin(ys + g);
        EXPECT_LE(std::fabs(lambda * ys - s * s), (lambda + 1.0) * steady_iteration_error(lambda) + 1e-15)
            << "gamma " << g;
      }
    }
  }
}

TEST(SurrogateClosedForm, FrozenForcingMatchesTheOdeAtSmallTEnd) {
  // λ = 3 (a model's), λ = 0.5 and 0 (asked for explicitly): the bound needs λ ≥ 0 only.
  for (double lambda : {3.0, 0.5, 0.0}) {
    for (double t_end : {0.05, 0.025}) {
      double worst = 0.0;
      for (double g : gammas()) {
        const double ref = rk4_nmode(g, lambda, t_end);
        const double yf = nmode_frozen_forcing(g, lambda, t_end).y;
        // e = y − Y obeys e' = −λe + (sin²(y+γ) − sin²γ), |·| ≤ |y| ≤ t (0 ≤ y' ≤ 1
        // while y ≥ 0, λ ≥ 0), so |e(t̄)| ≤ ∫₀^t̄ t dt = t̄²/2: the neglected O(t̄²) term.
        const double bound = t_end * t_end / 2.0 + 1e-12;
        EXPECT_LE(std::fabs(yf - ref), bound) << "lambda " << lambda << " t_end " << t_end << " gamma " << g;
        worst = std::max(worst, std::fabs(yf - ref));
      }
      // The bound is not loose by orders of magnitude: the error really is O(t̄²)
      // (measured 0.59 t̄²/2 at λ = 3, t̄ = 0.05), so the test would see an O(t̄) slip.
      EXPECT_GE(worst, 0.1 * t_end * t_end / 2.0) << "lambda " << lambda << " t_end " << t_end;
    }
  }
}

TEST(SurrogateClosedForm, SteadyDerivativeMatchesCentralDifferences) {
  const double h = 1e-3;
  for (double lambda : {1.5, 3.0, 10.0}) {
    // Central difference error: h²/6·|y'''| with |y'''| ≤ 2λ³(2λ + 8)/(λ − 1)⁵ (differentiate
    // y' = s/(λ − s), s = sin 2u, u' = λ/(λ − s) twice), plus each forward's iteration
    // error tol/(λ − 1), twice, over 2h.
    const double m3 = 2.0 * std::pow(lambda, 3) * (2.0 * lambda + 8.0) / std::pow(lambda - 1.0, 5);
    const double tol = h * h / 6.0 * m3 + steady_iteration_error(lambda) / h + 1e-12;
    for (double g : gammas()) {
      const double fd = (nmode_steady_state(g + h, lambda).y - nmode_steady_state(g - h, lambda).y) / (2.0 * h);
      EXPECT_NEAR(nmode_steady_state(g, lambda).dy, fd, tol) << "lambda " << lambda << " gamma " << g;
    }
  }
}

TEST(SurrogateClosedForm, FrozenDerivativeMatchesCentralDifferences) {
  const double h = 1e-4;
  for (double lambda : {3.0, 0.5, 0.0, -1.0}) {
    for (double t_end : {0.05, 0.3, 2.0}) {
      const double c = detail::nmode_frozen_gain(lambda, t_end);
      // y = c·sin²γ: y''' = −4c·sin 2γ, so the truncation is ≤ h²/6·4|c|; rounding of
      // y (≤ |c|) is ~1e-16|c|, over 2h.
      const double tol = h * h * 2.0 / 3.0 * std::fabs(c) + 1e-16 * std::fabs(c) / h + 1e-15;
      for (double g : gammas()) {
        const double fd =
            (nmode_frozen_forcing(g + h, lambda, t_end).y - nmode_frozen_forcing(g - h, lambda, t_end).y) / (2.0 * h);
        EXPECT_NEAR(nmode_frozen_forcing(g, lambda, t_end).dy, fd, tol) << "lambda " << lambda << " gamma " << g;
      }
    }
  }
}

TEST(SurrogateClosedForm, FrozenGainIsExactNearAndAtLambdaZero) {
  EXPECT_EQ(detail::nmode_frozen_gain(0.0, 0.7), 0.7);
  EXPECT_NEAR(detail::nmode_frozen_gain(1e-12, 0.7), 0.7, 1e-12);  // (1 − e^{−λt})/λ → t
  EXPECT_NEAR(detail::nmode_frozen_gain(3.0, 1.0), (1.0 - std::exp(-3.0)) / 3.0, 1e-16);
  EXPECT_NEAR(detail::nmode_frozen_gain(-1.0, 1.0), std::exp(1.0) - 1.0, 1e-15);
}

// The worst error over one period of γ of a regime at (λ, t̄), against RK4.
double worst_error(SurrogateRegime regime, double lambda, double t_end) {
  double worst = 0.0;
  for (int i = 0; i <= 60; ++i) {
    const double g = kPi * i / 60.0;
    const double y = regime == SurrogateRegime::SteadyState ? nmode_steady_state(g, lambda).y
                                                            : nmode_frozen_forcing(g, lambda, t_end).y;
    worst = std::max(worst, std::fabs(y - rk4_nmode(g, lambda, t_end)));
  }
  return worst;
}

TEST(SurrogateRegimeRule, PicksByLambdaTimesTEnd) {
  using R = SurrogateRegime;
  EXPECT_EQ(resolve_surrogate_regime(3.0, 1.0, R::Auto), R::SteadyState);  // the reference model, λt̄ = 3
  EXPECT_EQ(resolve_surrogate_regime(3.0, kSurrogateSteadyMinLambdaT / 3.0, R::Auto), R::SteadyState);
  EXPECT_EQ(resolve_surrogate_regime(3.0, 0.8, R::Auto), R::FrozenForcing);  // λt̄ = 2.4
  EXPECT_EQ(resolve_surrogate_regime(3.0, 0.0, R::Auto), R::FrozenForcing);
  EXPECT_EQ(resolve_surrogate_regime(3.0, 0.1, R::SteadyState), R::SteadyState);  // asked for: kept
  EXPECT_EQ(resolve_surrogate_regime(3.0, 10.0, R::FrozenForcing), R::FrozenForcing);
  EXPECT_EQ(resolve_surrogate_regime(0.5, 0.1, R::FrozenForcing), R::FrozenForcing);
  EXPECT_EQ(parse_surrogate_regime("steady"), R::SteadyState);
  EXPECT_STREQ(to_string(R::FrozenForcing), "frozen");
  EXPECT_THROW(parse_surrogate_regime("exact"), InvalidArgument);
}

TEST(SurrogateRegimeRule, TheRuleTakesTheMoreAccurateRegimeAwayFromTheThreshold) {
  // The measurement behind kSurrogateSteadyMinLambdaT, repeated at λt̄ well on each side
  // of it: the regime the rule picks has the smaller worst-case error.
  for (double lambda : {2.0, 3.0, 10.0}) {
    for (double lt : {0.5, 1.5, 4.0, 8.0}) {
      const double t_end = lt / lambda;
      const SurrogateRegime picked = resolve_surrogate_regime(lambda, t_end, SurrogateRegime::Auto);
      const SurrogateRegime other =
          picked == SurrogateRegime::SteadyState ? SurrogateRegime::FrozenForcing : SurrogateRegime::SteadyState;
      EXPECT_LT(worst_error(picked, lambda, t_end), worst_error(other, lambda, t_end))
          << "lambda " << lambda << " lambda*t_end " << lt << " picked " << to_string(picked);
    }
  }
}

TEST(SurrogateRegimeRule, RefusesLambdaAtMostOneAndBadValues) {
  for (SurrogateRegime r : {SurrogateRegime::Auto, SurrogateRegime::SteadyState}) {
    try {
      resolve_surrogate_regime(1.0, 1.0, r);
      ADD_FAILURE() << "lambda = 1 accepted for " << to_string(r);
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("needs lambda > 1"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("got lambda = 1"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(resolve_surrogate_regime(std::nan(""), 1.0, SurrogateRegime::FrozenForcing), InvalidArgument);
  EXPECT_THROW(resolve_surrogate_regime(3.0, -1.0, SurrogateRegime::Auto), InvalidArgument);
  EXPECT_THROW(NmOdeSurrogate(4, 0.5, 1.0), InvalidArgument);
  EXPECT_THROW(NmOdeSurrogate(0, 3.0, 1.0), InvalidArgument);
}

TEST(NmOdeSurrogateLayer, ForwardAndBackwardAreTheClosedFormPerElement) {
  // 33 × 200 = 6600 elements: above the layer's threshold for threads, an odd row count.
  for (const auto& [t_end, regime] : {std::pair{1.0, SurrogateRegime::SteadyState},
                                      std::pair{0.2, SurrogateRegime::FrozenForcing}}) {
    NmOdeSurrogate layer(200, 3.0, t_end);
    ASSERT_EQ(layer.regime(), regime);
    const int64_t n = 33;
    Tensor x({n, 200}), y, dy({n, 200}), dx;
    SplitMix64 g(7);
    for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(8.0 * g.next_uniform01() - 4.0);
    for (int64_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(g.next_normal());
    layer.forward(x, y, true);
    layer.backward(dy, dx, true, false);
    for (int64_t i = 0; i < x.size(); ++i) {
      const double gamma = x[i];
      const detail::SurrogateValue v = regime == SurrogateRegime::SteadyState
                                           ? nmode_steady_state(gamma, 3.0)
                                           : nmode_frozen_forcing(gamma, 3.0, t_end);
      // Each is computed in double and rounded once to float: the float of v, to one
      // float ulp (2^-23, relative) should a -march=native build contract the double math differently.
      ASSERT_NEAR(y[i], v.y, 1.2e-7 * std::fabs(v.y) + 1e-37) << i;
      ASSERT_NEAR(dx[i], dy[i] * v.dy, 2.4e-7 * std::fabs(dy[i] * v.dy) + 1e-37) << i;
    }
    // One row alone gives the same values: no dependence on the batch.
    Tensor x1({1, 200}), y1;
    std::copy(x.data() + 5 * 200, x.data() + 6 * 200, x1.data());
    layer.forward(x1, y1, false);
    for (int64_t i = 0; i < 200; ++i) ASSERT_EQ(y1[i], y[5 * 200 + i]) << i;
  }
  EXPECT_EQ(NmOdeSurrogate(8, 3.0, 1.0).describe(), "NmOdeSurrogate(8, steady, lambda=3, t_end=1)");
}

// An nmODE model 4 -> 4 -> 4 set by hand: γ_i = 1.1·x_i + 0.1, logits 20·y. On
// x ∈ [0, 1] the neuron's argument u = y + γ stays in (0, π/2), where y (real
// and surrogate) increases with γ: the class is the largest coordinate, and the
// loss has the same gradient signs everywhere in the box for both models.
std::unique_ptr<Sequential> hand_set_model(double t_end, double tol = 1e-3) {
  ModelSpec spec;
  spec.kind = "nmode";
  spec.input = spec.hidden = spec.classes = 4;
  spec.lambda = 3.0;
  spec.t_end = t_end;
  spec.rtol = spec.atol = tol;
  auto model = make_model(spec, 0);
  auto& first = dynamic_cast<Linear&>(model->layer(0));
  auto& last = dynamic_cast<Linear&>(model->layer(2));
  first.weight().fill(0.0f);
  first.bias().fill(0.1f);
  last.weight().fill(0.0f);
  last.bias().fill(0.0f);
  for (int64_t i = 0; i < 4; ++i) {
    first.weight()[i * 4 + i] = 1.1f;
    last.weight()[i * 4 + i] = 20.0f;
  }
  return model;
}

struct Data {
  int64_t n = 64, d = 4;
  std::vector<float> x;
  std::vector<int32_t> y;
};

Data clean_data(Classifier& model) {
  Data data;
  data.x = test::random_inputs(data.n, data.d, 11);
  data.y = test::predicted_labels(model, data.x, data.n);  // every point clean-correct
  return data;
}

AttackConfig surrogate_pgd(const SurrogateModel& s, double eps) {
  AttackConfig c;
  c.kind = AttackKind::PGD;
  c.eps = eps;
  c.gradient_model = s.model.get();
  c.gradient_name = s.name;
  return c;
}

// Whether the real model misclassifies row e of pts: (n, d).
bool misclassified(Classifier& model, const float* pts, int64_t e, int32_t label) {
  std::vector<float> z(static_cast<size_t>(model.num_classes()));
  model.forward(pts + e * model.input_dim(), 1, z.data(), false);
  return !is_correct(z.data(), model.num_classes(), label);
}

TEST(SurrogateModel, CopiesTheWeightsAndMatchesTheModelAtLargeTEnd) {
  const double tol = 1e-6;
  auto model = hand_set_model(10.0, tol);
  SurrogateModel s = make_surrogate_model(*model);
  EXPECT_EQ(s.name, "surrogate-steady");
  ASSERT_EQ(s.model->size(), 3u);
  EXPECT_NE(dynamic_cast<const NmOdeSurrogate*>(&s.model->layer(1)), nullptr);
  const Data data = clean_data(*model);
  std::vector<float> zr(static_cast<size_t>(data.n * 4)), zs(zr.size());
  model->forward(data.x.data(), data.n, zr.data(), false);
  s.model->forward(data.x.data(), data.n, zs.data(), false);
  // At t̄ = 10 the steady state is within e^{−20}/3 + 1e-7/2 of y(t̄). The solver keeps each
  // step's local error under rtol·|y| + atol ≤ 2·tol and the ODE contracts (rate ≥ λ − 1 = 2),
  // damping what earlier steps left: 10·tol covers its global error. Times the weight 20,
  // plus float rounding of logits ≤ 7 (1e-6).
  const double per_unit = std::exp(-20.0) / 3.0 + steady_iteration_error(3.0) + 10.0 * tol;
  for (size_t i = 0; i < zr.size(); ++i) EXPECT_NEAR(zs[i], zr[i], 20.0 * per_unit + 1e-6) << i;
  // Copied, not shared: changing the model leaves the surrogate as it was.
  dynamic_cast<Linear&>(model->layer(2)).weight().fill(0.0f);
  std::vector<float> again(zs.size());
  s.model->forward(data.x.data(), data.n, again.data(), false);
  EXPECT_EQ(again, zs);
  EXPECT_EQ(make_surrogate_model(*hand_set_model(0.5)).name, "surrogate-frozen");  // λt̄ = 1.5
}

TEST(SurrogateModel, RefusesAModelWithoutNmOdeOrWithLambdaAtMostOne) {
  ModelSpec spec;
  spec.kind = "mlp-relu";
  spec.input = 4;
  spec.hidden = 8;
  spec.classes = 3;
  try {
    make_surrogate_model(*make_model(spec, 0));
    ADD_FAILURE() << "an MLP was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("the surrogate attack needs a model with an nmODE layer; this model is: "
                                         "Linear(4 -> 8) -> ReLU(8) -> Linear(8 -> 3)"),
              std::string::npos)
        << e.what();
  }
  spec.kind = "nmode";
  spec.lambda = 0.5;
  try {
    make_surrogate_model(*make_model(spec, 0));
    ADD_FAILURE() << "lambda 0.5 was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("surrogate of layer 1 NmOde(8, lambda=0.5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("needs lambda > 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_surrogate_model(Sequential()), InvalidArgument);
}

TEST(SurrogatePgd, UnboundedRadiusBreaksEveryPointAndReachesTheCorner) {
  auto model = hand_set_model(1.0);  // the reference λ = 3, t̄ = 1: steady regime
  SurrogateModel s = make_surrogate_model(*model);
  const Data data = clean_data(*model);
  const RobustReport r = evaluate_robustness(*model, data.x.data(), data.y.data(), data.n, surrogate_pgd(s, 1.0));
  EXPECT_EQ(r.n_clean_correct, data.n);
  EXPECT_EQ(r.n_robust, 0);  // attacks.md §7 check 1: ε = 1 reaches every image
  // The loss decreases in x_y and increases in every other x_c on the whole box for
  // the surrogate too, so each of PGD's signed steps points to the worst corner
  // clip(x_y − ε), clip(x_c + ε), which 40 steps of 2.5ε/40 reach from any start.
  for (double eps : {0.05, 0.3}) {
    const AttackResult res = pgd_attack(*model, data.x.data(), data.y.data(), data.n, surrogate_pgd(s, eps));
    for (int64_t e = 0; e < data.n; ++e)
      for (int64_t i = 0; i < data.d; ++i) {
        const float x = data.x[e * data.d + i];
        const float corner = i == data.y[e] ? std::max(x - static_cast<float>(eps), 0.0f)
                                            : std::min(x + static_cast<float>(eps), 1.0f);
        ASSERT_EQ(res.x_adv[e * data.d + i], corner) << "eps " << eps << " example " << e << " coordinate " << i;
      }
  }
}

TEST(SurrogatePgd, RobustAccuracyIsMonotoneInEpsAndVerdictsAreTheModels) {
  auto model = hand_set_model(1.0);
  SurrogateModel s = make_surrogate_model(*model);
  const Data data = clean_data(*model);
  int64_t last = data.n + 1;
  for (double eps : {0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0}) {
    for (bool track : {false, true}) {
      AttackConfig c = surrogate_pgd(s, eps);
      c.track_success = track;
      const RobustReport r = evaluate_robustness(*model, data.x.data(), data.y.data(), data.n, c);
      if (!track) {
        EXPECT_LE(r.n_robust, last) << "eps " << eps;  // attacks.md §7 check 2
        last = r.n_robust;
      }
      // The attack's own verdict is the real model's: every point it calls fooled is
      // misclassified by the model, and it finds exactly what the evaluation finds.
      const AttackResult res = pgd_attack(*model, data.x.data(), data.y.data(), data.n, c);
      for (int64_t e = 0; e < data.n; ++e) {
        if (res.fooled[e]) {
          EXPECT_TRUE(misclassified(*model, res.x_adv.data(), e, data.y[e])) << e;
        }
      }
      EXPECT_EQ(res.count_fooled(), data.n - r.n_robust) << "eps " << eps << " track " << track;
    }
  }
  EXPECT_EQ(last, 0);
}

// A gradient model that lies about every verdict: its logits are the negated
// logits of `inner` (its argmax is never the model's), with the matching gradient.
class NegatedModel : public Classifier {
 public:
  explicit NegatedModel(Classifier& inner) : inner_(inner) {}
  int64_t input_dim() const override { return inner_.input_dim(); }
  int64_t num_classes() const override { return inner_.num_classes(); }
  void forward(const float* x, int64_t n, float* logits, bool need_input_grad) override {
    inner_.forward(x, n, logits, need_input_grad);
    for (int64_t i = 0; i < n * num_classes(); ++i) logits[i] = -logits[i];
    if (need_input_grad) rows_ = n;
  }
  void backward_input(const float* dlogits, float* dx) override {
    negated_.resize(static_cast<size_t>(rows_ * num_classes()));
    for (size_t i = 0; i < negated_.size(); ++i) negated_[i] = -dlogits[i];
    inner_.backward_input(negated_.data(), dx);
  }

 private:
  Classifier& inner_;
  int64_t rows_ = 0;  // of the last forward with need_input_grad
  std::vector<float> negated_;
};

TEST(SurrogatePgd, TheGradientModelsLogitsNeverJudge) {
  auto model = hand_set_model(1.0);
  SurrogateModel s = make_surrogate_model(*model);
  NegatedModel liar(*s.model);
  test::CountingModel counted(*model);
  const Data data = clean_data(*model);
  for (AttackKind kind : {AttackKind::PGD, AttackKind::FGSM}) {
    for (bool track : {false, true}) {
      AttackConfig c = surrogate_pgd(s, 0.05);
      c.kind = kind;
      c.track_success = track && kind == AttackKind::PGD;
      c.random_start = false;  // from x itself, which the model classifies right
      c.gradient_model = &liar;
      c.gradient_name = "liar";
      counted.forward_calls = counted.grad_forward_calls = 0;
      const AttackResult res = run_attack(counted, data.x.data(), data.y.data(), data.n, c);
      // Judged by the liar every point would be fooled at once; by the model, the
      // liar's gradient (which makes the true class more likely) fools none.
      EXPECT_EQ(res.count_fooled(), 0) << c.describe();
      EXPECT_EQ(counted.grad_forward_calls, 0) << c.describe();  // the model's gradients are never asked for
      const int64_t want = kind == AttackKind::FGSM ? 1 : (c.track_success ? c.resolved_steps() + 1 : 1);
      for (int64_t e = 0; e < data.n; ++e) ASSERT_EQ(res.queries[e], want) << c.describe();
    }
  }
}

TEST(SurrogatePgd, DescribeNamesTheGradientSource) {
  auto model = hand_set_model(1.0);
  SurrogateModel s = make_surrogate_model(*model);
  const AttackConfig c = surrogate_pgd(s, 0.1);
  const std::string d = c.describe();
  EXPECT_EQ(d.rfind("pgd-ce linf eps=0.1 ", 0), 0u) << d;
  EXPECT_NE(d.find(" gradients=surrogate-steady"), std::string::npos) << d;
  AttackConfig plain = c;
  plain.gradient_model = nullptr;
  plain.gradient_name.clear();
  EXPECT_EQ(plain.describe().find("gradients"), std::string::npos) << plain.describe();
  plain.gradient_model = s.model.get();
  EXPECT_NE(plain.describe().find(" gradients=gradient-model"), std::string::npos) << plain.describe();
  const Data data = clean_data(*model);
  EXPECT_EQ(evaluate_robustness(*model, data.x.data(), data.y.data(), data.n, c).attacks.at(0), d);
}

TEST(SurrogatePgd, RefusesAttacksAndModelsItDoesNotFit) {
  auto model = hand_set_model(1.0);
  SurrogateModel s = make_surrogate_model(*model);
  const Data data = clean_data(*model);
  for (AttackKind kind : {AttackKind::APGD, AttackKind::Square}) {
    AttackConfig c = surrogate_pgd(s, 0.1);
    c.kind = kind;
    try {
      c.validate();
      ADD_FAILURE() << to_string(kind) << " accepted a gradient model";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("implemented for fgsm and pgd only"), std::string::npos) << e.what();
    }
    EXPECT_THROW(run_attack(*model, data.x.data(), data.y.data(), data.n, c), InvalidArgument);
  }
  AttackConfig stray;
  stray.eps = 0.1;
  stray.gradient_name = "surrogate-steady";
  EXPECT_THROW(stray.validate(), InvalidArgument);
  // A gradient model of another shape: refused before any call.
  test::LinearModel other(3, 4, std::vector<double>(12, 0.1), std::vector<double>(4, 0.0));
  AttackConfig c = surrogate_pgd(s, 0.1);
  c.gradient_model = &other;
  try {
    pgd_attack(*model, data.x.data(), data.y.data(), data.n, c);
    ADD_FAILURE() << "a 3-input gradient model was accepted for a 4-input model";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("has 3 inputs and 4 classes, the attacked model 4 and 4"), std::string::npos)
        << e.what();
  }
}

void expect_same(const AttackResult& a, const AttackResult& b, const std::string& what) {
  EXPECT_EQ(a.x_adv, b.x_adv) << what;
  EXPECT_EQ(a.fooled, b.fooled) << what;
  EXPECT_EQ(a.queries, b.queries) << what;
  EXPECT_EQ(a.zero_grad_start, b.zero_grad_start) << what;
}

TEST(SurrogatePgd, DeterministicAcrossBatchSizeAndThreads) {
  auto model = hand_set_model(1.0);
  SurrogateModel s = make_surrogate_model(*model);
  const Data data = clean_data(*model);
  for (Norm norm : {Norm::Linf, Norm::L2}) {
    AttackConfig c = surrogate_pgd(s, norm == Norm::Linf ? 0.08 : 0.3);
    c.norm = norm;
    c.steps = 10;
    c.restarts = 2;
    c.seed = 5;
    const AttackResult ref = pgd_attack(*model, data.x.data(), data.y.data(), data.n, c);
    expect_same(ref, pgd_attack(*model, data.x.data(), data.y.data(), data.n, c), c.describe() + " again");
    AttackConfig one = c;
    one.batch = 1;
    expect_same(ref, pgd_attack(*model, data.x.data(), data.y.data(), data.n, one), c.describe() + " batch 1");
#if defined(_OPENMP)
    const int saved = omp_get_max_threads();
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      expect_same(ref, pgd_attack(*model, data.x.data(), data.y.data(), data.n, c),
                  c.describe() + " threads " + std::to_string(threads));
    }
    omp_set_num_threads(saved);
#endif
  }
}

}  // namespace
}  // namespace nmode
