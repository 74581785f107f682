// `nmode bench-solver`: the quick throughput probe for a new machine or GPU.
// Solves N random gammas ~ N(0, 2^2) several times and reports the median rate.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <vector>

#include "cli.hpp"
#include "nmode/cuda_solver.hpp"
#include "nmode/simd.hpp"
#include "nmode/error.hpp"
#include "nmode/ode.hpp"
#include "nmode/random.hpp"

namespace nmode::cli {
namespace {

struct BenchArgs {
  int64_t n = 256 * 2048;
  SolverOptions solver;
  bool sens = false;
  int repeat = 5;
  uint64_t seed = 0;
  CommonOptions common;
};

// What every report holds: the problem, where it ran, and the solver's steps.
nlohmann::json report_json(const BenchArgs& a, const SolveStats& stats, const std::string& where) {
  return {{"elements", a.n},          {"repeat", a.repeat},
          {"mean_accepted_steps", stats.mean_accepted()}, {"max_accepted_steps", stats.max_accepted},
          {"rejected_steps", stats.rejected_steps},       {"failed", stats.failed()},
          {"sensitivities", a.sens},  {"lambda", a.solver.lambda},
          {"t_end", a.solver.t_end},  {"rtol", a.solver.rtol},
          {"atol", a.solver.atol},    {"device", where}};
}

void print_header(const BenchArgs& a, const std::string& where) {
  std::printf("%lld elements, t_end %g, lambda %g, tol %g/%g, %s, on %s\n", (long long)a.n, a.solver.t_end,
              a.solver.lambda, a.solver.rtol, a.solver.atol, a.sens ? "with sensitivities" : "value only",
              where.c_str());
}

void print_steps(const SolveStats& stats) {
  std::printf("  accepted steps per element: mean %.3f, max %lld; rejected in total %lld\n", stats.mean_accepted(),
              (long long)stats.max_accepted, (long long)stats.rejected_steps);
}

// The GPU: the solver on device-resident data (the rate reported), and apart from
// it the same solve end to end with allocation and host<->device copies, and the
// device-resident solve once more in element order, to show what sorting tiles by
// gamma mod pi saves (CudaOrder).
SolveStats run_cuda(const BenchArgs& a, const std::vector<float>& gamma) {
  const CudaSolveTiming t = time_solve_cuda(a.solver, a.n, gamma.data(), a.sens, a.repeat);
  const CudaSolveTiming in_order = time_solve_cuda(a.solver, a.n, gamma.data(), a.sens, a.repeat, CudaOrder::InOrder);
  const double rate = double(a.n) / t.kernel_seconds, end_to_end = double(a.n) / t.end_to_end_seconds;
  const double in_order_rate = double(a.n) / in_order.kernel_seconds;
  const std::string where = "cuda (" + cuda_device_name() + ")";
  if (a.common.json) {
    nlohmann::json j = report_json(a, t.stats, where);
    j["elements_per_second"] = rate;
    j["median_seconds"] = t.kernel_seconds;
    j["idle_lane_fraction"] = t.stats.idle_lane_fraction();
    j["end_to_end_elements_per_second"] = end_to_end;
    j["end_to_end_median_seconds"] = t.end_to_end_seconds;
    j["in_order_elements_per_second"] = in_order_rate;
    j["in_order_idle_lane_fraction"] = in_order.stats.idle_lane_fraction();
    print_json(j);
  } else {
    print_header(a, where);
    std::printf("  solver on device-resident data: %.3f M elements/s (median of %d: %.6f s, CUDA events)\n",
                rate / 1e6, a.repeat, t.kernel_seconds);
    std::printf("  end to end from host arrays (allocation and copies included): %.3f M elements/s (%.6f s)\n",
                end_to_end / 1e6, t.end_to_end_seconds);
    print_steps(t.stats);
    std::printf("  idle lane slots in the warps: %.1f %% (tiles sorted by gamma mod pi); in element order %.1f %%, "
                "%.3f M elements/s\n",
                100.0 * t.stats.idle_lane_fraction(), 100.0 * in_order.stats.idle_lane_fraction(),
                in_order_rate / 1e6);
  }
  return t.stats;
}

SolveStats run_cpu(const BenchArgs& a, const std::vector<float>& gamma) {
  std::vector<float> y(gamma.size()), s, q;
  SolveOutputs<float> out;
  out.y = y.data();
  if (a.sens) {
    s.resize(gamma.size());
    q.resize(gamma.size());
    out.dy_dgamma = s.data();
    out.dy_dlambda = q.data();
  }
  SolveStats stats = solve<float>(a.solver, a.n, gamma.data(), nullptr, out, Device::Cpu);  // warm-up
  std::vector<double> seconds;
  for (int r = 0; r < a.repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    stats = solve<float>(a.solver, a.n, gamma.data(), nullptr, out, Device::Cpu);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  const double rate = double(a.n) / median;
  const std::string where =
      "cpu (" + std::to_string(openmp_threads()) + " threads, SIMD target " + to_string(active_simd_target()) + ")";
  if (a.common.json) {
    nlohmann::json j = report_json(a, stats, where);
    j["elements_per_second"] = rate;
    j["median_seconds"] = median;
    j["simd_target"] = to_string(active_simd_target());
    j["idle_lane_fraction"] = stats.idle_lane_fraction();
    print_json(j);
  } else {
    print_header(a, where);
    std::printf("  %.3f M elements/s (median of %d: %.4f s)\n", rate / 1e6, a.repeat, median);
    print_steps(stats);
    std::printf("  idle lane slots: %.1f %%\n", 100.0 * stats.idle_lane_fraction());
  }
  return stats;
}

void run(const BenchArgs& a, Device device) {
  std::vector<float> gamma(static_cast<size_t>(a.n));
  SplitMix64 rng(a.seed);
  for (auto& g : gamma) g = static_cast<float>(2.0 * rng.next_normal());
  const SolveStats stats = device == Device::Cuda ? run_cuda(a, gamma) : run_cpu(a, gamma);
  if (stats.failed() > 0) throw Error("the solver failed on some elements: " + stats.summary());
}

}  // namespace

void register_bench_solver(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* sub = app.add_subcommand("bench-solver", "Measure solver throughput on random gammas ~ N(0, 2^2)");
  sub->add_option("--n", args->n, "Number of elements")->check(CLI::Range(int64_t(1), int64_t(1) << 34))
      ->capture_default_str();
  sub->add_option("--t-end", args->solver.t_end, "Integration time")->capture_default_str();
  sub->add_option("--lambda", args->solver.lambda, "Decay rate")->capture_default_str();
  sub->add_option("--rtol", args->solver.rtol, "Relative tolerance")->capture_default_str();
  sub->add_option("--atol", args->solver.atol, "Absolute tolerance")->capture_default_str();
  sub->add_flag("--sens", args->sens, "Also compute dy/dgamma and dy/dlambda (as training does)");
  sub->add_option("--repeat", args->repeat, "Timed runs after one warm-up; the median is reported")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  sub->add_option("--seed", args->seed, "Seed of the random gammas")->capture_default_str();
  add_common_options(*sub, args->common);
  sub->callback([args] {
    args->solver.validate();
    notice_rtol_floor(args->solver.rtol, false);
    run(*args, apply_common_options(args->common));
  });
}

}  // namespace nmode::cli
