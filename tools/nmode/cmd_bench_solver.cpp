// `nmode bench-solver`: the quick throughput probe for a new machine or GPU.
// Solves N random gammas ~ N(0, 2^2) several times and reports the median rate.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <vector>

#include "cli.hpp"
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

void run(const BenchArgs& a, Device device) {
  std::vector<float> gamma(static_cast<size_t>(a.n)), y(gamma.size()), s, q;
  SplitMix64 rng(a.seed);
  for (auto& g : gamma) g = static_cast<float>(2.0 * rng.next_normal());
  SolveOutputs<float> out;
  out.y = y.data();
  if (a.sens) {
    s.resize(gamma.size());
    q.resize(gamma.size());
    out.dy_dgamma = s.data();
    out.dy_dlambda = q.data();
  }
  SolveStats stats = solve<float>(a.solver, a.n, gamma.data(), nullptr, out, device);  // warm-up
  std::vector<double> seconds;
  for (int r = 0; r < a.repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    stats = solve<float>(a.solver, a.n, gamma.data(), nullptr, out, device);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  const double rate = double(a.n) / median;
  const std::string where =
      device == Device::Cuda ? "cuda (" + cuda_device_name() + ")"
                             : "cpu (" + std::to_string(openmp_threads()) + " threads, SIMD target " +
                                   to_string(active_simd_target()) + ")";
  if (a.common.json) {
    print_json({{"elements", a.n}, {"elements_per_second", rate}, {"median_seconds", median},
                {"repeat", a.repeat}, {"mean_accepted_steps", stats.mean_accepted()},
                {"max_accepted_steps", stats.max_accepted}, {"rejected_steps", stats.rejected_steps},
                {"failed", stats.failed()}, {"sensitivities", a.sens}, {"lambda", a.solver.lambda},
                {"t_end", a.solver.t_end}, {"rtol", a.solver.rtol}, {"atol", a.solver.atol}, {"device", where},
                {"simd_target", device == Device::Cuda ? "" : to_string(active_simd_target())},
                {"idle_lane_fraction", stats.idle_lane_fraction()}});
  } else {
    std::printf("%lld elements, t_end %g, lambda %g, tol %g/%g, %s, on %s\n", (long long)a.n, a.solver.t_end,
                a.solver.lambda, a.solver.rtol, a.solver.atol, a.sens ? "with sensitivities" : "value only",
                where.c_str());
    std::printf("  %.3f M elements/s (median of %d: %.4f s)\n", rate / 1e6, a.repeat, median);
    std::printf("  accepted steps per element: mean %.3f, max %lld; rejected in total %lld\n",
                stats.mean_accepted(), (long long)stats.max_accepted, (long long)stats.rejected_steps);
    if (device != Device::Cuda) std::printf("  idle lane slots: %.1f %%\n", 100.0 * stats.idle_lane_fraction());
  }
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
