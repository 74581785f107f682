// Checks each layer against independent references: Linear against naive
// double loops on awkward shapes, NmOde against the double-precision solver and
// its finite differences, ReLU/Tanh against closed forms, plus finite differences
// of every float forward, shape/order errors and the gradient accumulation rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "nmode/error.hpp"
#include "nmode/layers.hpp"
#include "nmode/ode.hpp"
#include "nmode/random.hpp"

namespace {

using nmode::Layer;
using nmode::Linear;
using nmode::NmOde;
using nmode::ReLU;
using nmode::Tanh;
using nmode::Tensor;

constexpr double kEpsF = std::numeric_limits<float>::epsilon();  // 2^-23

Tensor random_tensor(std::vector<int64_t> shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Tensor t(std::move(shape));
  nmode::SplitMix64 rng(seed);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(lo + (hi - lo) * rng.next_uniform01());
  return t;
}

// sum_i a_i * b_i in double.
double dot(const Tensor& a, const Tensor& b) {
  double s = 0.0;
  for (int64_t i = 0; i < a.size(); ++i) s += double(a[i]) * double(b[i]);
  return s;
}

// ---------------------------------------------------------------- Linear ----

struct LinearShape {
  int64_t n, in, out;
};

class LinearShapes : public ::testing::TestWithParam<LinearShape> {};

TEST_P(LinearShapes, ForwardAndBackwardMatchNaiveLoops) {
  const auto [n, in, out] = GetParam();
  Linear layer(in, out, 7);
  const Tensor x = random_tensor({n, in}, 11);
  const Tensor dy = random_tensor({n, out}, 12);
  const Tensor& W = layer.weight();
  const Tensor& b = layer.bias();
  Tensor y, dx;
  layer.forward(x, y, true);
  layer.backward(dy, dx, true);
  ASSERT_EQ(y.shape(), (std::vector<int64_t>{n, out}));
  ASSERT_EQ(dx.shape(), (std::vector<int64_t>{n, in}));

  // A float sum of K products is within (K + 2) * eps * sum|terms| of the exact
  // sum (the classic gamma_K bound, one extra eps for the bias and the product).
  auto bound = [](int64_t k, double abs_sum) { return double(k + 2) * kEpsF * abs_sum; };
  for (int64_t r = 0; r < n; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double ref = b[o], mag = std::abs(double(b[o]));
      for (int64_t i = 0; i < in; ++i) {
        ref += double(x[r * in + i]) * double(W[o * in + i]);
        mag += std::abs(double(x[r * in + i]) * double(W[o * in + i]));
      }
      ASSERT_NEAR(y[r * out + o], ref, bound(in, mag)) << "y(" << r << ", " << o << ")";
    }
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) {
      double ref = 0, mag = 0;
      for (int64_t r = 0; r < n; ++r) {
        ref += double(dy[r * out + o]) * double(x[r * in + i]);
        mag += std::abs(double(dy[r * out + o]) * double(x[r * in + i]));
      }
      ASSERT_NEAR(layer.weight_grad()[o * in + i], ref, bound(n, mag)) << "dW(" << o << ", " << i << ")";
    }
    double ref = 0, mag = 0;
    for (int64_t r = 0; r < n; ++r) {
      ref += dy[r * out + o];
      mag += std::abs(double(dy[r * out + o]));
    }
    // Summed in double and rounded once: half an ulp.
    ASSERT_NEAR(layer.bias_grad()[o], ref, 0.5 * kEpsF * mag + 1e-30) << "db(" << o << ")";
  }
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < in; ++i) {
      double ref = 0, mag = 0;
      for (int64_t o = 0; o < out; ++o) {
        ref += double(dy[r * out + o]) * double(W[o * in + i]);
        mag += std::abs(double(dy[r * out + o]) * double(W[o * in + i]));
      }
      ASSERT_NEAR(dx[r * in + i], ref, bound(out, mag)) << "dx(" << r << ", " << i << ")";
    }
}

INSTANTIATE_TEST_SUITE_P(Awkward, LinearShapes,
                         ::testing::Values(LinearShape{1, 1, 1}, LinearShape{1, 7, 33}, LinearShape{7, 33, 257},
                                           LinearShape{33, 257, 7}, LinearShape{257, 7, 33},
                                           LinearShape{257, 33, 1}, LinearShape{33, 1, 257},
                                           LinearShape{0, 7, 33}));

TEST(Linear, GradientsAccumulateAndCanBeSkipped) {
  Linear layer(33, 7, 1);
  const Tensor x = random_tensor({5, 33}, 2);
  const Tensor dy = random_tensor({5, 7}, 3);
  Tensor y, dx;
  layer.forward(x, y, true);
  layer.backward(dy, dx, false);
  const Tensor dW1 = layer.weight_grad(), db1 = layer.bias_grad();
  EXPECT_TRUE(dx.empty()) << "need_dx = false must leave dx alone";
  layer.backward(dy, dx, true);
  for (int64_t i = 0; i < dW1.size(); ++i)
    // Twice the same sum, rounded at most twice more: 4 eps relative.
    ASSERT_NEAR(layer.weight_grad()[i], 2.0 * dW1[i], 4 * kEpsF * std::abs(2.0 * dW1[i]) + 1e-30);
  for (int64_t i = 0; i < db1.size(); ++i) ASSERT_NEAR(layer.bias_grad()[i], 2.0 * db1[i], 4 * kEpsF * std::abs(db1[i]));

  // Input gradients only (what attacks ask for): the parameter grads stay put.
  const Tensor dW2 = layer.weight_grad();
  layer.backward(dy, dx, true, /*need_param_grads=*/false);
  EXPECT_EQ(layer.weight_grad().vector(), dW2.vector());
}

TEST(Linear, InitialisationIsPyTorchsKaimingUniformFromTheSeed) {
  Linear a(50, 20, 42), b(50, 20, 42), c(50, 20, 43);
  EXPECT_EQ(a.weight().vector(), b.weight().vector());
  EXPECT_EQ(a.bias().vector(), b.bias().vector());
  EXPECT_NE(a.weight().vector(), c.weight().vector());
  // Hand-derived: W row-major first, then b, each (2u - 1) / sqrt(fan_in).
  nmode::SplitMix64 rng(42);
  const double bound = 1.0 / std::sqrt(50.0);
  for (int64_t i = 0; i < a.weight().size(); ++i)
    ASSERT_EQ(a.weight()[i], static_cast<float>((2.0 * rng.next_uniform01() - 1.0) * bound));
  for (int64_t i = 0; i < a.bias().size(); ++i)
    ASSERT_EQ(a.bias()[i], static_cast<float>((2.0 * rng.next_uniform01() - 1.0) * bound));
}

TEST(Linear, ParametersAreNamedViews) {
  Linear layer(3, 2);
  const auto params = layer.parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].name, "weight");
  EXPECT_EQ(params[0].value, &layer.weight());
  EXPECT_EQ(params[0].grad, &layer.weight_grad());
  EXPECT_EQ(params[1].name, "bias");
  EXPECT_EQ(params[1].value->shape(), (std::vector<int64_t>{2}));
}

// ------------------------------------------- finite differences of floats ----

// Checks a layer's backward against central differences of its float forward,
// for the loss L = sum(dy * y) (so dL/dy = dy), over inputs and parameters.
// `tol` bounds the finite-difference error; see each caller for its derivation.
void check_against_finite_differences(Layer& layer, Tensor x, const Tensor& dy, float h, double tol) {
  Tensor y, dx;
  for (auto& p : layer.parameters()) p.grad->fill(0.0f);
  layer.forward(x, y, true);
  layer.backward(dy, dx, true);
  auto loss = [&] {
    Tensor out;
    layer.forward(x, out, false);
    return dot(out, dy);
  };
  auto fd = [&](float& v) {
    const float saved = v;
    v = saved + h;
    const double up = loss();
    v = saved - h;
    const double down = loss();
    v = saved;
    return (up - down) / (2.0 * double(h));
  };
  for (int64_t i = 0; i < x.size(); ++i) ASSERT_NEAR(dx[i], fd(x[i]), tol) << layer.describe() << " dx[" << i << "]";
  for (auto& p : layer.parameters())
    for (int64_t i = 0; i < p.value->size(); ++i)
      ASSERT_NEAR((*p.grad)[i], fd((*p.value)[i]), tol) << layer.describe() << " d" << p.name << "[" << i << "]";
}

TEST(FiniteDifferences, Linear) {
  Linear layer(5, 4, 3);
  const Tensor x = random_tensor({3, 5}, 4);
  const Tensor dy = random_tensor({3, 4}, 5);
  // Linear in every input, so the difference quotient has no truncation error;
  // what remains is rounding: each |y| <= 3 carries <= 7 eps * 3 ~ 2.5e-6, over
  // 12 outputs with |dy| <= 1 and twice (up and down), divided by 2h = 0.25.
  check_against_finite_differences(layer, x, dy, 0.125f, 2 * 12 * 2.5e-6 / 0.25);
}

TEST(FiniteDifferences, ReLUAwayFromTheKink) {
  ReLU layer(6);
  Tensor x = random_tensor({3, 6}, 6);
  for (int64_t i = 0; i < x.size(); ++i) x[i] = x[i] < 0 ? x[i] - 0.1f : x[i] + 0.1f;  // |x| > h
  const Tensor dy = random_tensor({3, 6}, 7);
  // Piecewise linear and the kink is farther than h: exact up to rounding of
  // x + h (half an ulp of |x| <= 1.1 per side, over 2h = 0.1).
  check_against_finite_differences(layer, x, dy, 0.05f, 2 * 0.5 * kEpsF * 1.1 / 0.1);
}

TEST(FiniteDifferences, Tanh) {
  Tanh layer(6);
  const Tensor x = random_tensor({3, 6}, 8, -2.0, 2.0);
  const Tensor dy = random_tensor({3, 6}, 9);
  // Truncation h^2/6 * max|tanh'''| (<= 2) plus rounding of tanh (~1 ulp of
  // |y| <= 1, twice, over 2h) and of x + h (|tanh'| <= 1).
  const double h = 1.0 / 64;
  check_against_finite_differences(layer, x, dy, float(h), h * h / 3 + 4 * kEpsF / (2 * h));
}

// ------------------------------------------------------------ activations ----

TEST(ReLU, ClosedFormsAndNaN) {
  ReLU layer(4);
  Tensor x({2, 4});
  const float in[8] = {-2.0f, -0.0f, 0.0f, 0.5f, 3.0f, -1e-30f, std::numeric_limits<float>::quiet_NaN(), 1e30f};
  for (int i = 0; i < 8; ++i) x[i] = in[i];
  Tensor y, dx;
  layer.forward(x, y, true);
  const float expect[8] = {0, 0, 0, 0.5f, 3.0f, 0, 0, 1e30f};
  for (int i = 0; i < 8; ++i) {
    if (i == 6) {
      EXPECT_TRUE(std::isnan(y[i])) << "NaN must propagate";
    } else {
      EXPECT_EQ(y[i], expect[i]) << i;
    }
  }
  Tensor dy({2, 4}, 2.5f);
  layer.backward(dy, dx, true);
  const float dexpect[8] = {0, 0, 0, 2.5f, 2.5f, 0, 0, 2.5f};  // subgradient 0 at x = 0
  for (int i = 0; i < 8; ++i) EXPECT_EQ(dx[i], dexpect[i]) << i;
}

TEST(Tanh, ClosedForms) {
  Tanh layer(257);
  const Tensor x = random_tensor({3, 257}, 10, -5.0, 5.0);
  const Tensor dy = random_tensor({3, 257}, 11);
  Tensor y, dx;
  layer.forward(x, y, true);
  layer.backward(dy, dx, true);
  for (int64_t i = 0; i < x.size(); ++i) {
    const double t = std::tanh(double(x[i]));
    // libm's tanhf is within 2 ulp; 1 - y^2 adds ~3 eps, times |dy| <= 1.
    ASSERT_NEAR(y[i], t, 2 * kEpsF * std::abs(t) + 1e-38);
    ASSERT_NEAR(dx[i], double(dy[i]) * (1 - t * t), 6 * kEpsF);
  }
}

// --------------------------------------------------------------- NmOde ----

nmode::SolverOptions options(double lambda, double t_end, double tol) {
  nmode::SolverOptions o;
  o.lambda = lambda;
  o.t_end = t_end;
  o.rtol = o.atol = tol;
  return o;
}

struct Reference {
  std::vector<double> y, s, q;
};

// The double solver at tolerance `tol`, with sensitivities.
Reference solve_double(const nmode::SolverOptions& o, const std::vector<double>& gamma) {
  Reference r;
  const size_t n = gamma.size();
  r.y.resize(n);
  r.s.resize(n);
  r.q.resize(n);
  nmode::SolveOutputs<double> out;
  out.y = r.y.data();
  out.dy_dgamma = r.s.data();
  out.dy_dlambda = r.q.data();
  const nmode::SolveStats st = nmode::solve_cpu<double>(o, int64_t(n), gamma.data(), nullptr, out);
  EXPECT_EQ(st.failed(), 0);
  return r;
}

std::vector<double> solve_value(const nmode::SolverOptions& o, const std::vector<double>& gamma) {
  std::vector<double> y(gamma.size());
  nmode::SolveOutputs<double> out;
  out.y = y.data();
  const nmode::SolveStats st = nmode::solve_cpu<double>(o, int64_t(gamma.size()), gamma.data(), nullptr, out);
  EXPECT_EQ(st.failed(), 0);
  return y;
}

// The reference itself first: the double solver's sensitivities at 1e-10 agree
// with central differences of the double solver (steps re-adapt between the
// three solves, but every solve is accurate to ~1e-10).
TEST(NmOde, DoubleReferenceSensitivitiesMatchFiniteDifferences) {
  const double h = 1e-4;
  for (double lambda : {1.5, 3.0, 10.0})
    for (double t_end : {0.5, 1.0, 3.0}) {
      const auto o = options(lambda, t_end, 1e-10);
      std::vector<double> gamma;
      for (int i = 0; i < 21; ++i) gamma.push_back(-5.0 + 0.5 * i);
      const Reference r = solve_double(o, gamma);
      std::vector<double> up(gamma), down(gamma);
      for (auto& g : up) g += h;
      for (auto& g : down) g -= h;
      const auto yu = solve_value(o, up), yd = solve_value(o, down);
      const auto ol = options(lambda + h, t_end, 1e-10), od = options(lambda - h, t_end, 1e-10);
      const auto yl = solve_value(ol, gamma), yld = solve_value(od, gamma);
      for (size_t i = 0; i < gamma.size(); ++i) {
        // Truncation h^2/6 * |y'''| (derivatives are O(1) here) ~ 2e-9, plus the
        // solver's global error (~10 * 1e-10 each solve) over 2h: 1e-5 leaves a margin of ~10.
        EXPECT_NEAR(r.s[i], (yu[i] - yd[i]) / (2 * h), 1e-5) << "lambda " << lambda << " t " << t_end;
        EXPECT_NEAR(r.q[i], (yl[i] - yld[i]) / (2 * h), 1e-5) << "lambda " << lambda << " t " << t_end;
      }
    }
}

// The layer's own job, exactly: y and s, q are the float solver's, dx = dy * s
// elementwise (one float product), dlambda = sum(dy * q) summed in double.
TEST(NmOde, BackwardIsTheSolverSensitivitiesTimesDy) {
  for (double tol : {1e-3, 1e-6}) {
    const int64_t n = 7, f = 33;
    NmOde layer(f, 3.0, 1.0, tol, tol, /*learn_lambda=*/true);
    const Tensor x = random_tensor({n, f}, 20, -4.0, 4.0);
    const Tensor dy = random_tensor({n, f}, 21);
    Tensor y, dx;
    layer.forward(x, y, true);
    layer.backward(dy, dx, true);
    std::vector<float> ys(x.size()), s(x.size()), q(x.size());
    nmode::SolveOutputs<float> out;
    out.y = ys.data();
    out.dy_dgamma = s.data();
    out.dy_dlambda = q.data();
    nmode::solve_cpu<float>(options(3.0, 1.0, tol), x.size(), x.data(), nullptr, out);
    double dlambda = 0, mag = 0;
    for (int64_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(y[i], ys[i]) << i;
      ASSERT_EQ(dx[i], dy[i] * s[i]) << i;
      dlambda += double(dy[i]) * double(q[i]);
      mag += std::abs(double(dy[i]) * double(q[i]));
    }
    // Double sums in another order (chunks), then one rounding to float.
    EXPECT_NEAR((*layer.parameters()[0].grad)[0], dlambda, 0.5 * kEpsF * std::abs(dlambda) + 1e-14 * mag);
    // Accumulates: a second backward doubles the lambda gradient (exact in float).
    const float once = (*layer.parameters()[0].grad)[0];
    layer.backward(dy, dx, false);
    EXPECT_NEAR((*layer.parameters()[0].grad)[0], 2.0 * once, 2 * kEpsF * std::abs(2.0 * once));
  }
}

// The float layer against the true derivatives (double solver at 1e-12).
TEST(NmOde, FloatLayerMatchesDoubleReference) {
  const double tol = 1e-6;
  for (double lambda : {1.5, 3.0, 10.0})
    for (double t_end : {0.5, 1.0, 3.0}) {
      SCOPED_TRACE("lambda " + std::to_string(lambda) + " t_end " + std::to_string(t_end));
      const int64_t n = 5, f = 33;
      NmOde layer(f, lambda, t_end, tol, tol, /*learn_lambda=*/true);
      const Tensor x = random_tensor({n, f}, 22, -4.0, 4.0);
      const Tensor dy = random_tensor({n, f}, 23);
      Tensor y, dx;
      layer.forward(x, y, true);
      layer.backward(dy, dx, true);
      const double steps = double(layer.last_stats().max_accepted);

      std::vector<double> gamma(x.vector().begin(), x.vector().end());
      const Reference r = solve_double(options(lambda, t_end, 1e-12), gamma);
      double dlambda = 0, dlambda_bound = 0;
      int64_t checked = 0;
      for (int64_t i = 0; i < x.size(); ++i) {
        // lambda > 1 makes the flow contracting, so local errors (each <= tol
        // scaled) add up at most: steps * tol for y. Float rounding: ~2e-7 per
        // step, and gamma's own rounding (|dy/dgamma| <= 1) ~ 4 * eps.
        const double y_bound = steps * (tol + tol * std::abs(r.y[i])) + steps * 2e-7 + 4 * kEpsF;
        ASSERT_NEAR(y[i], r.y[i], y_bound) << i;
        // The sensitivities ride on y's steps without their own error control,
        // with a forcing (sin 2u) as large as y's (sin^2 u): twice y's bound. This
        // holds only where y is not tiny: near gamma = k*pi, y ~ 0 is far below
        // atol and the steps grow too long for s (measured: s off by up to 1e-3
        // at |y| < 1e-4, lambda = 10), so those elements are skipped here.
        if (std::abs(r.y[i]) < 1e-2) continue;
        ++checked;
        ASSERT_NEAR(dx[i], double(dy[i]) * r.s[i], std::abs(double(dy[i])) * 2 * y_bound) << i;
        dlambda += double(dy[i]) * r.q[i];
        dlambda_bound += std::abs(double(dy[i])) * 2 * y_bound;
      }
      EXPECT_GT(checked, x.size() / 2);
      // The layer's dlambda with the skipped elements' terms removed (exact s, q
      // are needed for them, so recompute those terms from the float solver).
      std::vector<float> qf(x.size()), yf(x.size());
      nmode::SolveOutputs<float> out;
      out.y = yf.data();
      out.dy_dlambda = qf.data();
      nmode::solve_cpu<float>(options(lambda, t_end, tol), x.size(), x.data(), nullptr, out);
      double skipped = 0;
      for (int64_t i = 0; i < x.size(); ++i)
        if (std::abs(r.y[i]) < 1e-2) skipped += double(dy[i]) * double(qf[i]);
      // Plus float rounding of the final sum (~eps * sum|dy q|, with |q| <= 1).
      EXPECT_NEAR((*layer.parameters()[0].grad)[0] - skipped, dlambda, dlambda_bound + kEpsF * double(x.size()));
    }
}

TEST(NmOde, InferenceForwardIsBitwiseTheTrainingForward) {
  NmOde layer(257, 3.0, 1.0, 1e-3, 1e-3);
  const Tensor x = random_tensor({3, 257}, 30, -10.0, 10.0);
  Tensor a, b;
  layer.forward(x, a, true);
  layer.forward(x, b, false);
  EXPECT_EQ(a.vector(), b.vector());
  EXPECT_EQ(layer.last_stats().elements, 3 * 257);
  EXPECT_EQ(layer.last_stats().failed(), 0);
}

TEST(NmOde, LambdaIsAParameterOnlyWhenLearnable) {
  NmOde fixed(4, 3.0, 1.0, 1e-3, 1e-3, false);
  EXPECT_TRUE(fixed.parameters().empty());
  NmOde learn(4, 2.5, 1.0, 1e-3, 1e-3, true);
  const auto params = learn.parameters();
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].name, "lambda");
  EXPECT_EQ(params[0].value->shape(), (std::vector<int64_t>{1}));
  EXPECT_EQ((*params[0].value)[0], 2.5f);
  (*params[0].value)[0] = 4.0f;  // an optimizer step moves lambda
  EXPECT_EQ(learn.lambda(), 4.0);
  EXPECT_EQ(learn.solver_options().lambda, 4.0);
  // The moved lambda is the one the solver uses: compare with a fixed layer.
  NmOde moved(4, 4.0, 1.0, 1e-3, 1e-3, false);
  const Tensor x = random_tensor({2, 4}, 31);
  Tensor a, b;
  learn.forward(x, a, false);
  moved.forward(x, b, false);
  EXPECT_EQ(a.vector(), b.vector());
}

TEST(NmOde, SolverFailureThrowsWithCounts) {
  NmOde layer(3, 3.0, 1.0, 1e-3, 1e-3);
  Tensor x({2, 3}, 0.5f);
  x[4] = std::numeric_limits<float>::quiet_NaN();
  Tensor y, dx;
  try {
    layer.forward(x, y, true);
    FAIL() << "expected nmode::Error";
  } catch (const nmode::InvalidArgument&) {
    FAIL() << "a solver failure is a runtime error, not a usage error";
  } catch (const nmode::Error& e) {
    EXPECT_NE(std::string(e.what()).find("failed on 1 of 6 elements"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << e.what();
  }
  EXPECT_EQ(layer.last_stats().non_finite, 1);
  // The failed training forward left nothing to differentiate.
  EXPECT_THROW(layer.backward(Tensor({2, 3}), dx, true), nmode::InvalidArgument);

  nmode::SolverOptions o = options(3.0, 1.0, 1e-3);
  o.max_steps = 1;
  NmOde starved(3, o);
  Tensor ok({2, 3}, 0.5f);
  try {
    starved.forward(ok, y, false);
    FAIL() << "expected nmode::Error";
  } catch (const nmode::Error& e) {
    EXPECT_NE(std::string(e.what()).find("max_steps = 1"), std::string::npos) << e.what();
  }
}

TEST(NmOde, InvalidOptionsThrowAtConstruction) {
  EXPECT_THROW(NmOde(0, 3.0, 1.0, 1e-3, 1e-3), nmode::InvalidArgument);
  EXPECT_THROW(NmOde(4, 3.0, -1.0, 1e-3, 1e-3), nmode::InvalidArgument);
  EXPECT_THROW(NmOde(4, 3.0, 1.0, 0.0, 1e-3), nmode::InvalidArgument);
  EXPECT_THROW(NmOde(4, std::nan(""), 1.0, 1e-3, 1e-3), nmode::InvalidArgument);
}

// ------------------------------------------------------- shape and order ----

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const nmode::InvalidArgument& e) {
    return e.what();
  }
  return "(no InvalidArgument thrown)";
}

TEST(Shapes, ErrorsNameBothSizes) {
  Linear layer(784, 2048);
  Tensor y, dx;
  EXPECT_EQ(message_of([&] { layer.forward(Tensor({3, 100}), y, false); }),
            "Linear(784 -> 2048): input has 100 features, expected 784");
  EXPECT_NE(message_of([&] { layer.forward(Tensor({784}), y, false); }).find("(784)"), std::string::npos);
  EXPECT_NE(message_of([&] { layer.backward(Tensor({3, 2048}), dx, true); }).find("forward with training = true"),
            std::string::npos);
  layer.forward(Tensor({3, 784}), y, true);
  const std::string m = message_of([&] { layer.backward(Tensor({4, 2048}), dx, true); });
  EXPECT_NE(m.find("(4, 2048)"), std::string::npos) << m;
  EXPECT_NE(m.find("(3, 2048)"), std::string::npos) << m;
  Tensor same({3, 784});
  EXPECT_THROW(layer.forward(same, same, false), nmode::InvalidArgument);

  ReLU relu(5);
  EXPECT_EQ(message_of([&] { relu.forward(Tensor({2, 6}), y, false); }), "ReLU(5): input has 6 features, expected 5");
  NmOde ode(5, 3.0, 1.0, 1e-3, 1e-3);
  EXPECT_NE(message_of([&] { ode.forward(Tensor({2, 4}), y, false); }).find("input has 4 features, expected 5"),
            std::string::npos);
  EXPECT_THROW(Linear(0, 3), nmode::InvalidArgument);
  EXPECT_THROW(Tanh(-1), nmode::InvalidArgument);
}

TEST(Shapes, InferenceForwardKeepsTheTrainingState) {
  // Evaluating between a training forward and its backward must not change the gradient.
  Tanh layer(3);
  const Tensor x = random_tensor({2, 3}, 40);
  const Tensor other = random_tensor({5, 3}, 41);
  const Tensor dy = random_tensor({2, 3}, 42);
  Tensor y, dx1, dx2;
  layer.forward(x, y, true);
  layer.backward(dy, dx1, true);
  layer.forward(other, y, false);
  layer.backward(dy, dx2, true);
  EXPECT_EQ(dx1.vector(), dx2.vector());
}

}  // namespace
