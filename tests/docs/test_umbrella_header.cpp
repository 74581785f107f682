// nmode/nmode.hpp alone gives the whole public API (this file includes nothing else
// of nmode), and the forwarding header io.hpp still compiles.
#include <gtest/gtest.h>

#include "nmode/io.hpp"
#include "nmode/nmode.hpp"

namespace {

TEST(UmbrellaHeader, DeclaresTheWholeApi) {
  nmode::SolverOptions options;
  options.t_end = 0.5;
  const float gamma[2] = {0.3f, -1.0f};
  float y[2] = {};
  nmode::SolveOutputs<float> out;
  out.y = y;
  const nmode::SolveStats stats = nmode::solve_cpu<float>(options, 2, gamma, nullptr, out);
  EXPECT_EQ(stats.converged, 2);
  EXPECT_EQ(nmode::parse_norm("l2"), nmode::Norm::L2);
  EXPECT_EQ(nmode::parse_attack_kind("apgd"), nmode::AttackKind::APGD);
  EXPECT_STREQ(nmode::to_string(nmode::ElementStatus::MaxSteps), "max_steps");
  EXPECT_GT(nmode::make_model(nmode::ModelSpec{}, 0)->num_classes(), 0);
}

}  // namespace
