// Sequential::set_device: one model on either device. Without a GPU the model
// must refuse Cuda with the reason and keep computing on the CPU; with one, every
// call must be its GPU half's (CudaModel: same kernels, bit for bit) until it
// comes back to the CPU. GPU tests report SKIPPED with the reason when no GPU is usable.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/model_specs.hpp"
#include "support/gpu_test_util.hpp"
#include "nmode/cuda_model.hpp"
#include "nmode/device.hpp"
#include "nmode/error.hpp"
#include "nmode/model.hpp"
#include "nmode/random.hpp"

namespace nmode {
namespace {

ModelSpec small_spec() {
  ModelSpec spec = test::sized_spec(12, 9, 5);
  spec.learn_lambda = true;
  return spec;
}

Tensor pixels(int64_t n, int64_t d, uint64_t seed) {
  SplitMix64 rng(seed);
  Tensor x({n, d});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(rng.next_uniform01());
  return x;
}

void expect_equal(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << what << " " << i;
}

TEST(ModelDevice, AutoIsRefusedAndCpuIsTheDefault) {
  auto model = make_model(small_spec(), 1);
  EXPECT_EQ(model->device(), Device::Cpu);
  EXPECT_EQ(model->gpu(), nullptr);
  EXPECT_THROW(model->set_device(Device::Auto), InvalidArgument);
  EXPECT_NO_THROW(model->set_device(Device::Cpu));
  EXPECT_EQ(model->device(), Device::Cpu);
}

// A refused set_device leaves the model where it was, computing as before.
TEST(ModelDevice, WithoutAGpuCudaIsRefusedWithTheReasonAndTheModelStaysOnTheCpu) {
  std::string reason;
  if (cuda_available(&reason)) GTEST_SKIP() << "a GPU is usable here: the refusal cannot happen";
  auto model = make_model(small_spec(), 1), twin = make_model(small_spec(), 1);
  try {
    model->set_device(Device::Cuda);
    FAIL() << "set_device(Cuda) succeeded without a usable GPU";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(cuda_compiled() ? reason : std::string("built without the CUDA backend")),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("--device cpu"), std::string::npos) << message;
  }
  EXPECT_EQ(model->device(), Device::Cpu);
  const Tensor x = pixels(3, 12, 7);
  Tensor logits, expected;
  model->forward(x, logits, false);
  twin->forward(x, expected, false);
  expect_equal(logits, expected, "logits");
}

TEST(ModelDevice, OnTheGpuEveryCallIsCudaModelsAndAddIsRefused) {
  NMODE_REQUIRE_GPU();
  auto model = make_model(small_spec(), 3), twin = make_model(small_spec(), 3);
  model->set_device(Device::Cuda);
  ASSERT_EQ(model->device(), Device::Cuda);
  ASSERT_NE(model->gpu(), nullptr);
  CudaModel reference(*twin);
  const int64_t n = 17;
  const Tensor x = pixels(n, 12, 11);
  Tensor dlogits = pixels(n, 5, 12);
  Tensor logits, dx, logits_ref, dx_ref;
  model->zero_grad();
  twin->zero_grad();
  model->forward(x, logits, true);
  const SolveStats stats = last_solver_stats(*model);  // the GPU's solves, not the CPU layers'
  EXPECT_EQ(stats.elements, n * 9);
  EXPECT_EQ(stats.converged, n * 9);
  model->backward(dlogits, &dx);
  reference.forward(x, logits_ref, true);
  reference.backward(dlogits, &dx_ref);
  expect_equal(logits, logits_ref, "logits");
  expect_equal(dx, dx_ref, "dx");
  const std::vector<ParameterRef>& got = model->parameters();
  const std::vector<ParameterRef>& want = twin->parameters();
  for (size_t k = 0; k < got.size(); ++k) expect_equal(*got[k].grad, *want[k].grad, got[k].name);

  // The Classifier calls, on raw arrays.
  std::vector<float> raw_logits(size_t(n * 5)), raw_dx(size_t(n * 12));
  model->forward(x.data(), n, raw_logits.data(), true);
  model->backward_input(dlogits.data(), raw_dx.data());
  for (size_t i = 0; i < raw_logits.size(); ++i) ASSERT_EQ(raw_logits[i], logits_ref[int64_t(i)]) << "logit " << i;
  for (size_t i = 0; i < raw_dx.size(); ++i) ASSERT_EQ(raw_dx[i], dx_ref[int64_t(i)]) << "dx " << i;

  EXPECT_THROW(model->emplace<ReLU>(5), InvalidArgument);
  EXPECT_EQ(model->size(), twin->size());

  // Back on the CPU: the CPU's results again.
  model->set_device(Device::Cpu);
  EXPECT_EQ(model->gpu(), nullptr);
  Tensor logits_cpu, expected;
  model->forward(x, logits_cpu, false);
  twin->forward(x, expected, false);
  expect_equal(logits_cpu, expected, "logits back on the CPU");
}

}  // namespace
}  // namespace nmode
