// `nmode export --weights-only`: a checkpoint's model without the optimizer's
// state (a third of the size), for sharing or deploying a trained model.
#include <cstdio>
#include <filesystem>

#include "cli.hpp"
#include "nmode/error.hpp"
#include "nmode/model_io.hpp"

namespace nmode::cli {
namespace {

struct ExportArgs {
  std::string model, out;
  bool weights_only = false;
  bool json = false;
};

void run(const ExportArgs& a) {
  if (!a.weights_only)
    throw InvalidArgument("export writes the model without the optimizer state: give --weights-only");
  check_output_path(a.out, "--out");
  std::error_code ec;
  if (std::filesystem::equivalent(a.model, a.out, ec))
    throw InvalidArgument("--out " + a.out + " is the checkpoint itself; write the export to another file");
  export_weights_only(a.model, a.out);
  const auto bytes = [](const std::string& p) { return static_cast<long long>(std::filesystem::file_size(p)); };
  if (a.json)
    print_json({{"model", a.model}, {"out", a.out}, {"bytes", bytes(a.out)}, {"from_bytes", bytes(a.model)}});
  else
    std::printf("wrote %s (%lld bytes; %s has %lld)\n", a.out.c_str(), bytes(a.out), a.model.c_str(), bytes(a.model));
}

}  // namespace

void register_export(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* sub = app.add_subcommand("export", "Write a checkpoint's model without the optimizer state");
  sub->add_option("--model", a->model, "Checkpoint (.safetensors)")->required()->check(CLI::ExistingFile);
  sub->add_option("--out", a->out, "The model file to write (.safetensors)")->required();
  sub->add_flag("--weights-only", a->weights_only,
                "Parameters and model/data metadata only, no Adam moments: loads in eval, attack, certify, "
                "perturb, predict (not in train --resume)");
  sub->add_flag("--json", a->json, "Print what was written as JSON");
  sub->callback([a] { run(*a); });
}

}  // namespace nmode::cli
