// `nmode demo`: one nmODE layer on random data: solve gamma = W x + b for a batch,
// report the throughput, and check Theorem 1 (the stability bound) on a perturbed
// input: ||y - y'||_inf <= tau/(lambda-1) * ||x - x'||_inf.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <vector>

#include "cli.hpp"
#include "nmode/error.hpp"
#include "nmode/ode.hpp"
#include "nmode/random.hpp"

namespace nmode::cli {
namespace {

struct DemoArgs {
  int64_t batch = 256, inputs = 784, width = 2048;
  double lambda = 3.0, t_end = 1.0, delta = 0.05;
  uint64_t seed = 0;
  CommonOptions common;
};

// gamma[b][i] = sum_j W[i][j] x[b][j] + bias[i]; plain loops: this is a demo.
std::vector<float> affine(const std::vector<float>& W, const std::vector<float>& bias, const std::vector<float>& x,
                          int64_t batch, int64_t inputs, int64_t width) {
  std::vector<float> gamma(static_cast<size_t>(batch * width));
#pragma omp parallel for
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < width; ++i) {
      double s = bias[size_t(i)];
      for (int64_t j = 0; j < inputs; ++j) s += double(W[size_t(i * inputs + j)]) * x[size_t(b * inputs + j)];
      gamma[size_t(b * width + i)] = float(s);
    }
  return gamma;
}

void run(const DemoArgs& a, Device device) {
  if (!(a.lambda > 1)) throw InvalidArgument("--lambda must be > 1 for the stability bound, got " + std::to_string(a.lambda));
  SplitMix64 rng(a.seed);
  const float scale = float(1.0 / std::sqrt(double(a.inputs)));  // PyTorch's default Linear init range
  std::vector<float> W(size_t(a.width * a.inputs)), bias(size_t(a.width)), x(size_t(a.batch * a.inputs));
  for (auto& w : W) w = scale * float(2 * rng.next_uniform01() - 1);
  for (auto& v : bias) v = scale * float(2 * rng.next_uniform01() - 1);
  for (auto& v : x) v = float(rng.next_uniform01());
  std::vector<float> x2(x);
  for (auto& v : x2) v += float(a.delta * (2 * rng.next_uniform01() - 1));
  double tau = 0, dx = 0;
  for (int64_t i = 0; i < a.width; ++i) {
    double row = 0;
    for (int64_t j = 0; j < a.inputs; ++j) row += std::abs(W[size_t(i * a.inputs + j)]);
    tau = std::max(tau, row);
  }
  for (size_t k = 0; k < x.size(); ++k) dx = std::max(dx, std::abs(double(x[k]) - x2[k]));

  const std::vector<float> g1 = affine(W, bias, x, a.batch, a.inputs, a.width);
  const std::vector<float> g2 = affine(W, bias, x2, a.batch, a.inputs, a.width);
  SolverOptions o;
  o.lambda = a.lambda;
  o.t_end = a.t_end;
  const int64_t n = int64_t(g1.size());
  std::vector<float> y1(g1.size()), y2(g1.size()), s(g1.size());
  SolveOutputs<float> out1, out2;
  out1.y = y1.data();
  out1.dy_dgamma = s.data();
  out2.y = y2.data();
  solve<float>(o, n, g1.data(), nullptr, out1, device);  // warm-up
  const auto t0 = std::chrono::steady_clock::now();
  const SolveStats stats = solve<float>(o, n, g1.data(), nullptr, out1, device);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  solve<float>(o, n, g2.data(), nullptr, out2, device);
  double dy = 0;
  for (size_t k = 0; k < y1.size(); ++k) dy = std::max(dy, std::abs(double(y1[k]) - y2[k]));
  const double bound_inf = tau / (a.lambda - 1) * dx;
  const double bound_t = -std::expm1(-(a.lambda - 1) * a.t_end) / (a.lambda - 1) * tau * dx;
  // The solver's own error (tolerance per step) can exceed the bound's slack.
  const double solver_slack = 2.0 * double(stats.max_accepted) * (o.atol + o.rtol);
  const bool holds = dy <= bound_t + solver_slack;
  if (a.common.json) {
    print_json({{"elements", n}, {"elements_per_second", double(n) / seconds}, {"mean_accepted_steps", stats.mean_accepted()},
                {"tau", tau}, {"dx_inf", dx}, {"dy_inf", dy}, {"bound_theorem", bound_inf}, {"bound_finite_time", bound_t},
                {"solver_slack", solver_slack}, {"theorem_holds", holds}});
  } else {
    std::printf("nmODE layer %lld x %lld, lambda %g, t_end %g on %s\n", (long long)a.batch, (long long)a.width, a.lambda,
                a.t_end, to_string(device));
    std::printf("  solve with sensitivities: %.2f M elements/s, %.2f accepted steps/element\n", double(n) / seconds / 1e6,
                stats.mean_accepted());
    std::printf("  Theorem 1: ||dx||inf = %.4g, tau = %.4g\n", dx, tau);
    std::printf("    ||dy||inf = %.4g  <=  tau/(lambda-1)*||dx|| = %.4g ; finite-time bound %.4g (+ solver slack %.2g): %s\n",
                dy, bound_inf, bound_t, solver_slack, holds ? "holds" : "VIOLATED");
  }
  if (!holds) throw Error("the stability bound was violated: this is a bug");
}

}  // namespace

void register_demo(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* sub = app.add_subcommand("demo", "Solve one random nmODE layer, report throughput and check Theorem 1");
  sub->add_option("--batch", args->batch, "Batch size")->check(CLI::Range(int64_t(1), int64_t(1) << 20))->capture_default_str();
  sub->add_option("--width", args->width, "Hidden units")->check(CLI::Range(int64_t(1), int64_t(1) << 20))->capture_default_str();
  sub->add_option("--lambda", args->lambda, "Decay rate (> 1)")->capture_default_str();
  sub->add_option("--t-end", args->t_end, "Integration time")->capture_default_str();
  sub->add_option("--delta", args->delta, "Size of the input perturbation (L-inf)")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  sub->add_option("--seed", args->seed, "Seed")->capture_default_str();
  add_common_options(*sub, args->common);
  sub->callback([args] { run(*args, apply_common_options(args->common)); });
}

}  // namespace nmode::cli
