// The library examples of README.md, compiled and run so that they cannot drift
// from the API. Keep the two in step.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <nmode/model.hpp>
#include <nmode/ode.hpp>

TEST(ReadmeExample, SolverSnippetRuns) {
  std::vector<float> gamma = {0.2f, -1.5f, 3.0f}, y(3), dy_dgamma(3);
  nmode::SolverOptions options;  // lambda 3, t_end 1, rtol = atol = 1e-3
  options.lambda = 5.0;
  nmode::SolveOutputs<float> out;
  out.y = y.data();
  out.dy_dgamma = dy_dgamma.data();  // sensitivities are computed when asked for
  nmode::SolveStats stats = nmode::solve<float>(options, 3, gamma.data(), nullptr, out, nmode::Device::Auto);
  EXPECT_EQ(stats.failed(), 0);
  EXPECT_GT(stats.mean_accepted(), 1.0);
  EXPECT_LT(stats.mean_accepted(), 10.0);
  for (float v : y) EXPECT_GT(v, 0.0f);  // sin^2 >= 0 drives y up from 0
}

TEST(ReadmeExample, ModelSnippetRuns) {
  auto model = nmode::make_model(nmode::ModelSpec{}, /*seed=*/1);  // 784 -> Linear(2048) -> NmOde -> Linear(10)
  model->set_device(nmode::resolve_device(nmode::Device::Auto));    // the GPU when one answers
  nmode::Tensor x({2, 784}, 0.5f), logits;
  model->forward(x, logits, /*training=*/false);                    // logits: (2, 10)
  EXPECT_EQ(model->device(), nmode::cuda_available() ? nmode::Device::Cuda : nmode::Device::Cpu);
  ASSERT_EQ(logits.shape(), (std::vector<int64_t>{2, 10}));
  for (int64_t i = 0; i < logits.size(); ++i) EXPECT_TRUE(std::isfinite(logits[i])) << i;
}
