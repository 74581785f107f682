// The coupled neural-ODE layer (NeuralOde) against independent references: a
// tiny-step double-precision RK4 of the same f for the forward, central finite
// differences of the frozen-step map (in double, the tableau written out again
// here) for the gradients; per-sample step independence; the model factory and
// its checkpoint metadata; a short MNIST training run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nmode/dataset.hpp"
#include "nmode/error.hpp"
#include "nmode/model.hpp"
#include "nmode/neural_ode.hpp"
#include "nmode/random.hpp"
#include "nmode/train.hpp"
#include "support/mnist_test_util.hpp"
#include "support/simd_test_util.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace nmode {
namespace {

using Vec = std::vector<double>;

// f(h) = tanh(W h + b) in double, W: (d, d) row-major.
struct Field {
  int64_t d;
  Vec w, b;
  Vec operator()(const Vec& h) const {
    Vec k(static_cast<size_t>(d));
    for (int64_t i = 0; i < d; ++i) {
      double acc = b[static_cast<size_t>(i)];
      for (int64_t j = 0; j < d; ++j) acc += w[static_cast<size_t>(i * d + j)] * h[static_cast<size_t>(j)];
      k[static_cast<size_t>(i)] = std::tanh(acc);
    }
    return k;
  }
};

Vec axpy(const Vec& y, double h, const std::vector<std::pair<double, const Vec*>>& terms) {
  Vec z = y;
  for (size_t i = 0; i < z.size(); ++i) {
    double acc = 0.0;
    for (const auto& [c, k] : terms) acc += c * (*k)[i];
    z[i] += h * acc;
  }
  return z;
}

// Classical RK4 with `steps` equal steps: the forward's reference.
Vec rk4(const Field& f, Vec y, double t_end, int steps) {
  const double h = t_end / steps;
  for (int s = 0; s < steps; ++s) {
    const Vec k1 = f(y), k2 = f(axpy(y, h / 2, {{1.0, &k1}})), k3 = f(axpy(y, h / 2, {{1.0, &k2}}));
    const Vec k4 = f(axpy(y, h, {{1.0, &k3}}));
    y = axpy(y, h / 6, {{1.0, &k1}, {2.0, &k2}, {2.0, &k3}, {1.0, &k4}});
  }
  return y;
}

// The DP5 solution map with the given step sizes (Dormand & Prince 1980).
Vec dopri5_frozen(const Field& f, Vec y, const std::vector<float>& steps) {
  for (float hf : steps) {
    const double h = hf;
    const Vec k1 = f(y);
    const Vec k2 = f(axpy(y, h, {{1.0 / 5, &k1}}));
    const Vec k3 = f(axpy(y, h, {{3.0 / 40, &k1}, {9.0 / 40, &k2}}));
    const Vec k4 = f(axpy(y, h, {{44.0 / 45, &k1}, {-56.0 / 15, &k2}, {32.0 / 9, &k3}}));
    const Vec k5 = f(axpy(y, h, {{19372.0 / 6561, &k1}, {-25360.0 / 2187, &k2}, {64448.0 / 6561, &k3},
                                 {-212.0 / 729, &k4}}));
    const Vec k6 = f(axpy(y, h, {{9017.0 / 3168, &k1}, {-355.0 / 33, &k2}, {46732.0 / 5247, &k3},
                                 {49.0 / 176, &k4}, {-5103.0 / 18656, &k5}}));
    y = axpy(y, h, {{35.0 / 384, &k1}, {500.0 / 1113, &k3}, {125.0 / 192, &k4}, {-2187.0 / 6784, &k5},
                    {11.0 / 84, &k6}});
  }
  return y;
}

// A layer with weights scaled up from the default initialisation, so the
// dynamics bend (the default's |W| ~ 1/sqrt(d) is nearly linear over t = 1).
std::unique_ptr<NeuralOde> make_layer(int64_t d, const NeuralOdeOptions& o, double scale, uint64_t seed) {
  auto layer = std::make_unique<NeuralOde>(d, o, seed);
  for (int64_t i = 0; i < layer->weight().size(); ++i) layer->weight()[i] *= static_cast<float>(scale);
  return layer;
}

Field field_of(NeuralOde& layer) {
  Field f{layer.in_features(), {}, {}};
  f.w.assign(layer.weight().data(), layer.weight().data() + layer.weight().size());
  f.b.assign(layer.bias().data(), layer.bias().data() + layer.bias().size());
  return f;
}

Tensor random_states(int64_t n, int64_t d, uint64_t seed, double spread = 1.5) {
  Tensor x({n, d});
  SplitMix64 rng(seed);
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(spread * (2.0 * rng.next_uniform01() - 1.0));
  return x;
}

Vec row(const Tensor& t, int64_t r) {
  const int64_t d = t.dim(1);
  return Vec(t.data() + r * d, t.data() + (r + 1) * d);
}

// Each SIMD target's kernels (tanh, stage sums, error norm) against the same reference.
NMODE_PER_SIMD_TARGET(NeuralOdeOnTarget);

TEST_P(NeuralOdeOnTarget, MatchesATinyStepRk4OfTheSameField) {
  for (int64_t d : {1, 5, 33})
    for (double t_end : {0.5, 2.0})
      for (double tol : {1e-3, 1e-6}) {
        NeuralOdeOptions o;
        o.t_end = t_end;
        o.rtol = o.atol = tol;
        auto layer_owner = make_layer(d, o, 2.0, 7 + static_cast<uint64_t>(d));
  NeuralOde& layer = *layer_owner;
        const Field f = field_of(layer);
        const int64_t n = 7;
        const Tensor x = random_states(n, d, 11);
        Tensor y;
        layer.forward(x, y, false);
        for (int64_t s = 0; s < n; ++s) {
          // 4000 RK4 steps: its own error ~ (t/4000)^4, far below every bound here.
          const Vec ref = rk4(f, row(x, s), t_end, 4000);
          for (int64_t i = 0; i < d; ++i) {
            const double r = ref[static_cast<size_t>(i)];
            // DP5's global error stays within a few tolerances per unit time on this
            // smooth, bounded field (20 t_end of margin), plus float rounding
            // accumulated over the steps (~100 epsilon of |y|).
            const double bound = 20.0 * t_end * tol * (1.0 + std::fabs(r)) + 100.0 * 1.2e-7 * (1.0 + std::fabs(r));
            EXPECT_NEAR(y.data()[s * d + i], r, bound) << "d " << d << " t_end " << t_end << " tol " << tol;
          }
        }
        EXPECT_EQ(layer.last_stats().converged, n);
        EXPECT_EQ(layer.last_stats().elements, n);
      }
}

TEST(NeuralOdeForward, TighterToleranceGivesSmallerError) {
  double err_loose = 0, err_tight = 0;
  for (double tol : {1e-2, 1e-6}) {
    NeuralOdeOptions o;
    o.t_end = 3.0;
    o.rtol = o.atol = tol;
    auto layer_owner = make_layer(8, o, 3.0, 5);
  NeuralOde& layer = *layer_owner;
    const Tensor x = random_states(4, 8, 3);
    Tensor y;
    layer.forward(x, y, false);
    double err = 0;
    for (int64_t s = 0; s < 4; ++s) {
      const Vec ref = rk4(field_of(layer), row(x, s), 3.0, 4000);
      for (int64_t i = 0; i < 8; ++i) err = std::max(err, std::fabs(y.data()[s * 8 + i] - ref[static_cast<size_t>(i)]));
    }
    (tol > 1e-3 ? err_loose : err_tight) = err;
  }
  EXPECT_LT(err_tight, err_loose);
  EXPECT_LT(err_tight, 1e-4);
}

// Per-sample steps: a sample's output and steps are a function of that sample
// alone, bitwise, whatever the batch around it and the thread count.
TEST_P(NeuralOdeOnTarget, PerSampleOutputsAndStepsDoNotDependOnTheBatchOrThreads) {
  const int64_t n = 37, d = 33;
  NeuralOdeOptions o;
  o.t_end = 3.0;
  o.rtol = o.atol = 1e-5;
  auto layer_owner = make_layer(d, o, 2.5, 1);
  NeuralOde& layer = *layer_owner;
  Tensor x = random_states(n, d, 2, 1.0);
  // Rows of growing size, so the samples need different numbers of steps.
  for (int64_t s = 0; s < n; ++s)
    for (int64_t i = 0; i < d; ++i) x.data()[s * d + i] *= 0.1f * static_cast<float>(s);
  Tensor y;
  layer.forward(x, y, true);
  std::vector<std::vector<float>> steps;
  for (int64_t s = 0; s < n; ++s) steps.push_back(layer.last_step_sizes(s));
  // The samples need different step counts, or the test would prove little.
  size_t fewest = steps[0].size(), most = steps[0].size();
  for (const auto& h : steps) fewest = std::min(fewest, h.size()), most = std::max(most, h.size());
  EXPECT_LT(fewest, most);

  for (int64_t s : {int64_t(0), int64_t(17), n - 1}) {
    Tensor one({1, d}), y1;
    std::copy(x.data() + s * d, x.data() + (s + 1) * d, one.data());
    layer.forward(one, y1, true);
    for (int64_t i = 0; i < d; ++i) ASSERT_EQ(y1[i], y.data()[s * d + i]) << "sample " << s << " alone";
    EXPECT_EQ(layer.last_step_sizes(0), steps[static_cast<size_t>(s)]);
  }
  // Samples 20..5 in reverse order, a batch of 16.
  Tensor sub({16, d}), ys;
  for (int64_t q = 0; q < 16; ++q) std::copy(x.data() + (20 - q) * d, x.data() + (21 - q) * d, sub.data() + q * d);
  layer.forward(sub, ys, false);
  for (int64_t q = 0; q < 16; ++q)
    for (int64_t i = 0; i < d; ++i) ASSERT_EQ(ys.data()[q * d + i], y.data()[(20 - q) * d + i]) << "row " << q;
#ifdef _OPENMP
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  Tensor y_one_thread;
  layer.forward(x, y_one_thread, false);
  omp_set_num_threads(threads);
  for (int64_t i = 0; i < y.size(); ++i) ASSERT_EQ(y_one_thread[i], y[i]) << "element " << i;
#endif
}

TEST(NeuralOdeBatchShared, EverySampleTakesTheSameStepsAndStaysAccurate) {
  const int64_t n = 9, d = 6;
  NeuralOdeOptions o;
  o.t_end = 1.0;
  o.rtol = o.atol = 1e-5;
  o.steps = StepControl::BatchShared;
  auto layer_owner = make_layer(d, o, 2.5, 4);
  NeuralOde& layer = *layer_owner;
  const Tensor x = random_states(n, d, 8, 3.0);
  Tensor y;
  layer.forward(x, y, true);
  for (int64_t s = 1; s < n; ++s) EXPECT_EQ(layer.last_step_sizes(s), layer.last_step_sizes(0));
  for (int64_t s = 0; s < n; ++s) {
    const Vec ref = rk4(field_of(layer), row(x, s), 1.0, 4000);
    for (int64_t i = 0; i < d; ++i)  // the bound of MatchesATinyStepRk4OfTheSameField
      EXPECT_NEAR(y.data()[s * d + i], ref[static_cast<size_t>(i)], 20.0 * 1e-5 * (1 + std::fabs(ref[static_cast<size_t>(i)])) + 1.2e-5);
  }
}

// L = sum(c * h(t_end)) (+ the steady-state term); its gradient against central
// differences of the same frozen-step map in double.
struct GradientCase {
  double steady_state;
  const char* name;
};

class NeuralOdeGradient : public ::testing::TestWithParam<GradientCase> {};

void check_gradients_against_finite_differences(double w_ss);

TEST_P(NeuralOdeGradient, MatchesFiniteDifferencesOfTheFrozenStepMap) {
  const SimdTarget previous = active_simd_target();
  for (SimdTarget target : supported_simd_targets()) {
    SCOPED_TRACE(to_string(target));
    set_simd_target(target);
    check_gradients_against_finite_differences(GetParam().steady_state);
  }
  set_simd_target(previous);
}

void check_gradients_against_finite_differences(double w_ss) {
  const int64_t n = 3, d = 5;
  NeuralOdeOptions o;
  o.t_end = 1.0;
  o.rtol = o.atol = 1e-4;
  auto layer_owner = make_layer(d, o, 2.0, 9);
  NeuralOde& layer = *layer_owner;
  layer.set_steady_state_weight(w_ss);
  const Tensor x = random_states(n, d, 6);
  const Tensor c = random_states(n, d, 12, 1.0);
  Tensor y, dx;
  layer.forward(x, y, true);
  std::vector<std::vector<float>> steps;
  for (int64_t s = 0; s < n; ++s) steps.push_back(layer.last_step_sizes(s));
  layer.backward(c, dx, true);

  // The loss of the frozen map, in double, for perturbed inputs and parameters.
  auto loss = [&](const Vec& xs, const Field& f) {
    double total = 0.0, ss = 0.0;
    for (int64_t s = 0; s < n; ++s) {
      const Vec out = dopri5_frozen(f, Vec(xs.begin() + s * d, xs.begin() + (s + 1) * d), steps[static_cast<size_t>(s)]);
      for (int64_t i = 0; i < d; ++i) total += c.data()[s * d + i] * out[static_cast<size_t>(i)];
      for (double v : f(out)) ss += std::fabs(v);
    }
    return total + w_ss * ss / double(n * d);
  };
  const Field f0 = field_of(layer);
  const Vec x0(x.data(), x.data() + x.size());
  const double delta = 1e-6;
  // Float forward and backward against a double map: ~1e-4 relative to the
  // gradient's scale covers float rounding through ~10 steps of 6 stages.
  auto check = [&](double analytic, double fd, double scale, const std::string& what) {
    EXPECT_NEAR(analytic, fd, 2e-4 * scale + 1e-6) << what;
  };
  double scale_x = 0;
  Vec fd_x(x0.size());
  for (size_t i = 0; i < x0.size(); ++i) {
    Vec xp = x0, xm = x0;
    xp[i] += delta;
    xm[i] -= delta;
    fd_x[i] = (loss(xp, f0) - loss(xm, f0)) / (2 * delta);
    scale_x = std::max(scale_x, std::fabs(fd_x[i]));
  }
  for (size_t i = 0; i < x0.size(); ++i) check(dx[static_cast<int64_t>(i)], fd_x[i], scale_x, "dx[" + std::to_string(i) + "]");
  double scale_w = 0;
  Vec fd_w(f0.w.size()), fd_b(f0.b.size());
  for (size_t i = 0; i < f0.w.size(); ++i) {
    Field fp = f0, fm = f0;
    fp.w[i] += delta;
    fm.w[i] -= delta;
    fd_w[i] = (loss(x0, fp) - loss(x0, fm)) / (2 * delta);
    scale_w = std::max(scale_w, std::fabs(fd_w[i]));
  }
  for (size_t i = 0; i < f0.b.size(); ++i) {
    Field fp = f0, fm = f0;
    fp.b[i] += delta;
    fm.b[i] -= delta;
    fd_b[i] = (loss(x0, fp) - loss(x0, fm)) / (2 * delta);
    scale_w = std::max(scale_w, std::fabs(fd_b[i]));
  }
  const std::vector<ParameterRef> params = layer.parameters();
  for (size_t i = 0; i < fd_w.size(); ++i) check((*params[0].grad)[static_cast<int64_t>(i)], fd_w[i], scale_w, "dW[" + std::to_string(i) + "]");
  for (size_t i = 0; i < fd_b.size(); ++i) check((*params[1].grad)[static_cast<int64_t>(i)], fd_b[i], scale_w, "db[" + std::to_string(i) + "]");
  if (w_ss > 0) {
    EXPECT_GT(layer.last_steady_state_loss(), 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Losses, NeuralOdeGradient,
                         ::testing::Values(GradientCase{0.0, "plain"}, GradientCase{0.5, "steady_state"}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(NeuralOdeGradient, InputGradientsAloneLeaveTheParameterGradientsAlone) {
  auto layer_owner = make_layer(4, NeuralOdeOptions{}, 1.0, 3);
  NeuralOde& layer = *layer_owner;
  const Tensor x = random_states(2, 4, 1), c = random_states(2, 4, 2);
  Tensor y, dx;
  layer.forward(x, y, true);
  layer.backward(c, dx, true, /*need_param_grads=*/false);
  for (const ParameterRef& p : layer.parameters())
    for (int64_t i = 0; i < p.grad->size(); ++i) EXPECT_EQ((*p.grad)[i], 0.0f) << p.name;
  EXPECT_EQ(dx.dim(0), 2);
  // TisODE's regulariser is a training term: an attack's input gradient ignores it.
  layer.set_steady_state_weight(0.5);
  Tensor dx_regularised;
  layer.forward(x, y, true);
  layer.backward(c, dx_regularised, true, /*need_param_grads=*/false);
  for (int64_t i = 0; i < dx.size(); ++i) EXPECT_EQ(dx_regularised[i], dx[i]) << "entry " << i;
}

#ifdef _OPENMP
// The batch is split into groups of samples by the batch alone, and the groups'
// parameter gradients are summed in group order: the thread count changes no bit.
TEST(NeuralOdeGradient, ParameterGradientsDoNotDependOnTheThreadCount) {
  const int64_t n = 70, d = 16;
  auto layer_owner = make_layer(d, NeuralOdeOptions{}, 2.0, 5);
  NeuralOde& layer = *layer_owner;
  const Tensor x = random_states(n, d, 3), c = random_states(n, d, 4);
  const int threads = omp_get_max_threads();
  std::vector<std::vector<float>> grads;
  for (int t : {1, 2}) {
    omp_set_num_threads(t);
    for (const ParameterRef& p : layer.parameters()) p.grad->fill(0.0f);
    Tensor y, dx;
    layer.forward(x, y, true);
    layer.backward(c, dx, true);
    std::vector<float> all(dx.data(), dx.data() + dx.size());
    for (const ParameterRef& p : layer.parameters()) all.insert(all.end(), p.grad->data(), p.grad->data() + p.grad->size());
    grads.push_back(all);
  }
  omp_set_num_threads(threads);
  ASSERT_EQ(grads[0].size(), grads[1].size());
  for (size_t i = 0; i < grads[0].size(); ++i) ASSERT_EQ(grads[0][i], grads[1][i]) << "entry " << i;
}
#endif

TEST(NeuralOdeErrors, BadOptionsAndFailedSolvesAreClearErrors) {
  NeuralOdeOptions o;
  o.t_end = 0;
  EXPECT_THROW(NeuralOde(4, o), InvalidArgument);
  o = NeuralOdeOptions{};
  o.rtol = 0;
  EXPECT_THROW(NeuralOde(4, o), InvalidArgument);
  EXPECT_THROW(NeuralOde(0, NeuralOdeOptions{}), InvalidArgument);
  EXPECT_THROW(parse_step_control("sometimes"), InvalidArgument);
  EXPECT_EQ(parse_step_control(to_string(StepControl::BatchShared)), StepControl::BatchShared);

  NeuralOde layer(3, NeuralOdeOptions{});
  Tensor x({2, 3}, 0.1f), y;
  x[4] = std::nanf("");
  try {
    layer.forward(x, y, false);
    FAIL() << "expected nmode::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1 with a non-finite input"), std::string::npos) << e.what();
  }
  o = NeuralOdeOptions{};
  o.max_steps = 1;
  o.t_end = 50;
  auto capped_owner = make_layer(3, o, 3.0, 2);
  NeuralOde& capped = *capped_owner;
  try {
    capped.forward(random_states(2, 3, 4), y, false);
    FAIL() << "expected nmode::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at max_steps"), std::string::npos) << e.what();
  }
}

TEST(NeuralOdeModel, FactoryShapesAndMetadataRoundTrip) {
  ModelSpec spec;
  spec.kind = "node";
  spec.input = 12;
  spec.hidden = 6;
  spec.classes = 3;
  spec.node_steps = "batch-shared";
  auto model = make_model(spec, 1);
  ASSERT_EQ(model->size(), 4u);  // Linear, ReLU, NeuralOde, Linear
  const auto* node = dynamic_cast<const NeuralOde*>(&model->layer(2));
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->options().steps, StepControl::BatchShared);
  std::map<std::string, std::vector<int64_t>> built;
  for (const ParameterRef& p : model->parameters()) built[p.name] = p.value->shape();
  EXPECT_EQ(parameter_shapes(spec), built);
  EXPECT_EQ(spec_from_metadata(to_metadata(spec)), spec);
  // Checkpoints written before node models have no model.node_steps key.
  auto old = to_metadata(ModelSpec{});
  old.erase("model.node_steps");
  EXPECT_EQ(spec_from_metadata(old).node_steps, "per-sample");
  auto bad = to_metadata(spec);
  bad["model.node_steps"] = "often";
  EXPECT_THROW(spec_from_metadata(bad), IoError);
  spec.node_steps = "often";
  EXPECT_THROW(spec.validate(), InvalidArgument);
}

// As the nmODE model's smoke test (test_train), on the neural-ODE model.
TEST(NeuralOdeTraining, LossFallsAndAccuracyClearsAFloorOnAnMnistSubset) {
  ModelSpec spec;
  spec.kind = "node";
  spec.hidden = 64;
  test::expect_learns_on_an_mnist_subset(spec);
}

}  // namespace
}  // namespace nmode
