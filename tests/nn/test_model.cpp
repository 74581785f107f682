// Checks the Sequential model end to end: its gradients (parameters, input and a
// learnable lambda) against central differences of an independent double
// precision model, per-example independence, no allocation once shapes are
// fixed, the factory and its metadata round trip, and the Classifier interface.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "nmode/error.hpp"
#include "nmode/loss.hpp"
#include "nmode/model.hpp"
#include "nmode/ode.hpp"
#include "nmode/optim.hpp"
#include "nmode/random.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

// ---- allocation counting: every operator new in this binary goes through here ----
namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_allocations{0};
void* counted_alloc(std::size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace
void* operator new(std::size_t size) { return counted_alloc(size); }
void* operator new[](std::size_t size) { return counted_alloc(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

using nmode::ModelSpec;
using nmode::Sequential;
using nmode::Tensor;

Tensor random_tensor(std::vector<int64_t> shape, uint64_t seed, double lo, double hi) {
  Tensor t(std::move(shape));
  nmode::SplitMix64 rng(seed);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(lo + (hi - lo) * rng.next_uniform01());
  return t;
}

// ---------------------------------------------- double-precision reference ----

// The same architecture written out with naive loops in double: Linear, then
// the nmODE neuron from the double solver at 1e-12 (or tanh/relu), then Linear,
// then softmax cross-entropy. Only its loss is used, through finite differences.
struct ReferenceModel {
  std::string kind;
  int64_t in, hidden, classes;
  double lambda, t_end;
  std::vector<double> W1, b1, W2, b2;
  // The unperturbed neurons: inputs and outputs of the first call.
  std::vector<double> cached_gamma, cached_y;
  double cached_lambda = 0;

  double loss(const std::vector<double>& x, const std::vector<int32_t>& labels) {
    const int64_t n = static_cast<int64_t>(labels.size());
    std::vector<double> g(static_cast<size_t>(n * hidden)), h(g.size());
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < hidden; ++j) {
        double acc = b1[j];
        for (int64_t i = 0; i < in; ++i) acc += W1[j * in + i] * x[r * in + i];
        g[r * hidden + j] = acc;
      }
    if (kind == "nmode") {
      // Finite differences change few neurons at a time: solve only the inputs
      // that differ from the unperturbed ones (the first call), reuse the rest.
      const bool same_lambda = lambda == cached_lambda;
      std::vector<double> todo;
      std::vector<size_t> where;
      for (size_t k = 0; k < g.size(); ++k) {
        if (same_lambda && k < cached_gamma.size() && g[k] == cached_gamma[k]) {
          h[k] = cached_y[k];
        } else {
          todo.push_back(g[k]);
          where.push_back(k);
        }
      }
      nmode::SolverOptions o;
      o.lambda = lambda;
      o.t_end = t_end;
      o.rtol = o.atol = 1e-12;
      std::vector<double> y(todo.size());
      nmode::SolveOutputs<double> out;
      out.y = y.data();
      const auto stats = nmode::solve_cpu<double>(o, int64_t(todo.size()), todo.data(), nullptr, out);
      EXPECT_EQ(stats.failed(), 0);
      for (size_t k = 0; k < where.size(); ++k) h[where[k]] = y[k];
      if (cached_gamma.empty()) {
        cached_gamma = g;
        cached_y = h;
        cached_lambda = lambda;
      }
    } else {
      for (size_t k = 0; k < g.size(); ++k) h[k] = kind == "mlp-tanh" ? std::tanh(g[k]) : std::max(g[k], 0.0);
    }
    double total = 0;
    for (int64_t r = 0; r < n; ++r) {
      std::vector<double> z(static_cast<size_t>(classes));
      double m = -1e300;
      for (int64_t c = 0; c < classes; ++c) {
        double acc = b2[c];
        for (int64_t j = 0; j < hidden; ++j) acc += W2[c * hidden + j] * h[r * hidden + j];
        z[c] = acc;
        m = std::max(m, acc);
      }
      double s = 0;
      for (double v : z) s += std::exp(v - m);
      total += m + std::log(s) - z[labels[r]];
    }
    return total / double(n);
  }
};

std::vector<double> to_double(const Tensor& t) { return std::vector<double>(t.vector().begin(), t.vector().end()); }

struct GradCase {
  std::string kind;
  double lambda, t_end;
};
// Readable test names in CTest's listing instead of raw bytes.
void PrintTo(const GradCase& c, std::ostream* os) { *os << c.kind << " lambda=" << c.lambda << " t_end=" << c.t_end; }

class ModelGradients : public ::testing::TestWithParam<GradCase> {};

TEST_P(ModelGradients, MatchFiniteDifferencesOfADoubleModel) {
  const GradCase c = GetParam();
  ModelSpec spec;
  spec.kind = c.kind;
  spec.input = 12;
  spec.hidden = 16;
  spec.classes = 5;
  spec.lambda = c.lambda;
  spec.t_end = c.t_end;
  spec.rtol = spec.atol = 1e-6;
  spec.learn_lambda = c.kind == "nmode";
  auto model = nmode::make_model(spec, 5);
  // Spread the first layer's outputs over several periods of sin^2 (the
  // default init keeps |gamma| < 1.5): gammas in about [-6, 6].
  Tensor& W1 = *model->parameters()[0].value;
  for (int64_t i = 0; i < W1.size(); ++i) W1[i] *= 4.0f;

  const int64_t n = 3;
  const Tensor x = random_tensor({n, 12}, 6, 0.0, 1.0);
  const std::vector<int32_t> labels = {4, 0, 2};
  Tensor logits, dlogits, dx;
  model->zero_grad();
  model->forward(x, logits, true);
  nmode::softmax_cross_entropy(logits, labels.data(), &dlogits);
  model->backward(dlogits, &dx);

  ReferenceModel ref{c.kind, 12, 16, 5, c.lambda, c.t_end, {}, {}, {}, {}, {}, {}, 0};
  const auto& params = model->parameters();
  ref.W1 = to_double(*params[0].value);
  ref.b1 = to_double(*params[1].value);
  const size_t second = c.kind == "nmode" ? 3 : 2;  // "1.lambda" sits in between
  ref.W2 = to_double(*params[second].value);
  ref.b2 = to_double(*params[second + 1].value);
  std::vector<double> xd = to_double(x);
  ref.loss(xd, labels);  // caches the unperturbed neurons

  // Central differences of the double model: truncation h^2/6 * |L'''| ~ 1e-11,
  // solver noise ~1e-11 / (2h) ~ 1e-6 at most. Reference accurate to ~1e-6.
  const double h = 1e-5;
  auto fd = [&](double& v) {
    const double saved = v;
    v = saved + h;
    const double up = ref.loss(xd, labels);
    v = saved - h;
    const double down = ref.loss(xd, labels);
    v = saved;
    return (up - down) / (2 * h);
  };
  // The float model differs from the exact gradient by its solver (tol 1e-6:
  // sensitivities within ~1e-5 of the truth, up to ~3e-4 for the few neurons
  // with y ~ 0, see test_layers) and by float rounding (~1e-6 relative). Those
  // errors pass through |dlogits| <= 1/n and weights <= 1, so 5e-4 of the
  // tensor's largest gradient (>= 1e-2 here) plus 1e-6 bounds them.
  auto compare = [&](const std::string& name, const Tensor& grad, std::vector<double>& values) {
    std::vector<double> expect(values.size());
    double scale = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      expect[i] = fd(values[i]);
      scale = std::max(scale, std::abs(expect[i]));
    }
    EXPECT_GT(scale, 1e-3) << name << ": a vanishing gradient would make the check meaningless";
    for (size_t i = 0; i < values.size(); ++i)
      ASSERT_NEAR(grad[static_cast<int64_t>(i)], expect[i], 5e-4 * scale + 1e-6) << name << "[" << i << "]";
  };
  compare("0.weight", *params[0].grad, ref.W1);
  compare("0.bias", *params[1].grad, ref.b1);
  compare("2.weight", *params[second].grad, ref.W2);
  compare("2.bias", *params[second + 1].grad, ref.b2);
  compare("input", dx, xd);
  if (c.kind == "nmode") {
    ASSERT_EQ(params[2].name, "1.lambda");
    std::vector<double> lam = {c.lambda};
    const double expect = [&] {
      ref.lambda = c.lambda + h;
      const double up = ref.loss(xd, labels);
      ref.lambda = c.lambda - h;
      const double down = ref.loss(xd, labels);
      ref.lambda = c.lambda;
      return (up - down) / (2 * h);
    }();
    EXPECT_NEAR((*params[2].grad)[0], expect, 5e-4 * std::abs(expect) + 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Small, ModelGradients,
                         ::testing::Values(GradCase{"nmode", 3.0, 1.0}, GradCase{"nmode", 1.5, 3.0},
                                           GradCase{"nmode", 8.0, 0.5}, GradCase{"nmode", 3.0, 0.2},
                                           GradCase{"mlp-tanh", 0, 0}, GradCase{"mlp-relu", 0, 0}),
                         [](const auto& param_info) {
                           std::string s = param_info.param.kind + "_" + std::to_string(int(param_info.param.lambda * 10)) +
                                           "_" + std::to_string(int(param_info.param.t_end * 10));
                           std::replace(s.begin(), s.end(), '-', '_');
                           return s;
                         });

// ---------------------------------------------------------- independence ----

TEST(Model, ExampleLogitsDoNotDependOnTheRestOfTheBatch) {
  ModelSpec spec;
  spec.input = 33;
  spec.hidden = 65;
  spec.classes = 7;
  auto model = nmode::make_model(spec, 9);
  const int64_t n = 13;
  const Tensor x = random_tensor({n, 33}, 10, 0.0, 1.0);
  for (bool training : {false, true}) {
    Tensor all, one_logits;
    model->forward(x, all, training);
    for (int64_t r = 0; r < n; ++r) {
      Tensor one({1, 33});
      std::copy(x.data() + r * 33, x.data() + (r + 1) * 33, one.data());
      model->forward(one, one_logits, training);
      for (int64_t c = 0; c < 7; ++c) ASSERT_EQ(all[r * 7 + c], one_logits[c]) << "example " << r << " class " << c;
    }
  }
}

TEST(Model, ResultsDoNotDependOnTheThreadCount) {
#ifndef _OPENMP
  GTEST_SKIP() << "built without OpenMP";
#else
  ModelSpec spec;
  spec.input = 100;
  spec.hidden = 1024;  // batch * hidden crosses the layers' thresholds for parallel loops
  spec.learn_lambda = true;
  const Tensor x = random_tensor({64, 100}, 12, 0.0, 1.0);
  std::vector<int32_t> labels(64);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = int32_t(i % 10);
  auto run = [&](int threads) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    auto model = nmode::make_model(spec, 13);
    Tensor logits, dlogits, dx;
    model->zero_grad();
    model->forward(x, logits, true);
    nmode::softmax_cross_entropy(logits, labels.data(), &dlogits);
    model->backward(dlogits, &dx);
    std::vector<std::vector<float>> out = {logits.vector(), dx.vector()};
    for (const auto& p : model->parameters()) out.push_back(p.grad->vector());
    omp_set_num_threads(saved);
    return out;
  };
  const auto one = run(1), two = run(2), three = run(3);
  ASSERT_EQ(one.size(), 7u);
  for (size_t k = 0; k < one.size(); ++k) {
    EXPECT_EQ(one[k], two[k]) << "output " << k;
    EXPECT_EQ(one[k], three[k]) << "output " << k;
  }
#endif
}

TEST(Model, EmptyBatch) {
  ModelSpec spec;
  spec.input = 5;
  spec.hidden = 4;
  spec.classes = 3;
  auto model = nmode::make_model(spec, 1);
  Tensor logits, dlogits({0, 3}), dx;
  model->forward(Tensor({0, 5}), logits, true);
  EXPECT_EQ(logits.shape(), (std::vector<int64_t>{0, 3}));
  model->backward(dlogits, &dx);
  EXPECT_EQ(dx.shape(), (std::vector<int64_t>{0, 5}));
}

// ------------------------------------------------------ no steady-state allocation ----

TEST(Model, TrainingStepsAllocateNothingOnceShapesAreFixed) {
  ModelSpec spec;
  spec.hidden = 256;  // the reference input and classes; smaller hidden keeps the test quick
  spec.learn_lambda = true;
  auto model = nmode::make_model(spec, 1);
  nmode::Adam adam({}, {model->nmode_input_weights(), 1.0, 1e-4});
  const int64_t n = 256;
  const Tensor x = random_tensor({n, 784}, 2, 0.0, 1.0);
  std::vector<int32_t> labels(n);
  for (int64_t i = 0; i < n; ++i) labels[i] = int32_t(i % 10);
  Tensor logits, dlogits, dx;
  const std::vector<nmode::ParameterRef>& params = model->parameters();
  std::vector<float> attack_dx(static_cast<size_t>(n * 784)), attack_logits(static_cast<size_t>(n * 10));
  auto step = [&] {
    model->zero_grad();
    model->forward(x, logits, true);
    nmode::softmax_cross_entropy(logits, labels.data(), &dlogits);
    model->backward(dlogits, &dx);
    adam.step(params);
    // What attacks do between training steps.
    model->forward(x.data(), n, attack_logits.data(), true);
    model->backward_input(dlogits.data(), attack_dx.data());
  };
  step();  // first step: buffers, optimizer state and GEMM packing space appear
  const float* logits_data = logits.data();
  g_allocations = 0;
  g_counting = true;
  for (int i = 0; i < 2; ++i) step();
  g_counting = false;
  EXPECT_EQ(g_allocations.load(), 0);
  EXPECT_EQ(logits.data(), logits_data);
}

// -------------------------------------------------------------- factory ----

std::vector<std::string> names(Sequential& m) {
  std::vector<std::string> out;
  for (const auto& p : m.parameters()) out.push_back(p.name);
  return out;
}

TEST(Factory, ReferenceModelLayoutAndNames) {
  ModelSpec spec;
  auto model = nmode::make_model(spec, 123);
  EXPECT_EQ(model->input_dim(), 784);
  EXPECT_EQ(model->num_classes(), 10);
  EXPECT_EQ(names(*model), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  const auto& p = model->parameters();
  EXPECT_EQ(p[0].value->shape(), (std::vector<int64_t>{2048, 784}));
  EXPECT_EQ(p[1].value->shape(), (std::vector<int64_t>{2048}));
  EXPECT_EQ(p[2].value->shape(), (std::vector<int64_t>{10, 2048}));
  EXPECT_EQ(p[3].value->shape(), (std::vector<int64_t>{10}));
  EXPECT_EQ(model->parameter_count(), 2048 * 784 + 2048 + 10 * 2048 + 10);
  EXPECT_EQ(model->nmode_input_weights(), (std::vector<std::string>{"0.weight"}));
  EXPECT_EQ(model->describe(),
            "0: Linear(784 -> 2048)\n1: NmOde(2048, lambda=3, t_end=1, rtol=0.001, atol=0.001)\n2: Linear(2048 -> 10)");
  // Linear i draws from SplitMix64(derive_seed(seed, i)), W first (PyTorch's bound 1/sqrt(fan_in)).
  nmode::SplitMix64 rng0(nmode::derive_seed(123, 0)), rng2(nmode::derive_seed(123, 2));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ((*p[0].value)[i], float((2 * rng0.next_uniform01() - 1) / std::sqrt(784.0)));
    EXPECT_EQ((*p[2].value)[i], float((2 * rng2.next_uniform01() - 1) / std::sqrt(2048.0)));
  }
  auto same = nmode::make_model(spec, 123);
  auto other = nmode::make_model(spec, 124);
  EXPECT_EQ(p[0].value->vector(), same->parameters()[0].value->vector());
  EXPECT_NE(p[0].value->vector(), other->parameters()[0].value->vector());

  spec.learn_lambda = true;
  EXPECT_EQ(names(*nmode::make_model(spec, 1)),
            (std::vector<std::string>{"0.weight", "0.bias", "1.lambda", "2.weight", "2.bias"}));
  spec.kind = "mlp-relu";
  spec.hidden = 8;
  auto mlp = nmode::make_model(spec, 1);
  EXPECT_EQ(names(*mlp), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  EXPECT_TRUE(mlp->nmode_input_weights().empty());
  spec.kind = "cnn";
  EXPECT_THROW(nmode::make_model(spec, 1), nmode::InvalidArgument);
}

// parameter_shapes must say what make_model builds, for every kind.
TEST(Factory, ParameterShapesAreThoseOfTheBuiltModel) {
  for (const char* kind : {"nmode", "mlp-relu", "mlp-tanh", "node"}) {
    for (bool learn_lambda : {false, true}) {
      ModelSpec s;
      s.kind = kind;
      s.input = 7;
      s.hidden = 5;
      s.classes = 3;
      s.learn_lambda = learn_lambda;
      auto model = nmode::make_model(s, 1);
      std::map<std::string, std::vector<int64_t>> built;
      for (const auto& p : model->parameters()) built[p.name] = p.value->shape();
      EXPECT_EQ(nmode::parameter_shapes(s), built) << kind << (learn_lambda ? " learning lambda" : "");
    }
  }
}

TEST(Factory, MetadataRoundTrip) {
  ModelSpec s;
  s.kind = "mlp-tanh";
  s.input = 17;
  s.hidden = 3;
  s.classes = 4;
  s.lambda = 0.1;  // not exact in binary: needs every digit to come back
  s.t_end = 2.0 / 3.0;
  s.rtol = 1e-7;
  s.atol = 3.3e-9;
  s.learn_lambda = true;
  auto meta = nmode::to_metadata(s);
  EXPECT_EQ(meta.at("model.kind"), "mlp-tanh");
  EXPECT_EQ(meta.at("model.lambda"), "0.1");
  meta["train.lr"] = "0.001";  // other keys in the checkpoint are ignored
  EXPECT_EQ(nmode::spec_from_metadata(meta), s);
  EXPECT_EQ(nmode::spec_from_metadata(nmode::to_metadata(ModelSpec{})), ModelSpec{});

  auto expect_io_error = [](std::map<std::string, std::string> m, const std::string& needle) {
    try {
      nmode::spec_from_metadata(m);
      ADD_FAILURE() << "expected IoError mentioning " << needle;
    } catch (const nmode::IoError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  auto missing = meta;
  missing.erase("model.t_end");
  expect_io_error(missing, "model.t_end");
  auto unknown = meta;
  unknown["model.depth"] = "3";
  expect_io_error(unknown, "model.depth");
  auto garbled = meta;
  garbled["model.hidden"] = "12x";
  expect_io_error(garbled, "model.hidden");
  garbled = meta;
  garbled["model.learn_lambda"] = "yes";
  expect_io_error(garbled, "model.learn_lambda");
  garbled = meta;
  garbled["model.hidden"] = "-4";
  expect_io_error(garbled, "hidden");
}

// ------------------------------------------------------------ Classifier ----

TEST(Model, ClassifierInterfaceMatchesTheTensorApi) {
  ModelSpec spec;
  spec.input = 10;
  spec.hidden = 9;
  spec.classes = 3;
  auto model = nmode::make_model(spec, 77);
  nmode::Classifier& clf = *model;
  EXPECT_EQ(clf.input_dim(), 10);
  EXPECT_EQ(clf.num_classes(), 3);
  const int64_t n = 4;
  const Tensor x = random_tensor({n, 10}, 78, 0.0, 1.0);
  const Tensor dlogits = random_tensor({n, 3}, 79, -1.0, 1.0);

  Tensor logits, dx;
  model->zero_grad();
  model->forward(x, logits, true);
  model->backward(dlogits, &dx);

  auto fresh = nmode::make_model(spec, 77);
  nmode::Classifier& c2 = *fresh;
  std::vector<float> raw_logits(n * 3), raw_dx(n * 10, -1.0f);
  c2.forward(x.data(), n, raw_logits.data(), true);
  c2.backward_input(dlogits.data(), raw_dx.data());
  EXPECT_EQ(raw_logits, logits.vector());
  EXPECT_EQ(raw_dx, dx.vector());
  for (const auto& p : fresh->parameters())
    for (float g : p.grad->vector()) ASSERT_EQ(g, 0.0f) << p.name << ": backward_input must not touch parameter gradients";
}

TEST(Model, UsageErrors) {
  Sequential empty;
  EXPECT_THROW(empty.input_dim(), nmode::InvalidArgument);
  Sequential m;
  m.emplace<nmode::Linear>(4, 3);
  try {
    m.emplace<nmode::Linear>(5, 2);
    ADD_FAILURE() << "expected InvalidArgument";
  } catch (const nmode::InvalidArgument& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("takes 5"), std::string::npos) << w;
    EXPECT_NE(w.find("gives 3"), std::string::npos) << w;
  }
  std::vector<float> dl(3), dx(4);
  EXPECT_THROW(m.backward_input(dl.data(), dx.data()), nmode::InvalidArgument);
  Tensor logits;
  m.forward(Tensor({2, 4}), logits, false);
  EXPECT_THROW(m.backward(Tensor({2, 3})), nmode::InvalidArgument);  // no training forward yet
}

}  // namespace
