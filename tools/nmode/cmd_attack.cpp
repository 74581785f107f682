// `nmode attack`: robust accuracy of a checkpoint under FGSM, PGD, APGD, Square or
// surrogate-PGD (PGD on the gradients of a closed-form nmODE surrogate) for a list
// of radii, following the evaluation protocol of docs (attacks.md §1).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli.hpp"
#include "data_options.hpp"
#include "nmode/attack.hpp"
#include "nmode/error.hpp"
#include "nmode/surrogate.hpp"
#include "model_on_device.hpp"
#include "progress.hpp"

namespace nmode::cli {
namespace {

struct AttackArgs {
  ModelOptions model;
  DataOptions data;
  std::string norm = "linf", loss = "ce";
  std::vector<std::string> attacks{"pgd"};
  std::vector<double> eps;
  int steps = 0, restarts = 1, queries = 5000;
  double step_size = 0;
  std::vector<double> box;  // empty: [0, 1]
  int64_t n = 1000, batch = 256;
  uint64_t seed = 0;
  bool no_random_start = false, ensemble = false;
  std::string surrogate = "auto";  // surrogate-pgd's regime (nmode/surrogate.hpp)
  bool surrogate_given = false;
  CommonOptions common;
};

// The --attack name of PGD on the surrogate's gradients (nmode/surrogate.hpp).
constexpr const char* kSurrogatePgd = "surrogate-pgd";

// surrogate: the gradient model of kSurrogatePgd; null while the options are only
// being checked (before the model is loaded).
AttackConfig make_config(const AttackArgs& a, const std::string& kind, double eps,
                         const SurrogateModel* surrogate = nullptr) {
  AttackConfig c;
  const bool on_surrogate = kind == kSurrogatePgd;
  c.kind = parse_attack_kind(on_surrogate ? "pgd" : kind);
  if (on_surrogate && surrogate) {
    c.gradient_model = surrogate->model.get();
    c.gradient_name = surrogate->name;
  }
  c.norm = parse_norm(a.norm);
  c.eps = eps;
  if (a.steps != 0) c.steps = a.steps;  // 0: the attack's default
  if (a.step_size != 0) c.step_size = a.step_size;
  c.restarts = a.restarts;
  c.random_start = !a.no_random_start;
  c.loss = parse_attack_loss(a.loss);
  c.n_queries = a.queries;
  c.seed = a.seed;
  c.batch = a.batch;
  if (!a.box.empty()) c.box = Box{static_cast<float>(a.box[0]), static_cast<float>(a.box[1])};
  c.validate();
  return c;
}

void run(const AttackArgs& a) {
  const Device device = apply_common_options(a.common);
  if (a.eps.empty()) throw InvalidArgument("--eps needs at least one radius");
  const bool wants_surrogate = std::find(a.attacks.begin(), a.attacks.end(), kSurrogatePgd) != a.attacks.end();
  if (a.surrogate_given && !wants_surrogate)
    throw InvalidArgument("--surrogate " + a.surrogate + " applies to --attack " + kSurrogatePgd + " only");
  const SurrogateRegime regime = parse_surrogate_regime(a.surrogate);
  for (double eps : a.eps)  // every radius and attack checked before any work or output
    for (const std::string& kind : a.attacks) (void)make_config(a, kind, eps);
  auto [model, spec, data] = load_model_and_data(a.model, a.data, Split::Test, a.n, "--n");
  // Built from the CPU model (before any output: a model without nmODE is refused
  // here); its gradients run on the CPU even when the model runs on the GPU.
  SurrogateModel surrogate;
  if (wants_surrogate) surrogate = make_surrogate_model(*model, regime);
  // The attacks only see a Classifier: on the GPU its forward and input gradient run there.
  place_model(*model, device, a.common);
  Classifier& classifier = *model;
  nlohmann::json rows = nlohmann::json::array();
  // The attack column fits its longest name (an ensemble's: all of them joined by '+').
  int longest = 0, joined = -1;
  for (const std::string& kind : a.attacks) {
    longest = std::max(longest, static_cast<int>(kind.size()));
    joined += static_cast<int>(kind.size()) + 1;
  }
  const int width = std::max(8, a.ensemble ? joined : longest);
  if (!a.common.json) {
    std::printf("%s, %s test images 0..%lld, solver rtol %g atol %g, %s\n", model_summary(model->describe()).c_str(),
                a.data.dataset.c_str(), (long long)a.n - 1, spec.rtol, spec.atol, to_string(model->device()));
    if (surrogate.model)
      std::printf("%s: gradients from %s (cpu), verdicts from the model\n", kSurrogatePgd,
                  model_summary(surrogate.model->describe()).c_str());
    std::printf("%-*s %-5s %-8s %-9s %-9s %-8s %-9s %s\n", width, "attack", "norm", "eps", "clean", "robust", "numfail",
                "zerograd", "seconds");
  }
  for (double eps : a.eps) {
    std::vector<AttackConfig> configs;
    for (const std::string& kind : a.attacks) configs.push_back(make_config(a, kind, eps, &surrogate));
    std::vector<std::vector<AttackConfig>> runs;
    std::vector<std::string> names;  // the row's "attack": the --attack names joined by '+'
    if (a.ensemble) {
      runs.push_back(configs);
      names.emplace_back();
      for (const std::string& kind : a.attacks) names.back() += (names.back().empty() ? "" : "+") + kind;
    } else {
      for (size_t i = 0; i < configs.size(); ++i) {
        runs.push_back({configs[i]});
        names.push_back(a.attacks[i]);
      }
    }
    for (size_t run_index = 0; run_index < runs.size(); ++run_index) {
      auto& run_configs = runs[run_index];
      const std::string& name = names[run_index];
      ProgressBar bar(run_configs.size() > 1 ? "ensemble" : name, "img");
      for (AttackConfig& c : run_configs) c.progress = [&bar](int64_t done, int64_t total) { bar.update(done, total); };
      const auto t0 = std::chrono::steady_clock::now();
      const RobustReport r = run_configs.size() > 1
                                 ? evaluate_ensemble(classifier, data.images.data(), data.labels.data(), a.n, run_configs)
                                 : evaluate_robustness(classifier, data.images.data(), data.labels.data(), a.n, run_configs[0]);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      bar.finish();
      rows.push_back({{"attack", name}, {"norm", a.norm}, {"eps", eps}, {"n", r.n_total},
                      {"clean_accuracy", r.clean_accuracy}, {"robust_accuracy", r.robust_accuracy},
                      {"numerical_failures", r.numerical_failures}, {"zero_grad_starts", r.zero_grad_starts},
                      {"queries", r.queries}, {"configs", r.attacks}, {"seconds", seconds},
                      {"seed", a.seed}, {"rtol", spec.rtol}, {"atol", spec.atol}, {"device", to_string(model->device())}});
      if (!a.common.json) {
        std::printf("%-*s %-5s %-8g %-9.4f %-9.4f %-8lld %-9lld %.1f\n", width, name.c_str(), a.norm.c_str(), eps,
                    r.clean_accuracy, r.robust_accuracy, (long long)r.numerical_failures,
                    (long long)r.zero_grad_starts, seconds);
        std::fflush(stdout);
      }
    }
  }
  if (a.common.json) print_json({{"model", a.model.path}, {"dataset", a.data.dataset}, {"results", rows}});
}

}  // namespace

void register_attack(CLI::App& app) {
  auto a = std::make_shared<AttackArgs>();
  CLI::App* sub =
      app.add_subcommand("attack", "Robust accuracy under FGSM, PGD, APGD, Square Attack or surrogate-gradient PGD");
  add_model_and_data_options(*sub, a->model, a->data);
  sub->add_option("--attack", a->attacks,
                  "One or more of fgsm, pgd, apgd, square, surrogate-pgd (PGD with the gradients of a closed-form "
                  "surrogate of the nmODE layer, judged on the real model; the surrogate runs on the CPU, also with "
                  "--device cuda)")
      ->check(CLI::IsMember({"fgsm", "pgd", "apgd", "square", kSurrogatePgd}))
      ->expected(1, -1)
      ->capture_default_str();
  sub->add_option("--norm", a->norm, "linf or l2 (fgsm and square: linf only)")->check(CLI::IsMember({"linf", "l2"}))->capture_default_str();
  sub->add_option("--eps", a->eps, "One or more radii")->required()->expected(1, -1)->check(kFiniteNonNegative);
  sub->add_option("--steps", a->steps, "Iterations (PGD default 40, APGD 100)")->check(CLI::Range(1, 1000000));
  sub->add_option("--step-size", a->step_size, "PGD step (default 2.5*eps/steps)")->check(kFinitePositive);
  sub->add_option("--restarts", a->restarts, "Random restarts")->check(CLI::Range(1, 1000))->capture_default_str();
  sub->add_option("--queries", a->queries, "Square Attack query budget")->check(CLI::Range(1, 10000000))->capture_default_str();
  sub->add_option("--loss", a->loss, "ce or dlr (PGD, APGD)")->check(CLI::IsMember({"ce", "dlr"}))->capture_default_str();
  sub->add_flag("--no-random-start", a->no_random_start, "PGD without random start");
  CLI::Option* surrogate = sub->add_option("--surrogate", a->surrogate,
                  "surrogate-pgd's closed form of the nmODE: auto (steady state when lambda*t_end >= 2.5, frozen "
                  "forcing below; lambda <= 1 refused), steady, or frozen")
      ->check(CLI::IsMember({"auto", "steady", "frozen"}))->capture_default_str();
  sub->add_option("--box", a->box,
                  "LO HI: the input domain every attack stays in (default 0 1, images); data outside it is refused")
      ->expected(2);
  sub->add_flag("--ensemble", a->ensemble, "Run the listed attacks in sequence; a point is robust only if it survives all");
  sub->add_option("--n", a->n, "Attack the first N test images")->check(CLI::Range(int64_t(1), int64_t(1) << 40))->capture_default_str();
  sub->add_option("--batch", a->batch, "Batch size")->check(CLI::Range(int64_t(1), int64_t(1) << 20))->capture_default_str();
  sub->add_option("--seed", a->seed, "Seed of the random starts")->capture_default_str();
  add_common_options(*sub, a->common);
  sub->callback([a, surrogate] {
    a->surrogate_given = surrogate->count() > 0;
    run(*a);
  });
}

}  // namespace nmode::cli
