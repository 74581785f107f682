// FGSM, PGD, APGD and Square on the GPU's own kernels (nmode/cuda_attack.hpp) and the hook that
// routes an attack to them (Classifier::run_attack_on_device). On a GPU, the
// device's run is compared with the portable loop over the same CudaModel:
// both use the same GPU forward and backward, so they differ only where the
// device's double exp/log/cos or its L2 sums round differently from the host's.
// GPU tests report SKIPPED with the reason when no GPU is usable.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "support/model_specs.hpp"
#include "support/attack_test_models.hpp"
#include "support/gpu_test_util.hpp"
#include "nmode/attack.hpp"
#include "nmode/cuda_attack.hpp"
#include "nmode/cuda_model.hpp"
#include "nmode/error.hpp"
#include "nmode/model.hpp"

namespace nmode {
namespace {

// A model whose device takes every run it is offered and answers with a marker.
class DeviceTakesAll : public test::LinearModel {
 public:
  using LinearModel::LinearModel;
  bool run_attack_on_device(const float*, const int32_t*, int64_t n, const AttackConfig&, const int64_t*,
                            AttackResult& result) override {
    ++offers;
    result.fooled.assign(static_cast<size_t>(n), 7);
    return true;
  }
  int offers = 0;
};

TEST(AttackOnDevice, ARunTheDeviceTakesIsReturnedAfterTheInputChecks) {
  const int64_t d = 6, n = 5;
  DeviceTakesAll model(d, 3, std::vector<double>(3 * d, 0.5), {0.0, 0.1, 0.2});
  const std::vector<float> x = test::random_inputs(n, d, 3);
  std::vector<int32_t> y(n, 1);
  AttackConfig config;
  config.eps = 0.1;
  for (AttackKind kind : {AttackKind::FGSM, AttackKind::PGD, AttackKind::APGD, AttackKind::Square}) {
    config.kind = kind;
    const AttackResult r = run_attack(model, x.data(), y.data(), n, config);
    EXPECT_EQ(r.fooled, std::vector<uint8_t>(n, 7)) << to_string(kind);
  }
  EXPECT_EQ(model.offers, 4);

  // Bad input is refused before the device sees it.
  y[2] = 3;
  EXPECT_THROW(run_attack(model, x.data(), y.data(), n, config), InvalidArgument);
  config.eps = -1;
  y[2] = 1;
  EXPECT_THROW(run_attack(model, x.data(), y.data(), n, config), InvalidArgument);
  EXPECT_EQ(model.offers, 4);

  // A trace is the portable implementation's: those runs are not offered.
  config.eps = 0.1;
  config.kind = AttackKind::APGD;
  config.steps = 3;
  ApgdTrace apgd_trace;
  const AttackResult apgd = apgd_attack(model, x.data(), y.data(), n, config, nullptr, &apgd_trace);
  EXPECT_EQ(apgd_trace.n_iter, 3);
  EXPECT_EQ(apgd.x_adv.size(), size_t(n * d));
  config.kind = AttackKind::Square;
  config.n_queries = 4;
  config.image_height = 2;
  config.image_width = 3;
  SquareTrace square_trace;
  square_attack(model, x.data(), y.data(), n, config, nullptr, &square_trace);
  EXPECT_EQ(square_trace.n_queries, 4);
  EXPECT_EQ(model.offers, 4);
}

TEST(AttackOnDevice, TheGpuRunsEveryAttackWithTheModelsOwnGradients) {
  AttackConfig c;
  c.eps = 0.1;
  test::LinearModel other(2, 2, {1, 0, 0, 1}, {0, 0});
  for (AttackKind kind : {AttackKind::FGSM, AttackKind::PGD, AttackKind::APGD, AttackKind::Square}) {
    c.kind = kind;
    c.gradient_model = nullptr;
    EXPECT_TRUE(cuda_attack_supports(c)) << to_string(kind);
    c.gradient_model = &other;
    EXPECT_FALSE(cuda_attack_supports(c)) << to_string(kind) << " with a gradient model";
  }
}

// ---- on a GPU ----

ModelSpec attack_spec() { return test::sized_spec(36, 48, 10); }

struct AttackCase {
  const char* name;
  AttackConfig config;
};

std::vector<AttackCase> attack_cases(Norm norm) {
  std::vector<AttackCase> cases;
  AttackConfig base;
  base.norm = norm;
  base.eps = norm == Norm::Linf ? 0.15 : 1.0;
  base.batch = 32;  // 70 examples: two full batches and a partial one
  base.seed = 11;
  base.steps = 8;
  if (norm == Norm::Linf) {
    AttackConfig fgsm = base;
    fgsm.kind = AttackKind::FGSM;
    fgsm.steps.reset();
    fgsm.track_success = true;  // FGSM has no iterates to track: ignored, as on the CPU
    cases.push_back({"fgsm", fgsm});
  }
  AttackConfig pgd = base;
  pgd.restarts = 2;
  cases.push_back({"pgd-ce restarts 2", pgd});
  AttackConfig dlr = base;
  dlr.loss = AttackLoss::DLR;
  dlr.track_success = true;
  cases.push_back({"pgd-dlr track-success", dlr});
  AttackConfig plain = base;
  plain.random_start = false;
  cases.push_back({"pgd no random start", plain});
  AttackConfig apgd = base;
  apgd.kind = AttackKind::APGD;
  cases.push_back({"apgd-ce", apgd});
  AttackConfig apgd_dlr = apgd;
  apgd_dlr.loss = AttackLoss::DLR;
  apgd_dlr.restarts = 2;
  apgd_dlr.steps = 12;
  cases.push_back({"apgd-dlr restarts 2", apgd_dlr});
  if (norm == Norm::Linf) {
    AttackConfig square = base;
    square.kind = AttackKind::Square;
    square.steps.reset();
    square.n_queries = 60;  // the 6×6 image of attack_spec; few, for the sanitizer runs (gpu-check)
    cases.push_back({"square", square});
    AttackConfig channels = square;
    channels.image_channels = 2;  // 2×3×6: per-channel signs, non-square planes
    channels.image_height = 3;
    channels.image_width = 6;
    channels.p_init = 0.3;
    channels.rescale_schedule = true;
    channels.n_queries = 30;
    cases.push_back({"square 2x3x6 rescaled schedule", channels});
  }
  if (norm == Norm::L2) {
    AttackConfig volume = base;
    volume.l2_start = L2Start::UniformVolume;
    cases.push_back({"pgd uniform-volume start", volume});
  }
  return cases;
}

struct Attacked {
  AttackResult on_device, portable;
};

// One attack through the same CudaModel, on its own kernels and through the portable loop.
Attacked attack_both_ways(Sequential& model, const AttackConfig& config, const std::vector<float>& x,
                          const std::vector<int32_t>& y, const std::vector<int64_t>& ids) {
  CudaModel gpu(model);
  const int64_t n = static_cast<int64_t>(y.size());
  Attacked out;
  out.on_device = run_attack(gpu, x.data(), y.data(), n, config, ids.data());
  gpu.set_attacks_on_device(false);
  out.portable = run_attack(gpu, x.data(), y.data(), n, config, ids.data());
  return out;
}

std::vector<int64_t> shifted_ids(int64_t n) {  // a subset's global indices
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[size_t(i)] = 1000 + 3 * i;
  return ids;
}

// APGD's best losses: the device's double exp/log against the host's, a few ulps.
void expect_same_losses(const std::vector<double>& on_device, const std::vector<double>& portable) {
  ASSERT_EQ(on_device.size(), portable.size());
  for (size_t j = 0; j < portable.size(); ++j) {
    if (std::isnan(portable[j])) {
      EXPECT_TRUE(std::isnan(on_device[j])) << "example " << j;
      continue;
    }
    EXPECT_NEAR(on_device[j], portable[j], 1e-12 * (1 + std::abs(portable[j]))) << "example " << j;
  }
}

TEST(CudaAttack, LinfAttacksOnTheGpuAreThePortableLoopBitForBit) {
  NMODE_REQUIRE_GPU();
  const ModelSpec spec = attack_spec();
  auto model = make_model(spec, 4);
  const int64_t n = 70;
  const std::vector<float> x = test::random_inputs(n, spec.input, 8);
  const std::vector<int32_t> y = test::predicted_labels(*model, x, n);
  const std::vector<int64_t> ids = shifted_ids(n);
  for (const AttackCase& c : attack_cases(Norm::Linf)) {
    SCOPED_TRACE(c.name);
    const Attacked r = attack_both_ways(*model, c.config, x, y, ids);
    // The L∞ starts and steps have no transcendental and no sum (APGD's start has
    // a maximum, exact in any order; Square's margins are one double subtraction):
    // only a 1-ulp difference of a double exp/log that changes a logit gradient's
    // float rounding (odds ~1e-9 per entry), or APGD's comparison of two losses
    // within an ulp, could part them.
    EXPECT_EQ(r.on_device.x_adv, r.portable.x_adv);
    EXPECT_EQ(r.on_device.fooled, r.portable.fooled);
    EXPECT_EQ(r.on_device.queries, r.portable.queries);
    EXPECT_EQ(r.on_device.zero_grad_start, r.portable.zero_grad_start);
    EXPECT_EQ(r.on_device.numerical_failure, r.portable.numerical_failure);
    EXPECT_EQ(r.on_device.x_best, r.portable.x_best);  // APGD's; empty otherwise
    expect_same_losses(r.on_device.loss_best, r.portable.loss_best);
    EXPECT_GT(r.on_device.count_fooled(), 0) << "the case attacks nothing: make eps larger";
  }
}

TEST(CudaAttack, L2AttacksOnTheGpuFollowThePortableLoop) {
  NMODE_REQUIRE_GPU();
  const ModelSpec spec = attack_spec();
  auto model = make_model(spec, 5);
  const int64_t n = 70, d = spec.input;
  const std::vector<float> x = test::random_inputs(n, d, 9);
  const std::vector<int32_t> y = test::predicted_labels(*model, x, n);
  const std::vector<int64_t> ids = shifted_ids(n);
  for (const AttackCase& c : attack_cases(Norm::L2)) {
    SCOPED_TRACE(c.name);
    const Attacked r = attack_both_ways(*model, c.config, x, y, ids);
    // The starts' normals (log, cos) and the norms (a tree on the GPU, a running
    // sum on the host) round differently: ~1e-16 relative in double, which reaches
    // a float coordinate only at a rounding boundary, and eight steps of a smooth
    // map keep that at the float's scale. A verdict may flip only for a point on
    // the decision boundary: allow one.
    int verdicts_differ = 0;
    for (int64_t j = 0; j < n; ++j) {
      if (r.on_device.fooled[size_t(j)] != r.portable.fooled[size_t(j)]) {
        ++verdicts_differ;
        continue;
      }
      for (int64_t i = 0; i < d; ++i)
        ASSERT_NEAR(r.on_device.x_adv[size_t(j * d + i)], r.portable.x_adv[size_t(j * d + i)], 1e-5)
            << "example " << j << " coordinate " << i;
      EXPECT_EQ(r.on_device.queries[size_t(j)], r.portable.queries[size_t(j)]) << "example " << j;
    }
    EXPECT_LE(verdicts_differ, 1);
    EXPECT_EQ(r.on_device.zero_grad_start, r.portable.zero_grad_start);
    EXPECT_GT(r.on_device.count_fooled(), 0) << "the case attacks nothing: make eps larger";
    check_perturbation(x.data(), r.on_device.x_adv.data(), n, d, Norm::L2, c.config.eps, "the GPU's PGD-L2");
  }
}

TEST(CudaAttack, RobustAccuracyOnTheGpuIsTheCpusWithinNoise) {
  NMODE_REQUIRE_GPU();
  const ModelSpec spec = attack_spec();
  auto model = make_model(spec, 6);
  const int64_t n = 200;
  const std::vector<float> x = test::random_inputs(n, spec.input, 10);
  const std::vector<int32_t> y = test::predicted_labels(*model, x, n);
  AttackConfig config;
  config.eps = 0.1;
  config.steps = 10;
  CudaModel gpu(*model);
  const RobustReport on_gpu = evaluate_robustness(gpu, x.data(), y.data(), n, config);
  const RobustReport on_cpu = evaluate_robustness(*model, x.data(), y.data(), n, config);
  // The two models agree to float and solver rounding (test_cuda_model_classifier.cpp);
  // only points within that of a sign change or a decision boundary can differ.
  EXPECT_LE(std::abs(on_gpu.n_clean_correct - on_cpu.n_clean_correct), 2);
  EXPECT_LE(std::abs(on_gpu.n_robust - on_cpu.n_robust), 4);
  EXPECT_LT(on_cpu.n_robust, on_cpu.n_clean_correct) << "the attack should break some points";
}

TEST(CudaAttack, AnUnsupportedConfigIsRefused) {
  NMODE_REQUIRE_GPU();
  auto model = make_model(attack_spec(), 1);
  CudaModel gpu(*model);
  AttackConfig config;
  config.eps = 0.1;
  config.kind = AttackKind::PGD;
  test::LinearModel other(36, 10, std::vector<double>(360, 0.1), std::vector<double>(10, 0.0));
  config.gradient_model = &other;
  const std::vector<float> x(36, 0.5f);
  const int32_t y = 0;
  EXPECT_THROW(cuda_attack(gpu, x.data(), &y, 1, config), InvalidArgument);
  config.gradient_model = nullptr;
  config.kind = AttackKind::Square;
  config.image_channels = 5;  // 36 values are no 5-channel image
  EXPECT_THROW(cuda_attack(gpu, x.data(), &y, 1, config), InvalidArgument);
  config.kind = AttackKind::PGD;
  config.image_channels = 1;
  const int32_t bad_label = 10;
  EXPECT_THROW(cuda_attack(gpu, x.data(), &bad_label, 1, config), InvalidArgument);
  EXPECT_EQ(cuda_attack(gpu, x.data(), &y, 0, config).x_adv.size(), 0u);
}

}  // namespace
}  // namespace nmode
