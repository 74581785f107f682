// Evaluation sanity checks on a small nmODE model trained on real MNIST
// (attacks.md §7; skipped with the reason when the data is absent): unbounded
// attacks succeed, robust accuracy falls with eps, iterative attacks beat FGSM,
// more steps never help the defence, black-box Square finds little that PGD
// missed; and adversarial training (PGD-AT, TRADES) works and is deterministic.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "nmode/attack.hpp"
#include "nmode/dataset.hpp"
#include "nmode/error.hpp"
#include "nmode/train.hpp"
#include "support/mnist_test_util.hpp"

namespace nmode {
namespace {

// One trained model and 200 test images, shared by the tests of this file.
struct Trained {
  std::unique_ptr<Trainer> trainer;
  Dataset test;
  std::string skip_reason;
};

Trained& trained() {
  static Trained t = [] {
    Trained r;
    const std::string dir = test::mnist_data_dir();
    try {
      Dataset train = take_first(load_dataset("mnist", Split::Train, dir), 6000);
      r.test = take_first(load_dataset("mnist", Split::Test, dir), 200);
      ModelSpec spec;
      spec.hidden = 128;
      TrainOptions o;
      r.trainer = std::make_unique<Trainer>(spec, o);
      for (int e = 0; e < 3; ++e) r.trainer->train_epoch(train);
    } catch (const IoError& e) {
      r.skip_reason = e.what();
    }
    return r;
  }();
  return t;
}

#define NMODE_REQUIRE_MODEL()                                                        \
  if (!trained().skip_reason.empty()) GTEST_SKIP() << "MNIST not available: " << trained().skip_reason

double robust(AttackKind kind, Norm norm, double eps, int steps = 0, int queries = 0) {
  Trained& t = trained();
  AttackConfig c;
  c.kind = kind;
  c.norm = norm;
  c.eps = eps;
  if (steps > 0) c.steps = steps;
  if (queries > 0) c.n_queries = queries;
  const RobustReport r =
      evaluate_robustness(t.trainer->model(), t.test.images.data(), t.test.labels.data(), t.test.size(), c);
  EXPECT_EQ(r.numerical_failures, 0);
  return r.robust_accuracy;
}

// One point = 1/200 = 0.005; "noise" below is two points.
constexpr double kNoise = 0.01;

TEST(RobustnessSanity, UnboundedAttacksSucceed) {
  NMODE_REQUIRE_MODEL();
  EXPECT_LE(robust(AttackKind::PGD, Norm::Linf, 1.0), 0.01);
  EXPECT_LE(robust(AttackKind::APGD, Norm::Linf, 1.0), 0.01);
  EXPECT_LE(robust(AttackKind::PGD, Norm::L2, 28.0), 0.01);
}

TEST(RobustnessSanity, MonotoneInEpsAndIterativeBeatsSingleStep) {
  NMODE_REQUIRE_MODEL();
  double previous = 1.0;
  for (double eps : {0.0, 0.02, 0.05, 0.1}) {
    const double pgd = robust(AttackKind::PGD, Norm::Linf, eps);
    EXPECT_LE(pgd, previous + kNoise) << "eps " << eps;
    EXPECT_LE(pgd, robust(AttackKind::FGSM, Norm::Linf, eps) + kNoise) << "eps " << eps;
    previous = pgd;
  }
}

TEST(RobustnessSanity, MoreStepsAndApgdDoNotHelpTheDefence) {
  NMODE_REQUIRE_MODEL();
  const double pgd10 = robust(AttackKind::PGD, Norm::Linf, 0.05, 10);
  const double pgd40 = robust(AttackKind::PGD, Norm::Linf, 0.05, 40);
  const double pgd100 = robust(AttackKind::PGD, Norm::Linf, 0.05, 100);
  EXPECT_LE(pgd40, pgd10 + kNoise);
  EXPECT_LE(pgd100, pgd40 + kNoise);
  EXPECT_LE(robust(AttackKind::APGD, Norm::Linf, 0.05, 100), pgd40 + kNoise);
}

TEST(RobustnessSanity, SquareFindsLittleThatPgdMissed) {
  NMODE_REQUIRE_MODEL();
  Trained& t = trained();
  AttackConfig pgd;
  pgd.kind = AttackKind::PGD;
  pgd.eps = 0.05;
  AttackConfig square;
  square.kind = AttackKind::Square;
  square.eps = 0.05;
  square.n_queries = 300;
  const RobustReport white = evaluate_robustness(t.trainer->model(), t.test.images.data(), t.test.labels.data(),
                                                 t.test.size(), pgd);
  const RobustReport both = evaluate_ensemble(t.trainer->model(), t.test.images.data(), t.test.labels.data(),
                                              t.test.size(), {pgd, square});
  // AutoAttack flags more than 0.2 points; on 200 images one point is 0.5, so
  // allow two images: more would point to masked gradients.
  EXPECT_LE(white.robust_accuracy - both.robust_accuracy, kNoise);
}

TEST(AdversarialTraining, PgdAtAndTradesRunDeterministicallyAndRaiseRobustness) {
  NMODE_REQUIRE_MODEL();
  const Dataset train = take_first(load_dataset("mnist", Split::Train, test::mnist_data_dir()), 2000);
  const Dataset& test = trained().test;
  ModelSpec spec;
  spec.hidden = 64;
  auto robust_of = [&](Sequential& m) {
    AttackConfig c;
    c.kind = AttackKind::PGD;
    c.eps = 0.1;
    c.steps = 20;
    return evaluate_robustness(m, test.images.data(), test.labels.data(), test.size(), c).robust_accuracy;
  };
  TrainOptions plain;
  Trainer base(spec, plain);
  for (int e = 0; e < 3; ++e) base.train_epoch(train);
  for (AdversarialTraining kind : {AdversarialTraining::Pgd, AdversarialTraining::Trades}) {
    TrainOptions o;
    o.adversarial = kind;
    o.adv_eps = 0.1;
    o.adv_steps = 5;
    Trainer a(spec, o), b(spec, o);
    for (int e = 0; e < 3; ++e) {
      a.train_epoch(train);
      b.train_epoch(train);
    }
    // Same seed, same result, bitwise.
    const auto& pa = a.model().parameters();
    const auto& pb = b.model().parameters();
    for (size_t i = 0; i < pa.size(); ++i)
      ASSERT_EQ(std::memcmp(pa[i].value->data(), pb[i].value->data(), pa[i].value->size() * sizeof(float)), 0);
    // Training against the attack must leave the model more robust to it than
    // plain training does (measured: 26.5 % plain, 41.5 % PGD-AT, 35 % TRADES at eps 0.1).
    EXPECT_GT(robust_of(a.model()), robust_of(base.model()) + 0.05) << to_string(kind);
  }
}

}  // namespace
}  // namespace nmode
