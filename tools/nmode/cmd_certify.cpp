// `nmode certify`: certified radii and certified accuracy of an nmODE checkpoint
// from the stability theorem, for L-inf or L2 perturbations.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "model_on_device.hpp"
#include "data_options.hpp"
#include "nmode/certify_model.hpp"
#include "nmode/error.hpp"

namespace nmode::cli {
namespace {

struct CertifyArgs {
  ModelOptions model;
  DataOptions data;
  std::string norm = "linf";
  std::vector<double> deltas{0.001, 0.003, 0.01, 0.03, 0.05, 0.1};
  int64_t n = 1000;
  bool exact_ode = false;
  CommonOptions common;
};

void run(const CertifyArgs& a) {
  // The certificate covers the float network that computed the logits, whose solver
  // error it measures against double solves layer by layer: that is the CPU model.
  gpu_or_cpu(apply_common_options(a.common), a.common, [] {
    throw InvalidArgument("certify computes on the CPU (the certificate covers the CPU's float network, measured "
                          "layer by layer against double-precision solves)");
  });
  const auto [model, spec, data] = load_model_and_data(a.model, a.data, Split::Test, a.n, "--n");
  const Norm norm = parse_norm(a.norm);
  const ModelCertificate c = certify_model(*model, data.images, data.labels.data(), norm, 256, !a.exact_ode);
  const std::vector<double> acc_f = certified_fraction(c.radius_finite, a.deltas);
  const std::vector<double> acc_t = certified_fraction(c.radius_theorem, a.deltas);
  int64_t correct = 0;
  for (uint8_t v : c.correct) correct += v;
  std::vector<double> sorted = c.radius_finite;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.empty() ? 0.0 : sorted[sorted.size() / 2];
  if (a.common.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (size_t i = 0; i < a.deltas.size(); ++i)
      rows.push_back({{"delta", a.deltas[i]}, {"certified_finite_time", acc_f[i]}, {"certified_theorem", acc_t[i]},
                      {"global_output_bound", global_output_bound(c.tau, a.deltas[i], c.lambda)}});
    print_json({{"model", a.model.path}, {"norm", a.norm}, {"n", a.n}, {"clean_accuracy", double(correct) / double(a.n)},
                {"lambda", c.lambda}, {"t_end", c.t_end}, {"tau", c.tau}, {"kappa_finite", c.kappa_finite},
                {"kappa_theorem", c.kappa_theorem}, {"solver_slack", c.solver_slack}, {"exact_ode", a.exact_ode},
                {"median_radius_finite", median}, {"results", rows}, {"radius_finite", c.radius_finite}});
    return;
  }
  std::printf("%s, lambda %g, t_end %g, tau %.4g; %s certificates on %lld %s test images (clean accuracy %.4f)\n",
              model_summary(model->describe()).c_str(), c.lambda, c.t_end, c.tau, a.norm.c_str(), (long long)a.n, a.data.dataset.c_str(),
              double(correct) / double(a.n));
  std::printf("kappa: finite-time %.4g, theorem 1/(lambda-1) %.4g; largest solver error measured per unit %.2g; "
              "median radius %.4g\n",
              c.kappa_finite, c.kappa_theorem, c.solver_slack, median);
  std::printf("%-10s %-18s %-18s %s\n", "delta", "certified (finite)", "certified (theorem)", "global eps = tau*delta/(lambda-1)");
  for (size_t i = 0; i < a.deltas.size(); ++i)
    std::printf("%-10g %-18.4f %-18.4f %.4g\n", a.deltas[i], acc_f[i], acc_t[i],
                global_output_bound(c.tau, a.deltas[i], c.lambda));
}

}  // namespace

void register_certify(CLI::App& app) {
  auto a = std::make_shared<CertifyArgs>();
  CLI::App* sub = app.add_subcommand("certify", "Certified radii and accuracy from the stability theorem");
  add_model_and_data_options(*sub, a->model, a->data, "Checkpoint of a Linear -> NmOde -> Linear model");
  sub->add_option("--norm", a->norm, "linf or l2")->check(CLI::IsMember({"linf", "l2"}))->capture_default_str();
  sub->add_option("--delta", a->deltas, "Radii at which to report certified accuracy")->expected(1, -1)
      ->check(kFiniteNonNegative)->capture_default_str();
  sub->add_option("--n", a->n, "Certify the first N test images")->check(CLI::Range(int64_t(1), int64_t(1) << 40))->capture_default_str();
  sub->add_flag("--exact-ode", a->exact_ode,
                "Certify the exact ODE map (the paper's setting). By default the certificate covers the computed "
                "float network: each unit's solver error at the input, measured against a double solve at "
                "rtol = atol = 1e-10, and twice the largest such error for the perturbed input come off the margins");
  add_common_options(*sub, a->common);
  sub->callback([a] { run(*a); });
}

}  // namespace nmode::cli
