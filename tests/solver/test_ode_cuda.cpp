// CUDA backend tests: GPU results against the CPU backend on awkward sizes. They
// report SKIPPED with the reason when no GPU is usable; the device-selection tests
// run everywhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "support/gpu_test_util.hpp"
#include "nmode/cuda_solver.hpp"
#include "nmode/device.hpp"
#include "nmode/device_buffer.hpp"
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

// Device buffers exist only in a CUDA build: without one, these tests skip.
#if defined(NMODE_HAS_CUDA)
// Everything a GPU solve returns, from device-resident gamma (and bias).
struct GpuSolved {
  std::vector<float> y, s, q;
  std::vector<ElementStatus> status;
  std::vector<int32_t> accepted;
  SolveStats stats;
};

// Bit for bit, NaN included (a failed element's outputs are NaN).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

GpuSolved solve_on_gpu(const std::vector<float>& gamma, const CudaSolveOptions& gpu,
                       const std::vector<float>* bias = nullptr) {
  const size_t n = gamma.size();
  DeviceBuffer<float> d_gamma(n), d_y(n), d_s(n), d_q(n), d_bias(bias ? bias->size() : 0);
  DeviceBuffer<ElementStatus> d_status(n);
  DeviceBuffer<int32_t> d_accepted(n);
  d_gamma.copy_from_host(gamma.data(), n);
  CudaSolveOptions options = gpu;
  if (bias) {
    d_bias.copy_from_host(bias->data(), bias->size());
    options.bias = d_bias.data();
    options.bias_period = int64_t(bias->size());
  }
  SolveOutputs<float> out;
  out.y = d_y.data();
  out.dy_dgamma = d_s.data();
  out.dy_dlambda = d_q.data();
  out.status = d_status.data();
  out.accepted_steps = d_accepted.data();
  GpuSolved r;
  r.stats = solve_cuda(SolverOptions{}, int64_t(n), d_gamma.data(), nullptr, out, options);
  r.y = d_y.to_host_vector();
  r.s = d_s.to_host_vector();
  r.q = d_q.to_host_vector();
  r.status = d_status.to_host_vector();
  r.accepted = d_accepted.to_host_vector();
  return r;
}

// Sorting tiles by gamma mod pi only changes which thread solves an element: every
// output and count must be the same bit for bit as in element order, on sizes
// around the tile (512) and the reference batch; only the warps' idle share may
// differ, and for gamma ~ N(0, 2^2) it must shrink.
TEST(CudaSolver, GroupedOrderGivesTheInOrderResultsBitForBit) {
  NMODE_REQUIRE_GPU();
  std::mt19937 rng(23);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (int64_t n : {1, 33, 511, 512, 513, 4097, 256 * 2048 + 7}) {
    std::vector<float> gamma(static_cast<size_t>(n));
    for (auto& g : gamma) g = normal(rng);
    if (n > 100) gamma[50] = std::nanf("");
    CudaSolveOptions grouped, in_order;
    in_order.order = CudaOrder::InOrder;
    const GpuSolved a = solve_on_gpu(gamma, grouped), b = solve_on_gpu(gamma, in_order);
    ASSERT_TRUE(same_bits(a.y, b.y)) << "n " << n;
    ASSERT_TRUE(same_bits(a.s, b.s)) << "n " << n;
    ASSERT_TRUE(same_bits(a.q, b.q)) << "n " << n;
    ASSERT_EQ(a.status, b.status) << "n " << n;
    ASSERT_EQ(a.accepted, b.accepted) << "n " << n;
    EXPECT_EQ(a.stats.elements, n);
    EXPECT_EQ(a.stats.accepted_steps, b.stats.accepted_steps);
    EXPECT_EQ(a.stats.rejected_steps, b.stats.rejected_steps);
    EXPECT_EQ(a.stats.max_attempts, b.stats.max_attempts);
    EXPECT_EQ(a.stats.converged, b.stats.converged);
    EXPECT_EQ(a.stats.non_finite, b.stats.non_finite);
    for (const SolveStats* st : {&a.stats, &b.stats}) {
      EXPECT_GE(st->lane_slots, st->accepted_steps + st->rejected_steps) << "n " << n;
      EXPECT_LE(st->lane_slots, 32 * st->max_attempts * ((n + 31) / 32)) << "n " << n;  // warps with a lane busy
    }
    if (n > 100000) {
      EXPECT_LT(a.stats.idle_lane_fraction(), b.stats.idle_lane_fraction()) << "n " << n;
    }
  }
}

// The Linear layer's bias added as the solver reads gamma: the same single float
// addition as adding it on the host first, so the same results bit for bit.
TEST(CudaSolver, FusedBiasEqualsAddingTheBiasFirst) {
  NMODE_REQUIRE_GPU();
  std::mt19937 rng(29);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  const int64_t rows = 37, cols = 301;
  std::vector<float> gamma(static_cast<size_t>(rows * cols)), bias(static_cast<size_t>(cols));
  std::vector<float> added(gamma.size());
  for (auto& g : gamma) g = normal(rng);
  for (auto& b : bias) b = normal(rng);
  for (size_t i = 0; i < gamma.size(); ++i) added[i] = gamma[i] + bias[i % size_t(cols)];
  for (CudaOrder order : {CudaOrder::Grouped, CudaOrder::InOrder}) {
    CudaSolveOptions gpu;
    gpu.order = order;
    const GpuSolved fused = solve_on_gpu(gamma, gpu, &bias), first = solve_on_gpu(added, gpu);
    ASSERT_TRUE(same_bits(fused.y, first.y));
    ASSERT_TRUE(same_bits(fused.s, first.s));
    ASSERT_TRUE(same_bits(fused.q, first.q));
  }
  std::vector<float> y(4);
  SolveOutputs<float> out;
  out.y = y.data();
  CudaSolveOptions no_period;
  no_period.bias = bias.data();  // never read: the period is checked first
  EXPECT_THROW(solve_cuda(SolverOptions{}, 4, gamma.data(), nullptr, out, no_period), InvalidArgument);
}
// Deferred statistics (a training step reads them back with its loss): the solve
// returns at once with empty statistics, and the slots, once copied back, hold the
// synchronous solve's statistics; two solves into the same slots add up.
TEST(CudaSolver, DeferredStatisticsAreTheSynchronousOnes) {
  NMODE_REQUIRE_GPU();
  std::vector<float> gamma(5000);
  for (size_t i = 0; i < gamma.size(); ++i) gamma[i] = std::sin(0.7f * float(i)) * 3;
  const GpuSolved now = solve_on_gpu(gamma, CudaSolveOptions{});
  const size_t slots = static_cast<size_t>(cuda_solve_stat_slots());
  DeviceBuffer<unsigned long long> d_slots(slots);
  d_slots.copy_from_host(std::vector<unsigned long long>(slots, 0).data(), slots);
  CudaSolveOptions later;
  later.deferred_stats = d_slots.data();
  for (int round = 1; round <= 2; ++round) {
    const GpuSolved deferred = solve_on_gpu(gamma, later);
    EXPECT_EQ(deferred.stats.elements, 0) << "deferred statistics are not returned";
    ASSERT_TRUE(same_bits(deferred.y, now.y));
    const SolveStats read = cuda_solve_stats(d_slots.to_host_vector().data());
    EXPECT_EQ(read.elements, round * now.stats.elements);
    EXPECT_EQ(read.accepted_steps, round * now.stats.accepted_steps);
    EXPECT_EQ(read.rejected_steps, round * now.stats.rejected_steps);
    EXPECT_EQ(read.converged, round * now.stats.converged);
    EXPECT_EQ(read.max_attempts, now.stats.max_attempts);
    EXPECT_EQ(read.lane_slots, round * now.stats.lane_slots);
  }
}

#else
TEST(CudaSolver, GroupedOrderGivesTheInOrderResultsBitForBit) { GTEST_SKIP() << "built without the CUDA backend"; }
TEST(CudaSolver, FusedBiasEqualsAddingTheBiasFirst) { GTEST_SKIP() << "built without the CUDA backend"; }
TEST(CudaSolver, DeferredStatisticsAreTheSynchronousOnes) { GTEST_SKIP() << "built without the CUDA backend"; }
#endif  // NMODE_HAS_CUDA

// bench-solver's GPU timing: both times measured and positive, the device-resident
// solve no slower than the end-to-end one that adds allocation and copies, and
// the statistics those of the CPU's solve of the same gammas (same steps per
// element: the same per-element code, within a step where float rounding differs).
TEST(CudaSolver, TimingSeparatesTheSolverFromTheCopies) {
  std::vector<float> gamma(1 << 20);
  for (size_t i = 0; i < gamma.size(); ++i) gamma[i] = std::sin(0.37f * float(i)) * 4;
  std::string reason;
  if (!cuda_available(&reason)) {
    EXPECT_THROW(time_solve_cuda(SolverOptions{}, int64_t(gamma.size()), gamma.data(), true, 1), Error);
    GTEST_SKIP() << "no usable GPU: " << reason;
  }
  EXPECT_THROW(time_solve_cuda(SolverOptions{}, 4, gamma.data(), true, 0), InvalidArgument);
  const CudaSolveTiming t = time_solve_cuda(SolverOptions{}, int64_t(gamma.size()), gamma.data(), true, 3);
  EXPECT_GT(t.kernel_seconds, 0.0);
  EXPECT_GT(t.end_to_end_seconds, t.kernel_seconds);
  const auto cpu = test::solve_vector(SolverOptions{}, gamma, true, nullptr, Device::Cpu);
  EXPECT_EQ(t.stats.elements, int64_t(gamma.size()));
  EXPECT_EQ(t.stats.failed(), 0);
  EXPECT_NEAR(t.stats.mean_accepted(), cpu.stats.mean_accepted(), 0.01);
}

}  // namespace
}  // namespace nmode
