// The library example of README.md, compiled and run so that it cannot drift
// from the API. Keep the two in step.
#include <gtest/gtest.h>

#include <vector>

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
