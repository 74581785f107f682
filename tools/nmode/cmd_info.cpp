// `nmode info`: version, compiled backends, GPU visibility and CPU threads; with
// --model, a checkpoint's metadata and tau = max_i sum_j |w_ij| of its nmODE input weights.
#include <iostream>

#include "cli.hpp"
#include "nmode/simd.hpp"
#include "nmode/checkpoint.hpp"
#include "nmode/optim.hpp"
#include "nmode/train.hpp"

namespace nmode::cli {
namespace {

std::vector<std::string> target_names(const std::vector<SimdTarget>& targets) {
  std::vector<std::string> names;
  for (SimdTarget t : targets) names.emplace_back(to_string(t));
  return names;
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

struct InfoArgs {
  bool json = false;
  std::string model;
};

void model_info(const InfoArgs& a) {
  const Checkpoint ck = load_checkpoint(a.model);
  ModelSpec spec;
  auto model = load_model(a.model, &spec);
  nlohmann::json taus = nlohmann::json::object();
  for (const std::string& name : model->nmode_input_weights())
    taus[name] = row_l1_max(checkpoint_tensor(ck, name, ck.tensors.at(name).shape()));
  if (a.json) {
    print_json({{"model", a.model}, {"architecture", model_summary(model->describe())}, {"parameters", model->parameter_count()},
                {"metadata", ck.metadata}, {"tau", taus}});
    return;
  }
  std::cout << a.model << ": " << model_summary(model->describe()) << ", " << model->parameter_count() << " parameters\n";
  for (const auto& [key, value] : ck.metadata) std::cout << "  " << key << " = " << value << "\n";
  for (const auto& [name, tau] : taus.items())
    std::cout << "  tau (max_i sum_j |w_ij| of " << name << ") = " << tau.get<double>() << "\n";
}

}  // namespace

void register_info(CLI::App& app) {
  auto a = std::make_shared<InfoArgs>();
  CLI::App* sub = app.add_subcommand("info", "Show the version, backends, GPU and threads, or a checkpoint's metadata");
  sub->add_flag("--json", a->json, "Print machine-readable JSON");
  sub->add_option("--model", a->model, "Show this checkpoint's metadata and tau instead")->check(CLI::ExistingFile);
  sub->callback([a] {
    if (!a->model.empty()) return model_info(*a);
    std::string reason;
    const bool gpu = cuda_available(&reason);
    const std::string gpu_text = gpu ? cuda_device_name() : "none (" + reason + ")";
    if (a->json) {
      print_json({{"version", NMODE_VERSION}, {"cuda_compiled", cuda_compiled()}, {"gpu", gpu},
                  {"gpu_name", gpu ? cuda_device_name() : ""}, {"gpu_reason", gpu ? "" : reason},
                  {"openmp_threads", openmp_threads()}, {"simd_target", to_string(active_simd_target())},
                  {"simd_compiled", target_names(compiled_simd_targets())},
                  {"simd_supported", target_names(supported_simd_targets())}});
      return;
    }
    std::cout << "nmode " << NMODE_VERSION << "\n"
              << "backends: cpu (OpenMP, " << openmp_threads() << " threads)"
              << (cuda_compiled() ? ", cuda" : "") << "\n"
              << "gpu: " << gpu_text << "\n"
              << "simd: " << to_string(active_simd_target()) << " (compiled: " << joined(target_names(compiled_simd_targets()))
              << "; supported by this CPU: " << joined(target_names(supported_simd_targets()))
              << "; NMODE_SIMD=<name> forces one)\n";
  });
}

}  // namespace nmode::cli
