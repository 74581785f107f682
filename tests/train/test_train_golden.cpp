// End-to-end golden test: five Adam steps of a tiny nmODE classifier (6 -> 5
// neurons -> 3, learnable lambda, batch 8, fixed seed) against a double
// precision re-implementation written here from the equations: its own forward,
// backward, fixed-step RK4 for the neuron and its sensitivities, and its own Adam.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "nmode/loss.hpp"
#include "nmode/model.hpp"
#include "nmode/ode.hpp"
#include "nmode/optim.hpp"
#include "nmode/random.hpp"

namespace {

constexpr int64_t kIn = 6, kHidden = 5, kClasses = 3, kBatch = 8;
constexpr int kSteps = 5;
constexpr double kTol = 1e-6;  // the float model's rtol = atol
constexpr double kEpsF = std::numeric_limits<float>::epsilon();

using Vec = std::vector<double>;

// y' = -lambda y + sin^2(y + g) with s = dy/dg and q = dy/dlambda carried along,
// y(0) = s(0) = q(0) = 0, by classical RK4 with 4000 fixed steps: error ~h^4 ~ 1e-14.
struct Neuron {
  double y, s, q;
};
Neuron integrate(double g, double lambda, double t_end) {
  const int steps = 4000;
  const double h = t_end / steps;
  auto f = [&](const Neuron& v) {
    const double u = v.y + g, sin2u = std::sin(2 * u), sq = std::sin(u) * std::sin(u);
    return Neuron{-lambda * v.y + sq, (-lambda + sin2u) * v.s + sin2u, -v.y + (-lambda + sin2u) * v.q};
  };
  auto axpy = [](const Neuron& a, double c, const Neuron& b) { return Neuron{a.y + c * b.y, a.s + c * b.s, a.q + c * b.q}; };
  Neuron v{0, 0, 0};
  for (int i = 0; i < steps; ++i) {
    const Neuron k1 = f(v), k2 = f(axpy(v, h / 2, k1)), k3 = f(axpy(v, h / 2, k2)), k4 = f(axpy(v, h, k3));
    v.y += h / 6 * (k1.y + 2 * k2.y + 2 * k3.y + k4.y);
    v.s += h / 6 * (k1.s + 2 * k2.s + 2 * k3.s + k4.s);
    v.q += h / 6 * (k1.q + 2 * k2.q + 2 * k3.q + k4.q);
  }
  return v;
}

// What the float model's neurons must be compared with at one step: the exact
// (RK4) outputs and sensitivities, and how far the float solver is from them.
struct Hidden {
  std::vector<Neuron> exact;  // (batch * hidden)
  double float_error = 0;     // max |float - exact| over y, s, q
  int64_t steps = 0;          // most accepted steps of the float solver
};

// The parameters in the model's order: 0.weight, 0.bias, 1.lambda, 2.weight, 2.bias.
// Loss and gradients (same layout) of the double model; also measures the float
// solver on the same inputs against the RK4 reference.
double loss_and_grad(const std::vector<Vec>& p, const Vec& x, const std::vector<int32_t>& labels,
                     const nmode::SolverOptions& float_solver, std::vector<Vec>& grad, Hidden& hidden) {
  const Vec &W1 = p[0], &b1 = p[1], &W2 = p[3], &b2 = p[4];
  const double lambda = p[2][0];
  grad = {Vec(W1.size()), Vec(b1.size()), Vec(1), Vec(W2.size()), Vec(b2.size())};
  std::vector<float> gamma(kBatch * kHidden);
  hidden.exact.resize(gamma.size());
  for (int64_t r = 0; r < kBatch; ++r)
    for (int64_t j = 0; j < kHidden; ++j) {
      double g = b1[j];
      for (int64_t i = 0; i < kIn; ++i) g += W1[j * kIn + i] * x[r * kIn + i];
      gamma[r * kHidden + j] = static_cast<float>(g);
      hidden.exact[r * kHidden + j] = integrate(g, lambda, float_solver.t_end);
    }
  // The float solver on the float-rounded inputs: its error includes the input
  // rounding (|dy/dgamma| <= 1), as the model's does.
  std::vector<float> yf(gamma.size()), sf(gamma.size()), qf(gamma.size());
  nmode::SolveOutputs<float> out;
  out.y = yf.data();
  out.dy_dgamma = sf.data();
  out.dy_dlambda = qf.data();
  nmode::SolverOptions o = float_solver;
  o.lambda = static_cast<float>(lambda);
  hidden.steps = nmode::solve_cpu<float>(o, int64_t(gamma.size()), gamma.data(), nullptr, out).max_accepted;
  hidden.float_error = 0;
  for (size_t k = 0; k < gamma.size(); ++k)
    hidden.float_error = std::max({hidden.float_error, std::abs(yf[k] - hidden.exact[k].y),
                                   std::abs(sf[k] - hidden.exact[k].s), std::abs(qf[k] - hidden.exact[k].q)});

  double loss = 0;
  for (int64_t r = 0; r < kBatch; ++r) {
    const Neuron* nrn = hidden.exact.data() + r * kHidden;
    double z[kClasses], m = -1e300;
    for (int64_t c = 0; c < kClasses; ++c) {
      z[c] = b2[c];
      for (int64_t j = 0; j < kHidden; ++j) z[c] += W2[c * kHidden + j] * nrn[j].y;
      m = std::max(m, z[c]);
    }
    double sum = 0;
    for (double v : z) sum += std::exp(v - m);
    const double lse = m + std::log(sum);
    loss += (lse - z[labels[r]]) / kBatch;
    double dz[kClasses];
    for (int64_t c = 0; c < kClasses; ++c) dz[c] = (std::exp(z[c] - lse) - (c == labels[r] ? 1 : 0)) / kBatch;
    for (int64_t c = 0; c < kClasses; ++c) {
      grad[4][c] += dz[c];
      for (int64_t j = 0; j < kHidden; ++j) grad[3][c * kHidden + j] += dz[c] * nrn[j].y;
    }
    for (int64_t j = 0; j < kHidden; ++j) {
      double dy = 0;
      for (int64_t c = 0; c < kClasses; ++c) dy += dz[c] * W2[c * kHidden + j];
      grad[2][0] += dy * nrn[j].q;
      const double dg = dy * nrn[j].s;
      grad[1][j] += dg;
      for (int64_t i = 0; i < kIn; ++i) grad[0][j * kIn + i] += dg * x[r * kIn + i];
    }
  }
  return loss;
}

// Each step restarts the reference from the float model's parameters and Adam
// state (exported as for a checkpoint), so errors do not compound and every
// step's tolerance follows from that step alone.
TEST(TrainGolden, FiveAdamStepsMatchADoublePrecisionReimplementation) {
  nmode::ModelSpec spec;
  spec.input = kIn;
  spec.hidden = kHidden;
  spec.classes = kClasses;
  spec.lambda = 2.0;
  spec.t_end = 1.5;
  spec.rtol = spec.atol = kTol;
  spec.learn_lambda = true;
  auto model = nmode::make_model(spec, 2024);
  const auto& params = model->parameters();
  ASSERT_EQ(params.size(), 5u);
  // Widen the first layer so the neurons' inputs cover more than one period of sin^2.
  for (float& w : params[0].value->vector()) w *= 4.0f;
  nmode::SolverOptions float_solver;
  float_solver.t_end = spec.t_end;
  float_solver.rtol = float_solver.atol = kTol;

  nmode::Tensor x({kBatch, kIn});
  nmode::SplitMix64 rng(99);
  for (float& v : x.vector()) v = static_cast<float>(rng.next_uniform01());
  const Vec xd(x.vector().begin(), x.vector().end());
  const std::vector<int32_t> labels = {0, 1, 2, 0, 1, 2, 2, 1};

  nmode::AdamOptions opt;
  opt.lr = 1e-2;
  nmode::Adam adam(opt);
  auto as_double = [](const nmode::Tensor& t) { return Vec(t.vector().begin(), t.vector().end()); };

  nmode::Tensor logits, dlogits;
  std::vector<double> losses;
  int64_t unresolved = 0, entries = 0;
  for (int t = 1; t <= kSteps; ++t) {
    SCOPED_TRACE("step " + std::to_string(t));
    // The reference's starting point: the float model's state before this step.
    std::vector<Vec> w0, m0, v0;
    std::map<std::string, nmode::Tensor> state;
    std::map<std::string, std::string> meta;
    adam.export_state(state, meta);
    for (const auto& p : params) {
      w0.push_back(as_double(*p.value));
      m0.push_back(t == 1 ? Vec(p.value->size(), 0.0) : as_double(state.at("adam.m." + p.name)));
      v0.push_back(t == 1 ? Vec(p.value->size(), 0.0) : as_double(state.at("adam.v." + p.name)));
    }

    model->zero_grad();
    model->forward(x, logits, true);
    const double loss = nmode::softmax_cross_entropy(logits, labels.data(), &dlogits);
    model->backward(dlogits);
    losses.push_back(loss);

    std::vector<Vec> g;
    Hidden hidden;
    const double ref_loss = loss_and_grad(w0, xd, labels, float_solver, g, hidden);
    // The solver meets its tolerance on these inputs (lambda > 1: local errors
    // add up, at most steps * (atol + rtol |y|) with |y| <= 1/lambda < 1), with
    // the sensitivities at twice that (test_layers); float rounding adds ~1e-6.
    const double E = hidden.float_error;
    EXPECT_LT(E, 4.0 * double(hidden.steps) * kTol + 1e-6);
    // Every logit is b + sum_j W2_cj y_j with |W2| <= 1/sqrt(5) over 5 neurons:
    // off by <= 2.3 E, plus float rounding; the mean cross-entropy moves by no
    // more than the largest logit error.
    EXPECT_NEAR(loss, ref_loss, 2.3 * E + 1e-6);

    // Gradient entries are batch means (dlogits carry 1/8) of products of at
    // most three factors (dz, W2, y or s or q, x), each bounded by 1 in size and
    // each off by <= 2.3 E at most: 4 E bounds them, plus float rounding of
    // sums of ~50 terms (1e-6).
    const double delta = 4 * E + 1e-6;
    for (size_t k = 0; k < g.size(); ++k)
      for (size_t i = 0; i < g[k].size(); ++i)
        ASSERT_NEAR((*params[k].grad)[int64_t(i)], g[k][i], delta) << params[k].name << "[" << i << "]";

    adam.step(params);
    state.clear();
    adam.export_state(state, meta);
    const double bc1 = 1 - std::pow(opt.beta1, t), bc2 = 1 - std::pow(opt.beta2, t);
    for (size_t k = 0; k < g.size(); ++k) {
      const Vec m1 = as_double(state.at("adam.m." + params[k].name));
      const Vec v1 = as_double(state.at("adam.v." + params[k].name));
      for (size_t i = 0; i < g[k].size(); ++i) {
        const double m = opt.beta1 * m0[k][i] + (1 - opt.beta1) * g[k][i];
        const double v = opt.beta2 * v0[k][i] + (1 - opt.beta2) * g[k][i] * g[k][i];
        const double mhat = m / bc1, a = std::sqrt(v / bc2) + opt.eps;
        const double expect = w0[k][i] - opt.lr * mhat / a;
        // A gradient error <= delta moves m-hat by <= delta and sqrt(v-hat) by
        // <= delta ((1-b)/bc <= 1), so the direction u = m-hat / a moves by
        // <= delta (1 + |u|) / (a - delta); then w, m, v are rounded to float.
        // Where a <= 2 delta the direction is not resolved at this precision:
        // then only Adam's own limit applies, |u| <= sqrt(t) for t <= 5 (Cauchy-
        // Schwarz on the bias-corrected averages), on either side.
        const double u = mhat / a;
        const bool resolved = a > 2 * delta;
        unresolved += resolved ? 0 : 1;
        ++entries;
        const double move = resolved ? delta * (1 + std::abs(u)) / (a - delta) : std::abs(u) + std::sqrt(double(t));
        const double bound = opt.lr * move + 0.5 * kEpsF * std::abs(expect) + 2 * kEpsF * opt.lr * std::abs(u);
        ASSERT_NEAR((*params[k].value)[int64_t(i)], expect, bound) << params[k].name << "[" << i << "]";
        ASSERT_NEAR(m1[i], m, (1 - opt.beta1) * delta + 0.5 * kEpsF * std::abs(m)) << params[k].name << "[" << i << "]";
        ASSERT_NEAR(v1[i], v, (1 - opt.beta2) * delta * (2 * std::abs(g[k][i]) + delta) + 0.5 * kEpsF * v)
            << params[k].name << "[" << i << "]";
      }
    }
  }
  // Almost every step is checked tightly, not just within Adam's own limit.
  EXPECT_LT(unresolved * 20, entries) << unresolved << " of " << entries << " steps unresolved";
  // Training does what it should on a fixed batch: the loss goes down every step.
  for (size_t t = 1; t < losses.size(); ++t) EXPECT_LT(losses[t], losses[t - 1]);
}

}  // namespace
