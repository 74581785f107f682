// Checks Adam against a hand-written double re-implementation (bias correction,
// L2 and decoupled decay), the nmODE+ clipping and penalty subgradient on
// hand-built matrices, bitwise resume from exported state, and the softmax
// cross-entropy and accuracy count against naive references and closed forms.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "nmode/error.hpp"
#include "nmode/loss.hpp"
#include "nmode/optim.hpp"
#include "nmode/random.hpp"
#include "nmode/simd.hpp"
#include "support/simd_test_util.hpp"

namespace {

using nmode::Adam;
using nmode::AdamOptions;
using nmode::NmOdePlusOptions;
using nmode::ParameterRef;
using nmode::Tensor;
using nmode::WeightDecay;

constexpr double kEpsF = std::numeric_limits<float>::epsilon();

// The optimizer suites run once per supported SIMD target.
NMODE_PER_SIMD_TARGET(AdamPerTarget);
NMODE_PER_SIMD_TARGET(NmOdePlusPerTarget);

Tensor random_tensor(std::vector<int64_t> shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Tensor t(std::move(shape));
  nmode::SplitMix64 rng(seed);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(lo + (hi - lo) * rng.next_uniform01());
  return t;
}

// Two parameters with their gradients, as a model would expose them.
struct Params {
  Tensor w = random_tensor({3, 4}, 1), b = random_tensor({4}, 2), gw{3, 4}, gb{4};
  std::vector<ParameterRef> refs() { return {{"0.weight", &w, &gw}, {"0.bias", &b, &gb}}; }
};

// Adam with every option in play: weight decay, and nmODE+ clipping and penalty on `weight`.
Adam adam_with_everything(const std::string& weight, double clip) {
  AdamOptions o;
  o.lr = 0.05;
  o.weight_decay = 0.01;
  NmOdePlusOptions plus;
  plus.weights = {weight};
  plus.clip = clip;
  plus.stable_penalty = 0.3;
  return Adam(o, plus);
}

// PyTorch's Adam written out in double for one tensor (textbook form with m-hat, v-hat).
struct ReferenceAdam {
  double lr, b1, b2, eps, wd;
  bool decoupled;
  std::vector<double> w, m, v;
  int t = 0;
  void step(const std::vector<double>& g) {
    ++t;
    for (size_t i = 0; i < w.size(); ++i) {
      double gi = g[i];
      if (!decoupled) gi += wd * w[i];
      if (decoupled) w[i] -= lr * wd * w[i];
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      const double mhat = m[i] / (1 - std::pow(b1, t));
      const double vhat = v[i] / (1 - std::pow(b2, t));
      w[i] -= lr * mhat / (std::sqrt(vhat) + eps);
    }
  }
};

void check_against_reference(WeightDecay mode, double wd) {
  AdamOptions o;
  o.lr = 1e-2;
  o.weight_decay = wd;
  o.decay_mode = mode;
  Adam adam(o);
  Params p;
  ReferenceAdam rw{o.lr, o.beta1, o.beta2, o.eps, wd, mode == WeightDecay::Decoupled, {}, {}, {}};
  ReferenceAdam rb = rw;
  rw.w.assign(p.w.vector().begin(), p.w.vector().end());
  rb.w.assign(p.b.vector().begin(), p.b.vector().end());
  rw.m.assign(12, 0);
  rw.v.assign(12, 0);
  rb.m.assign(4, 0);
  rb.v.assign(4, 0);
  for (int step = 1; step <= 6; ++step) {
    // Fixed gradients per step, including sign changes and a tiny component.
    p.gw = random_tensor({3, 4}, 100 + uint64_t(step), -2.0, 2.0);
    p.gb = random_tensor({4}, 200 + uint64_t(step), -0.1, 0.1);
    p.gb[0] = 1e-9f;
    adam.step(p.refs());
    rw.step(std::vector<double>(p.gw.vector().begin(), p.gw.vector().end()));
    rb.step(std::vector<double>(p.gb.vector().begin(), p.gb.vector().end()));
    EXPECT_EQ(adam.step_count(), step);
    // The implementation stores w, m, v in float after every step: each rounding
    // is half an ulp (of |w|, and of m, v, which moves the update lr*m/sqrt(v)
    // by ~1.5 eps relative), accumulated over `step` steps.
    for (int64_t i = 0; i < 12; ++i)
      ASSERT_NEAR(p.w[i], rw.w[i], step * (kEpsF * std::abs(rw.w[i]) + 2 * kEpsF * o.lr)) << "step " << step << " w" << i;
    for (int64_t i = 0; i < 4; ++i)
      ASSERT_NEAR(p.b[i], rb.w[i], step * (kEpsF * std::abs(rb.w[i]) + 2 * kEpsF * o.lr)) << "step " << step << " b" << i;
  }
}

TEST_P(AdamPerTarget, MatchesDoubleReferenceWithoutDecay) { check_against_reference(WeightDecay::L2, 0.0); }
TEST_P(AdamPerTarget, MatchesDoubleReferenceWithL2Decay) { check_against_reference(WeightDecay::L2, 0.1); }
TEST_P(AdamPerTarget, MatchesDoubleReferenceWithDecoupledDecay) { check_against_reference(WeightDecay::Decoupled, 0.1); }

// Step 1 in closed form: m-hat = g', v-hat = g'^2, so the step is lr * g'/(|g'| + eps).
TEST_P(AdamPerTarget, FirstStepClosedFormsForBothDecayModes) {
  const double lr = 0.01, wd = 0.5;
  for (WeightDecay mode : {WeightDecay::L2, WeightDecay::Decoupled}) {
    AdamOptions o;
    o.lr = lr;
    o.weight_decay = wd;
    o.decay_mode = mode;
    Adam adam(o);
    Tensor w({3}), g({3});
    w[0] = 2.0f, w[1] = -1.0f, w[2] = 0.5f;
    g[0] = 0.25f, g[1] = 0.25f, g[2] = -0.25f;
    adam.step({{"p", &w, &g}});
    const double w0[3] = {2.0, -1.0, 0.5}, g0[3] = {0.25, 0.25, -0.25};
    for (int i = 0; i < 3; ++i) {
      double expect;
      if (mode == WeightDecay::L2) {
        const double ge = g0[i] + wd * w0[i];  // 1.25, -0.25, 0 -> a zero effective gradient moves nothing
        expect = w0[i] - lr * ge / (std::abs(ge) + 1e-8);
      } else {
        expect = w0[i] * (1 - lr * wd) - lr * g0[i] / (std::abs(g0[i]) + 1e-8);
      }
      EXPECT_NEAR(w[i], expect, kEpsF * std::abs(expect)) << (mode == WeightDecay::L2 ? "L2 " : "decoupled ") << i;
    }
  }
}

TEST_P(AdamPerTarget, ParameterListMustStayTheSame) {
  Adam adam;
  Params p;
  adam.step(p.refs());
  auto refs = p.refs();
  refs.pop_back();
  EXPECT_THROW(adam.step(refs), nmode::InvalidArgument);
  refs = p.refs();
  refs[1].name = "0.other";
  EXPECT_THROW(adam.step(refs), nmode::InvalidArgument);
}

TEST_P(AdamPerTarget, OptionsAreValidated) {
  AdamOptions o;
  o.beta1 = 1.0;
  EXPECT_THROW(Adam{o}, nmode::InvalidArgument);
  o = AdamOptions{};
  o.lr = -1;
  EXPECT_THROW(Adam{o}, nmode::InvalidArgument);
  o = AdamOptions{};
  o.weight_decay = std::nan("");
  EXPECT_THROW(Adam{o}, nmode::InvalidArgument);
  NmOdePlusOptions plus;
  plus.clip = 1.0;  // but no weights named
  EXPECT_THROW((Adam{AdamOptions{}, plus}), nmode::InvalidArgument);
  plus.weights = {"9.weight"};
  Adam adam(AdamOptions{}, plus);
  Params p;
  try {
    adam.step(p.refs());
    ADD_FAILURE() << "expected InvalidArgument";
  } catch (const nmode::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("9.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("0.bias"), std::string::npos) << e.what();
  }
}

// A caller that runs the update on its own copy (the GPU's train_step) takes
// next_step's constants and applies detail::adam_update_element: over steps with
// weight decay, the penalty (whose row it finds itself) and clipping, that must be
// step() bit for bit, moments included.
TEST_P(AdamPerTarget, NextStepAppliedByTheCallerIsStepBitForBit) {
  Adam own = adam_with_everything("0.weight", 0.6), caller = adam_with_everything("0.weight", 0.6);
  Params a, b;
  EXPECT_THROW(caller.first_moment(0), nmode::InvalidArgument) << "no moments before the first step";
  for (int step = 1; step <= 5; ++step) {
    a.gw = b.gw = random_tensor({3, 4}, 300 + uint64_t(step), -2.0, 2.0);
    a.gb = b.gb = random_tensor({4}, 400 + uint64_t(step), -0.5, 0.5);
    own.step(a.refs());
    const std::vector<ParameterRef> refs = b.refs();
    int asked = 0;
    const auto constants = caller.next_step(refs, [&](size_t k) {
      ++asked;
      return nmode::row_l1_argmax(*refs[k].value);
    });
    EXPECT_EQ(asked, 1) << "the penalty row is asked for the nmODE+ weight only";
    ASSERT_EQ(constants.size(), refs.size());
    for (size_t k = 0; k < refs.size(); ++k)
      for (int64_t i = 0; i < refs[k].value->size(); ++i)
        nmode::detail::adam_update_element(constants[k], i, refs[k].value->data(), refs[k].grad->data(),
                                           caller.first_moment(k).data(), caller.second_moment(k).data());
    EXPECT_EQ(caller.step_count(), own.step_count());
    ASSERT_EQ(0, std::memcmp(a.w.data(), b.w.data(), sizeof(float) * 12)) << "step " << step;
    ASSERT_EQ(0, std::memcmp(a.b.data(), b.b.data(), sizeof(float) * 4)) << "step " << step;
    for (size_t k = 0; k < 2; ++k) {
      ASSERT_EQ(own.first_moment(k).vector(), caller.first_moment(k).vector()) << "step " << step;
      ASSERT_EQ(own.second_moment(k).vector(), caller.second_moment(k).vector()) << "step " << step;
    }
  }
  EXPECT_EQ(caller.bound_parameters(), 2u);
  EXPECT_THROW(caller.first_moment(2), nmode::InvalidArgument);
}

// ------------------------------------------------------------- nmODE+ ----

TEST_P(NmOdePlusPerTarget, ClippingAppliesToTheNamedMatrixOnly) {
  AdamOptions o;
  o.lr = 1.0;  // a step of ~1 pushes weights past the clip value
  NmOdePlusOptions plus;
  plus.weights = {"0.weight"};
  plus.clip = 0.3;
  Adam adam(o, plus);
  Params p;
  for (int64_t i = 0; i < 12; ++i) p.gw[i] = (i % 2) ? 1.0f : -1.0f;
  for (int64_t i = 0; i < 4; ++i) p.gb[i] = -1.0f;
  const Tensor w0 = p.w, b0 = p.b;
  adam.step(p.refs());
  for (int64_t i = 0; i < 12; ++i) {
    const double moved = double(w0[i]) - 1.0 * p.gw[i] / (1.0 + 1e-8);
    const double expect = std::min(std::max(moved, -0.3), 0.3);
    EXPECT_NEAR(p.w[i], expect, kEpsF * std::abs(expect)) << i;
  }
  for (int64_t i = 0; i < 4; ++i) EXPECT_NEAR(p.b[i], b0[i] + 1.0, 2 * kEpsF) << "the bias is not clipped";
}

TEST_P(NmOdePlusPerTarget, RowL1MaxAndTies) {
  // Rows' L1 norms: 3, 3, 3 -> the tie goes to row 0.
  Tensor w({3, 3});
  const float vals[9] = {1, -2, 0, 0.5f, 0.5f, -2, 3, 0, 0};
  for (int i = 0; i < 9; ++i) w[i] = vals[i];
  EXPECT_EQ(nmode::row_l1_max(w), 3.0);
  EXPECT_EQ(nmode::row_l1_argmax(w), 0);
  w[8] = -0.25f;  // row 2 now 3.25
  EXPECT_EQ(nmode::row_l1_max(w), 3.25);
  EXPECT_EQ(nmode::row_l1_argmax(w), 2);
  EXPECT_EQ(nmode::row_l1_argmax(Tensor({0, 4})), -1);
  EXPECT_EQ(nmode::row_l1_max(Tensor({0, 4})), 0.0);
  w[4] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(nmode::row_l1_max(w)));
  EXPECT_EQ(nmode::row_l1_argmax(w), 2) << "a NaN row never wins";
  EXPECT_THROW(nmode::row_l1_max(Tensor({3})), nmode::InvalidArgument);
  // A large matrix (the parallel path) with the maximum tied on two far rows.
  Tensor big({2048, 64}, 0.01f);
  big[1000 * 64 + 5] = 1.0f;
  big[1900 * 64 + 7] = -1.0f;
  EXPECT_EQ(nmode::row_l1_argmax(big), 1000);
}

TEST_P(NmOdePlusPerTarget, PenaltySubgradientHitsTheLargestRowOnly) {
  const double lr = 0.01, eta = 0.5;
  AdamOptions o;
  o.lr = lr;
  NmOdePlusOptions plus;
  plus.weights = {"w"};
  plus.stable_penalty = eta;
  Adam adam(o, plus);
  Tensor w({3, 3}), g({3, 3});  // zero loss gradient: only the penalty moves W
  const float vals[9] = {1, -2, 0, 0.5f, 0.5f, -2, 3, 0, 0};  // tie of 3s -> row 0
  for (int i = 0; i < 9; ++i) w[i] = vals[i];
  adam.step({{"w", &w, &g}});
  // Row 0's effective gradient is eta * sign(w) = (0.5, -0.5, 0): step 1 moves
  // each nonzero entry by lr * sign toward 0; sign(0) = 0 leaves w[2] alone.
  const double expect[9] = {1 - lr, -2 + lr, 0, 0.5, 0.5, -2, 3, 0, 0};
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(w[i], expect[i], kEpsF * std::abs(expect[i])) << i;
  for (int i = 0; i < 9; ++i) EXPECT_EQ(g[i], 0.0f) << "the gradient tensor itself is left alone";
  // Row 0 shrank to 2.98 < 3, so the second step's subgradient moves to row 1.
  EXPECT_EQ(nmode::row_l1_argmax(w), 1);
  adam.step({{"w", &w, &g}});
  EXPECT_LT(std::abs(w[3]), 0.5f);
  EXPECT_LT(std::abs(w[5]), 2.0f);
  EXPECT_EQ(w[6], 3.0f) << "row 2 is never the largest here";
}

// --------------------------------------------------------------- resume ----

TEST_P(AdamPerTarget, ExportedStateResumesBitwise) {
  AdamOptions o;
  o.lr = 3e-3;
  o.weight_decay = 0.01;
  o.decay_mode = WeightDecay::Decoupled;
  NmOdePlusOptions plus{{"0.weight"}, 0.9, 1e-3};
  Adam a(o, plus);
  Params pa;
  auto grads = [](Params& p, int step) {
    p.gw = random_tensor({3, 4}, 300 + uint64_t(step));
    p.gb = random_tensor({4}, 400 + uint64_t(step));
  };
  for (int s = 0; s < 3; ++s) {
    grads(pa, s);
    a.step(pa.refs());
  }
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> meta;
  a.export_state(tensors, meta);
  EXPECT_EQ(meta.at("adam.step"), "3");
  EXPECT_EQ(tensors.at("adam.m.0.weight").shape(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(tensors.count("adam.v.0.bias"), 1u);

  Params pb;  // "loaded from the checkpoint": same weights, fresh optimizer
  pb.w = pa.w;
  pb.b = pa.b;
  Adam b(o, plus);
  b.import_state(pb.refs(), tensors, meta);
  EXPECT_EQ(b.step_count(), 3);
  for (int s = 3; s < 6; ++s) {
    grads(pa, s);
    grads(pb, s);
    a.step(pa.refs());
    b.step(pb.refs());
  }
  EXPECT_EQ(pa.w.vector(), pb.w.vector());
  EXPECT_EQ(pa.b.vector(), pb.b.vector());

  auto missing = tensors;
  missing.erase("adam.v.0.bias");
  Adam c(o, plus);
  EXPECT_THROW(c.import_state(pb.refs(), missing, meta), nmode::IoError);
  auto bad_meta = meta;
  bad_meta["adam.step"] = "three";
  EXPECT_THROW(c.import_state(pb.refs(), tensors, bad_meta), nmode::IoError);
  auto bad_shape = tensors;
  bad_shape["adam.m.0.weight"] = Tensor({4, 3});
  EXPECT_THROW(c.import_state(pb.refs(), bad_shape, meta), nmode::IoError);
}

// ----------------------------------------------------------------- loss ----

TEST(SoftmaxCrossEntropy, MatchesNaiveDoubleImplementation) {
  const int64_t n = 5, k = 7;
  const Tensor logits = random_tensor({n, k}, 50, -5.0, 5.0);
  const std::vector<int32_t> labels = {0, 6, 3, 3, 1};
  Tensor d;
  const double loss = nmode::softmax_cross_entropy(logits, labels.data(), &d);
  double ref = 0;
  for (int64_t i = 0; i < n; ++i) {
    double sum = 0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp(double(logits[i * k + j]));
    ref += std::log(sum) - logits[i * k + labels[i]];
    for (int64_t j = 0; j < k; ++j) {
      const double expect = (std::exp(double(logits[i * k + j])) / sum - (j == labels[i])) / double(n);
      // Computed in double, rounded once to float.
      ASSERT_NEAR(d[i * k + j], expect, 0.5 * kEpsF * std::abs(expect) + 1e-12) << i << "," << j;
    }
  }
  ref /= double(n);
  EXPECT_NEAR(loss, ref, 1e-14 * std::abs(ref));  // both double: only summation order differs

  // In place (dlogits = logits) gives the same gradient.
  Tensor inplace = logits;
  nmode::softmax_cross_entropy(inplace, labels.data(), &inplace);
  EXPECT_EQ(inplace.vector(), d.vector());
}

TEST(SoftmaxCrossEntropy, HugeLogitsStayFinite) {
  Tensor logits({3, 3});
  const float v[9] = {1e4f, 0, -1e4f, 1e4f, 1e4f, -1e4f, -1e4f, -1e4f, -1e4f};
  for (int i = 0; i < 9; ++i) logits[i] = v[i];
  const int32_t labels[3] = {1, 0, 2};
  Tensor d;
  const double loss = nmode::softmax_cross_entropy(logits, labels, &d);
  // Row 0: -log softmax = 1e4 (+ e^-1e4, invisible); row 1: log 2; row 2: log 3.
  EXPECT_NEAR(loss, (1e4 + std::log(2.0) + std::log(3.0)) / 3, 1e-12 * 1e4);
  const double expect[9] = {1.0 / 3, -1.0 / 3, 0, (0.5 - 1) / 3, 0.5 / 3, 0, 1.0 / 9, 1.0 / 9, (1.0 / 3 - 1) / 3};
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(d[i], expect[i], kEpsF) << i;
}

TEST(SoftmaxCrossEntropy, GradientMatchesFiniteDifferences) {
  const int64_t n = 4, k = 6;
  Tensor logits = random_tensor({n, k}, 60, -3.0, 3.0);
  const std::vector<int32_t> labels = {5, 0, 2, 2};
  Tensor d;
  nmode::softmax_cross_entropy(logits, labels.data(), &d);
  const float h = 1.0f / 128;  // a power of two: z +- h is exact for |z| < 3
  for (int64_t i = 0; i < logits.size(); ++i) {
    const float saved = logits[i];
    logits[i] = saved + h;
    const double up = nmode::softmax_cross_entropy(logits, labels.data(), nullptr);
    logits[i] = saved - h;
    const double down = nmode::softmax_cross_entropy(logits, labels.data(), nullptr);
    logits[i] = saved;
    // Truncation h^2/6 * |d3 L/dz3| (<= 1/n) ~ 1e-6; the double loss adds ~1e-16/h.
    EXPECT_NEAR(d[i], (up - down) / (2 * double(h)), 2e-6) << i;
  }
}

TEST(SoftmaxCrossEntropy, BadLabelsAndEdgeCases) {
  Tensor logits({2, 3}, 0.5f);
  Tensor d({1, 1}, 42.0f);
  const int32_t bad[2] = {1, 3};
  try {
    nmode::softmax_cross_entropy(logits, bad, &d);
    ADD_FAILURE() << "expected InvalidArgument";
  } catch (const nmode::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("label 3 of example 1 is outside [0, 3)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(d.shape(), (std::vector<int64_t>{1, 1})) << "nothing is written on a bad label";
  EXPECT_EQ(d[0], 42.0f);
  const int32_t negative[2] = {-1, 0};
  EXPECT_THROW(nmode::count_correct(logits, negative), nmode::InvalidArgument);
  EXPECT_THROW(nmode::softmax_cross_entropy(Tensor({3}), bad, nullptr), nmode::InvalidArgument);

  EXPECT_EQ(nmode::softmax_cross_entropy(Tensor({0, 3}), nullptr, &d), 0.0);
  EXPECT_EQ(d.shape(), (std::vector<int64_t>{0, 3}));
  const int32_t ok[2] = {0, 2};
  logits[1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(nmode::softmax_cross_entropy(logits, ok, nullptr)));
}

TEST(CountCorrect, TiesGoToTheSmallestIndexAndNonFiniteRowsAreWrong) {
  Tensor logits({6, 3});
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const float v[18] = {1, 3, 3,    // tie between 1 and 2 -> predicts 1
                       1, 3, 3,    // same row, label 2 -> wrong
                       5, 5, 5,    // all tied -> predicts 0
                       nan, 0, 0,  // NaN -> wrong whatever the label
                       0, inf, 0,  // Inf -> wrong even at the label
                       -1, -2, -0.5f};
  for (int i = 0; i < 18; ++i) logits[i] = v[i];
  const int32_t labels[6] = {1, 2, 0, 1, 1, 2};
  EXPECT_EQ(nmode::count_correct(logits, labels), 3);
  EXPECT_EQ(nmode::count_correct(Tensor({0, 3}), nullptr), 0);
}

// Every target's update equals the scalar one bit for bit, on a matrix long
// enough for whole vectors and tails, with L2 decay, clipping and the penalty
// row starting and ending inside a vector.
TEST(AdamTargets, AgreeBitwiseWithTheScalarUpdate) {
  const auto run = [](nmode::SimdTarget target) {
    nmode::set_simd_target(target);
    Adam adam = adam_with_everything("w", 0.9);
    Tensor w = random_tensor({7, 1001}, 5), g = random_tensor({7, 1001}, 6);
    w[3 * 1001 + 17] = 40.0f;  // row 3 carries the penalty
    for (int step = 0; step < 3; ++step) adam.step({{"w", &w, &g}});
    return w;
  };
  const nmode::SimdTarget before = nmode::active_simd_target();
  const Tensor ref = run(nmode::SimdTarget::Scalar);
  for (nmode::SimdTarget t : nmode::supported_simd_targets()) {
    const Tensor w = run(t);
    int64_t differ = 0;
    for (int64_t i = 0; i < w.size(); ++i) {
      const float a = w[i], b = ref[i];
      differ += std::memcmp(&a, &b, sizeof(float)) != 0;
    }
    EXPECT_EQ(differ, 0) << nmode::to_string(t);
  }
  nmode::set_simd_target(before);
}

}  // namespace
