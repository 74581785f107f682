// `nmode eval`: clean accuracy, per-class accuracy and solver statistics of a
// checkpoint on a dataset split.
#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "data_options.hpp"
#include "nmode/dataset.hpp"
#include "nmode/train.hpp"
#include "model_on_device.hpp"
#include "progress.hpp"

namespace nmode::cli {
namespace {

struct EvalArgs {
  ModelOptions model;
  DataOptions data;
  std::string split = "test";
  int64_t limit = 0, batch = 512;
  CommonOptions common;
};

void run(const EvalArgs& a) {
  const Device device = apply_common_options(a.common);
  const auto [model, spec, data] =
      load_model_and_data(a.model, a.data, a.split == "train" ? Split::Train : Split::Test, a.limit, "--limit");
  place_model(*model, device, a.common);
  ProgressBar bar("eval", "img");
  const EvalReport r = evaluate(*model, data, a.batch, [&](int64_t done, int64_t total, double, double) { bar.update(done, total); });
  bar.finish();
  // A class without examples has no accuracy: null in JSON, n/a in text (0 would read as "always wrong").
  nlohmann::json per_class = nlohmann::json::array();
  std::string per_class_text;
  for (size_t c = 0; c < r.class_total.size(); ++c) {
    const bool seen = r.class_total[c] > 0;
    const double acc = seen ? double(r.class_correct[c]) / double(r.class_total[c]) : 0.0;
    per_class.push_back(seen ? nlohmann::json(acc) : nlohmann::json());
    char cell[32];
    if (seen) std::snprintf(cell, sizeof cell, " %zu:%.4f", c, acc);
    else std::snprintf(cell, sizeof cell, " %zu:n/a", c);
    per_class_text += cell;
  }
  if (a.common.json) {
    print_json({{"model", a.model.path}, {"dataset", a.data.dataset}, {"split", a.split}, {"examples", r.examples},
                {"accuracy", r.accuracy()}, {"loss", r.mean_loss}, {"per_class_accuracy", per_class},
                {"solver", {{"mean_steps", r.solver.mean_accepted()}, {"max_steps", r.solver.max_accepted},
                            {"rejected", r.solver.rejected_steps}, {"failed", r.solver.failed()}}},
                {"seconds", r.seconds}, {"device", to_string(model->device())}});
    return;
  }
  std::printf("%s on %s/%s (%lld images): accuracy %.4f, loss %.4f, %.1f s, %s\n",
              model_summary(model->describe()).c_str(), a.data.dataset.c_str(), a.split.c_str(), (long long)r.examples,
              r.accuracy(), r.mean_loss, r.seconds, to_string(model->device()));
  std::printf("per class:%s\n", per_class_text.c_str());
  if (r.solver.elements > 0) std::printf("solver: %s\n", r.solver.summary().c_str());
}

}  // namespace

void register_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* sub = app.add_subcommand("eval", "Clean accuracy of a checkpoint");
  add_model_and_data_options(*sub, a->model, a->data);
  sub->add_option("--split", a->split, "test or train")->check(CLI::IsMember({"test", "train"}))->capture_default_str();
  sub->add_option("--limit", a->limit, "Evaluate the first N images only (0: all)")->check(CLI::Range(int64_t(0), int64_t(1) << 40));
  sub->add_option("--batch", a->batch, "Batch size")->check(CLI::Range(int64_t(1), int64_t(1) << 20))->capture_default_str();
  add_common_options(*sub, a->common);
  sub->callback([a] { run(*a); });
}

}  // namespace nmode::cli
