// Training on the GPU (Trainer::set_device): what the GPU path refuses, everywhere;
// with a usable GPU, training steps on it against the same steps on the CPU (the
// GPU tests report SKIPPED with the reason otherwise).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "support/model_specs.hpp"
#include "support/gpu_test_util.hpp"
#include "support/synthetic_data.hpp"
#include "nmode/device.hpp"
#include "nmode/error.hpp"
#include "nmode/train.hpp"

namespace nmode {
namespace {

ModelSpec small_spec() { return test::sized_spec(12, 24, 4); }

TEST(TrainOnGpu, WhatTheGpuPathLacksIsRefusedNamingIt) {
  TrainOptions adversarial;
  adversarial.adversarial = AdversarialTraining::Pgd;
  Trainer pgd(small_spec(), adversarial);
  try {
    pgd.set_device(Device::Cuda);
    FAIL() << "adversarial training was put on the GPU";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("adversarial training (pgd) runs on the CPU only"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(pgd.device(), Device::Cpu);
  Trainer plain(small_spec(), TrainOptions{});
  EXPECT_THROW(plain.set_device(Device::Auto), InvalidArgument);
  plain.set_device(Device::Cpu);
  EXPECT_EQ(plain.device(), Device::Cpu);
}

TEST(TrainOnGpu, WithoutAGpuSetDeviceSaysWhy) {
  std::string reason;
  if (cuda_available(&reason)) GTEST_SKIP() << "a GPU is usable here; the GPU tests below cover it";
  Trainer t(small_spec(), TrainOptions{});
  try {
    t.set_device(Device::Cuda);
    FAIL() << "set_device(Cuda) worked without a usable GPU";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(cuda_compiled() ? "no usable GPU" : "built without the CUDA backend"), std::string::npos)
        << message;
  }
  EXPECT_EQ(t.device(), Device::Cpu);
}

// Two epochs of Adam on each device from the same seed. The GPU's GEMMs sum in
// another order and its solver takes its own steps, so the runs differ by
// rounding and solver tolerance. Adam normalises each step to about lr, whatever
// the gradient's size, so a parameter whose exact gradient is near 0 may follow
// its rounding noise either way (up to 8 lr apart after 8 steps); a parameter with
// a real gradient moves the same way on both. Hence: the losses agree, and nearly
// every parameter stays within lr / 10 of its CPU twin. The GPU runs the whole
// step (CudaModel::train_step, Adam included) and hands the parameters and Adam's
// moments back after each epoch: the moments are compared too.
void expect_gpu_epochs_follow_the_cpu(const ModelSpec& spec, const TrainOptions& o) {
  const Dataset data = test::synthetic_dataset(64, spec.input, spec.classes, 17);
  Trainer cpu(spec, o), gpu(spec, o);
  gpu.set_device(Device::Cuda);
  ASSERT_EQ(gpu.device(), Device::Cuda);
  for (int e = 0; e < 2; ++e) {
    const EpochStats a = cpu.train_epoch(data), b = gpu.train_epoch(data);
    EXPECT_NEAR(a.mean_loss, b.mean_loss, 1e-3 * a.mean_loss) << "epoch " << e + 1;
    EXPECT_EQ(a.examples, b.examples);
    EXPECT_NEAR(a.accuracy, b.accuracy, 2.0 / 64) << "epoch " << e + 1;
    // The GPU's solves are counted too (read back with each step's loss).
    EXPECT_EQ(a.solver.elements, b.solver.elements) << "epoch " << e + 1;
    EXPECT_NEAR(a.solver.mean_accepted(), b.solver.mean_accepted(), 0.05) << "epoch " << e + 1;
  }
  const auto& pc = cpu.model().parameters();
  const auto& pg = gpu.model().parameters();
  ASSERT_EQ(pc.size(), pg.size());
  int64_t total = 0, apart = 0;
  double worst = 0;
  for (size_t k = 0; k < pc.size(); ++k)
    for (int64_t i = 0; i < pc[k].value->size(); ++i) {
      const double d = std::abs(double((*pc[k].value)[i]) - double((*pg[k].value)[i]));
      worst = std::max(worst, d);
      apart += d > 0.1 * o.adam.lr;
      total += 1;
    }
  EXPECT_LT(double(apart), 0.02 * double(total)) << apart << " of " << total << " parameters more than lr/10 apart";
  EXPECT_LT(worst, 8 * o.adam.lr + 1e-6) << "a parameter moved further than 8 Adam steps allow";
  // The moments: m follows the gradients, so like the parameters nearly all agree
  // to within a tenth of their own scale.
  std::map<std::string, Tensor> mc, mg;
  std::map<std::string, std::string> meta_c, meta_g;
  cpu.optimizer().export_state(mc, meta_c);
  gpu.optimizer().export_state(mg, meta_g);
  EXPECT_EQ(meta_c.at("adam.step"), meta_g.at("adam.step"));
  ASSERT_EQ(mc.size(), mg.size());
  int64_t moments = 0, moments_apart = 0;
  for (const auto& [name, tc] : mc) {
    const Tensor& tg = mg.at(name);
    ASSERT_EQ(tc.shape(), tg.shape()) << name;
    double scale = 0;
    for (int64_t i = 0; i < tc.size(); ++i) scale = std::max(scale, std::abs(double(tc[i])));
    for (int64_t i = 0; i < tc.size(); ++i) {
      moments_apart += std::abs(double(tc[i]) - double(tg[i])) > 0.1 * scale + 1e-12;
      moments += 1;
    }
  }
  EXPECT_LT(double(moments_apart), 0.02 * double(moments)) << moments_apart << " of " << moments << " moments apart";
}

TEST(TrainOnGpu, EpochsOnTheGpuFollowTheCpuRun) {
  NMODE_REQUIRE_GPU();
  TrainOptions o;
  o.batch = 16;
  o.adam.lr = 1e-3;
  expect_gpu_epochs_follow_the_cpu(small_spec(), o);
}

// The parts of a step that stay on the host (a learnable lambda's gradient and
// update) or need a read-back (nmODE+'s penalty row), and clipping inside the
// device's Adam.
TEST(TrainOnGpu, LearnableLambdaAndNmOdePlusFollowTheCpuRun) {
  NMODE_REQUIRE_GPU();
  ModelSpec spec = small_spec();
  spec.learn_lambda = true;
  TrainOptions o;
  o.batch = 16;
  o.adam.lr = 1e-3;
  o.clip = 0.2;
  o.stable_penalty = 1e-2;
  expect_gpu_epochs_follow_the_cpu(spec, o);
}

}  // namespace
}  // namespace nmode
