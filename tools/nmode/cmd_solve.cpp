// `nmode solve`: integrate the nmODE neuron for a few gammas and print y(t_end),
// its sensitivities, the accepted steps and the status of each element.
#include <cmath>
#include <iostream>
#include <limits>
#include <vector>

#include "cli.hpp"
#include "nmode/error.hpp"
#include "nmode/ode.hpp"

namespace nmode::cli {
namespace {

struct SolveArgs {
  SolverOptions solver;
  double y0 = 0.0;
  bool use_double = false;
  std::vector<double> gamma;
  CommonOptions common;
};

// A finite double that rounds to infinity in float would be reported as a
// non-finite element while the table echoes the finite value the user typed.
void check_fits_in_float(const SolveArgs& a) {
  auto check = [](double v, const char* what) {
    if (std::isfinite(v) && !std::isfinite(static_cast<float>(v)))
      throw InvalidArgument(std::string(what) + " " + format_number(v, 9) + " does not fit in float (largest " +
                            format_number(std::numeric_limits<float>::max(), 9) + "); use --double");
  };
  for (double g : a.gamma) check(g, "--gamma");
  check(a.y0, "--y0");
}

template <class T>
void run(const SolveArgs& a, Device device) {
  const size_t n = a.gamma.size();
  const std::vector<T> gamma(a.gamma.begin(), a.gamma.end());
  const std::vector<T> y0(n, static_cast<T>(a.y0));
  std::vector<T> y(n), s(n), q(n);
  std::vector<ElementStatus> status(n);
  std::vector<int32_t> steps(n);
  SolveOutputs<T> out;
  out.y = y.data();
  out.dy_dgamma = s.data();
  out.dy_dlambda = q.data();
  out.status = status.data();
  out.accepted_steps = steps.data();
  const SolveStats stats = solve(a.solver, int64_t(n), gamma.data(), y0.data(), out, device);
  if (a.common.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (size_t i = 0; i < n; ++i)
      rows.push_back({{"gamma", a.gamma[i]}, {"y", double(y[i])}, {"dy_dgamma", double(s[i])},
                      {"dy_dlambda", double(q[i])}, {"steps", steps[i]}, {"status", to_string(status[i])}});
    print_json(rows);
  } else {
    std::cout << "lambda " << a.solver.lambda << ", t_end " << a.solver.t_end << ", rtol " << a.solver.rtol
              << ", atol " << a.solver.atol << ", y0 " << a.y0 << ", " << (a.use_double ? "double" : "float")
              << " on " << to_string(device) << "\n";
    std::printf("%-24s %-24s %-24s %-24s %6s  %s\n", "gamma", "y", "dy/dgamma", "dy/dlambda", "steps", "status");
    const int digits = a.use_double ? 17 : 9;
    for (size_t i = 0; i < n; ++i)
      std::printf("%-24s %-24s %-24s %-24s %6d  %s\n", format_number(a.gamma[i]).c_str(),
                  format_number(double(y[i]), digits).c_str(), format_number(double(s[i]), digits).c_str(),
                  format_number(double(q[i]), digits).c_str(), steps[i], to_string(status[i]));
  }
  if (stats.failed() > 0) throw Error("the solver failed on " + std::to_string(stats.failed()) + " of " +
                                      std::to_string(n) + " elements: " + stats.summary());
}

}  // namespace

void register_solve(CLI::App& app) {
  auto args = std::make_shared<SolveArgs>();
  CLI::App* sub = app.add_subcommand("solve", "Solve dy/dt = -lambda*y + sin^2(y + gamma) for each gamma");
  sub->add_option("--gamma", args->gamma, "One or more gamma values")->required()->expected(1, -1);
  sub->add_option("--lambda", args->solver.lambda, "Decay rate (negative: the unstable +lambda variant)")
      ->capture_default_str();
  sub->add_option("--t-end", args->solver.t_end, "Integration time t_end >= 0")->required();
  sub->add_option("--rtol", args->solver.rtol, "Relative tolerance (> 0)")->capture_default_str();
  sub->add_option("--atol", args->solver.atol, "Absolute tolerance (>= 0)")->capture_default_str();
  sub->add_option("--y0", args->y0, "Initial value y(0)")->capture_default_str();
  sub->add_option("--max-steps", args->solver.max_steps, "Step attempts per element before giving up")
      ->capture_default_str();
  sub->add_flag("--double", args->use_double, "Solve in double precision (CPU only)");
  add_common_options(*sub, args->common);
  sub->callback([args] {
    if (args->use_double && args->common.device == "cuda")
      throw InvalidArgument("--double runs on the CPU only; drop --device cuda");
    args->solver.validate();
    if (!args->use_double) check_fits_in_float(*args);
    notice_rtol_floor(args->solver.rtol, args->use_double);
    CommonOptions common = args->common;
    if (args->use_double) common.device = "cpu";
    const Device device = apply_common_options(common);
    if (args->use_double) run<double>(*args, device);
    else run<float>(*args, device);
  });
}

}  // namespace nmode::cli
