// CUDA backend tests: GPU results against the CPU backend on awkward sizes. They
// report SKIPPED with the reason when no GPU is usable; the device-selection tests
// run everywhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "support/gpu_test_util.hpp"
#include "nmode/cuda_solver.hpp"
#include "nmode/device.hpp"
#include "nmode/error.hpp"
#include "support/ode_test_util.hpp"

namespace nmode {
namespace {

TEST(DeviceSelection, AutoFallsBackToCpuWithANoticeWhenNoGpu) {
  std::string reason;
  const bool gpu = cuda_available(&reason);
  std::string notice;
  const Device d = resolve_device(Device::Auto, &notice);
  if (gpu) {
    EXPECT_EQ(d, Device::Cuda);
    EXPECT_TRUE(notice.empty());
  } else {
    EXPECT_EQ(d, Device::Cpu);
    EXPECT_NE(notice.find("CPU"), std::string::npos) << notice;
    EXPECT_FALSE(reason.empty());
    EXPECT_THROW(resolve_device(Device::Cuda), Error);
  }
  EXPECT_EQ(resolve_device(Device::Cpu), Device::Cpu);
  EXPECT_THROW(parse_device("gpu"), InvalidArgument);
}

TEST(DeviceSelection, DoubleOnCudaIsRejected) {
  std::vector<double> y(1);
  SolveOutputs<double> out;
  out.y = y.data();
  const double g = 0.5;
  EXPECT_THROW(solve<double>(SolverOptions{}, 1, &g, nullptr, out, Device::Cuda), InvalidArgument);
}

TEST(CudaSolver, MatchesCpuOnAwkwardSizes) {
  NMODE_REQUIRE_GPU();
  std::mt19937 rng(17);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (int64_t n : {0, 1, 31, 32, 33, 1000, 4097, 256 * 2048}) {
    std::vector<float> gamma(static_cast<size_t>(n));
    for (auto& g : gamma) g = normal(rng);
    SolverOptions o;
    const auto cpu = test::solve_vector(o, gamma, true, nullptr, Device::Cpu);
    const auto gpu = test::solve_vector(o, gamma, true, nullptr, Device::Cuda);
    ASSERT_EQ(gpu.stats.elements, n);
    EXPECT_EQ(gpu.stats.converged, n);
    int64_t close = 0;
    for (int64_t i = 0; i < n; ++i) {
      // Both are within (steps * tol) of the exact solution (see test_ode's
      // derived bound), so they are within twice that of each other, even where
      // __sincosf's rounding flips one accept/reject decision.
      const double bound = 2.0 * 10 * (o.atol + o.rtol);
      ASSERT_NEAR(gpu.y[i], cpu.y[i], bound) << "n " << n << " element " << i;
      ASSERT_NEAR(gpu.dy_dgamma[i], cpu.dy_dgamma[i], 2 * bound) << "n " << n << " element " << i;
      // With the same steps the only difference is sincos rounding, but the float
      // solver is not smooth in its inputs: moving gamma by a few ulp on the CPU
      // moves y by more than 1e-4 in ~0.1% of elements (measured); rounding noise
      // inside every stage can raise that to ~1%. Allow 2%, plus three elements so
      // that one flipped step decision cannot decide a small batch.
      close += std::abs(gpu.y[i] - cpu.y[i]) <= 1e-4f;
    }
    EXPECT_GE(close, n - n / 50 - std::min<int64_t>(n, 3)) << "n " << n;
    if (n >= 1000) {
      EXPECT_NEAR(gpu.stats.mean_accepted(), cpu.stats.mean_accepted(), 0.05) << "n " << n;
    }
  }
}

TEST(CudaSolver, GuardsBehaveAsOnCpu) {
  NMODE_REQUIRE_GPU();
  const std::vector<float> gamma = {0.5f, std::nanf(""), 1.0f};
  SolverOptions o;
  o.max_steps = 2;
  o.t_end = 5;
  const auto r = test::solve_vector(o, gamma, true, nullptr, Device::Cuda);
  EXPECT_EQ(r.status[1], ElementStatus::NonFinite);
  EXPECT_EQ(r.status[0], ElementStatus::MaxSteps);
  EXPECT_EQ(r.stats.non_finite, 1);
  EXPECT_EQ(r.stats.hit_max_steps, 2);
  EXPECT_TRUE(std::isnan(r.y[0]));
}

TEST(CudaSolver, ValueOnlyMatchesWithSensitivities) {
  NMODE_REQUIRE_GPU();
  std::vector<float> gamma(10000);
  for (size_t i = 0; i < gamma.size(); ++i) gamma[i] = std::sin(0.1f * float(i)) * 5;
  const auto a = test::solve_vector(SolverOptions{}, gamma, false, nullptr, Device::Cuda);
  const auto b = test::solve_vector(SolverOptions{}, gamma, true, nullptr, Device::Cuda);
  for (size_t i = 0; i < gamma.size(); ++i) ASSERT_EQ(a.y[i], b.y[i]) << i;
}

}  // namespace
}  // namespace nmode
