// CudaModel as the Classifier the attacks use: its raw-array forward and input
// gradient must give the Tensor calls' results (same kernels, bitwise) and, within
// float and solver rounding, the CPU model's; they must leave parameter gradients
// alone. GPU tests report SKIPPED with the reason when no GPU is usable.
#include <gtest/gtest.h>

#include <cmath>
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
  ModelSpec spec = test::sized_spec(20, 33, 7);
  // Tight tolerances: CPU and GPU then differ by rounding, not by the solver's error.
  spec.rtol = 1e-6;
  spec.atol = 1e-6;
  return spec;
}

std::vector<float> pixels(int64_t count, uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<float> x(static_cast<size_t>(count));
  for (float& v : x) v = static_cast<float>(rng.next_uniform01());
  return x;
}

TEST(CudaModelAsClassifier, MatchesTheTensorCallsAndCpuAndKeepsParameterGradients) {
  NMODE_REQUIRE_GPU();
  const ModelSpec spec = small_spec();
  auto cpu = make_model(spec, 5);
  auto host = make_model(spec, 5);
  CudaModel gpu(*host);
  Classifier& classifier = gpu;
  CudaModel reference(*host);
  EXPECT_EQ(gpu.input_dim(), 20);
  EXPECT_EQ(gpu.num_classes(), 7);
  EXPECT_THROW(gpu.backward_input(nullptr, nullptr), InvalidArgument);  // no gradient forward yet

  for (int64_t n : {1, 31, 257}) {
    SCOPED_TRACE("batch " + std::to_string(n));
    const std::vector<float> x = pixels(n * 20, 100 + static_cast<uint64_t>(n));
    std::vector<float> dlogits = pixels(n * 7, 200 + static_cast<uint64_t>(n));
    for (float& v : dlogits) v -= 0.5f;
    std::vector<float> logits(static_cast<size_t>(n * 7)), dx(static_cast<size_t>(n * 20));
    std::vector<float> logits_cpu(logits.size()), dx_cpu(dx.size());

    host->zero_grad();
    classifier.forward(x.data(), n, logits.data(), true);
    classifier.backward_input(dlogits.data(), dx.data());
    for (const ParameterRef& p : host->parameters())
      for (int64_t i = 0; i < p.grad->size(); ++i) ASSERT_EQ((*p.grad)[i], 0.0f) << p.name << " was touched";

    // The same kernels through the Tensor calls: bitwise equal.
    Tensor xt({n, 20}), logits_ref, dlogits_t({n, 7}), dx_ref;
    std::copy(x.begin(), x.end(), xt.data());
    std::copy(dlogits.begin(), dlogits.end(), dlogits_t.data());
    reference.forward(xt, logits_ref, true);
    reference.backward_input(dlogits_t, dx_ref);
    for (int64_t i = 0; i < logits_ref.size(); ++i) ASSERT_EQ(logits[size_t(i)], logits_ref[i]) << "logit " << i;
    for (int64_t i = 0; i < dx_ref.size(); ++i) ASSERT_EQ(dx[size_t(i)], dx_ref[i]) << "dx " << i;

    // The CPU model: the same numbers up to float rounding of sums of about 40
    // terms of size ~1 and the solver's 1e-6 tolerance (test_cuda_model.cpp has
    // the element-by-element bounds); 1e-4 leaves a wide margin.
    cpu->forward(x.data(), n, logits_cpu.data(), true);
    cpu->backward_input(dlogits.data(), dx_cpu.data());
    for (size_t i = 0; i < logits.size(); ++i)
      ASSERT_NEAR(logits[i], logits_cpu[i], 1e-4 * (1 + std::abs(logits_cpu[i]))) << "logit " << i;
    for (size_t i = 0; i < dx.size(); ++i)
      ASSERT_NEAR(dx[i], dx_cpu[i], 1e-4 * (1 + std::abs(dx_cpu[i]))) << "dx " << i;
  }

  // After an inference forward CudaModel has no gradient state to give.
  std::vector<float> x = pixels(20, 1), logits(7), dlogits(7, 1.0f), dx(20);
  gpu.forward(x.data(), 1, logits.data(), false);
  EXPECT_THROW(gpu.backward_input(dlogits.data(), dx.data()), InvalidArgument);
}

}  // namespace
}  // namespace nmode
