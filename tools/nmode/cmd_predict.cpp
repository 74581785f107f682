// `nmode predict`: a checkpoint's predictions for inputs a user prepared (a .npy
// or IDX file): the class and the probabilities of each input, printed, as JSON,
// or written to a .npy or CSV file.
#include <cstdio>
#include <string>

#include "cli.hpp"
#include "model_on_device.hpp"
#include "nmode/error.hpp"
#include "nmode/input_array.hpp"
#include "nmode/model_io.hpp"
#include "nmode/npy.hpp"
#include "nmode/predict.hpp"
#include "nmode/text_file.hpp"

namespace nmode::cli {
namespace {

struct PredictArgs {
  std::string model, input, output;
  bool logits = false;
  int64_t batch = 256;
  CommonOptions common;
};

enum class OutputKind { None, Npy, Csv };

OutputKind output_kind(const std::string& path) {
  if (path.empty()) return OutputKind::None;
  auto ends_with = [&](const char* suffix) {
    const std::string s(suffix);
    return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
  };
  if (ends_with(".npy")) return OutputKind::Npy;
  if (ends_with(".csv")) return OutputKind::Csv;
  throw InvalidArgument("--output " + path + ": write a .npy (an (n, classes) float32 array) or a .csv table");
}

std::string csv_table(const Predictions& p, bool with_logits) {
  const int64_t n = p.logits.dim(0), k = p.logits.dim(1);
  std::string text = "index,class";
  for (int64_t j = 0; j < k; ++j) text += ",p" + std::to_string(j);
  if (with_logits)
    for (int64_t j = 0; j < k; ++j) text += ",logit" + std::to_string(j);
  text += "\n";
  for (int64_t i = 0; i < n; ++i) {
    text += std::to_string(i) + "," + std::to_string(p.classes[size_t(i)]);
    for (int64_t j = 0; j < k; ++j) text += "," + format_number(p.probabilities[i * k + j], 9);
    if (with_logits)
      for (int64_t j = 0; j < k; ++j) text += "," + format_number(p.logits[i * k + j], 9);
    text += "\n";
  }
  return text;
}

nlohmann::json rows_json(const Predictions& p, bool with_logits) {
  const int64_t n = p.logits.dim(0), k = p.logits.dim(1);
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t i = 0; i < n; ++i) {
    const float* prob = p.probabilities.data() + i * k;
    nlohmann::json row = {{"index", i}, {"class", p.classes[size_t(i)]},
                          {"probabilities", std::vector<float>(prob, prob + k)}};
    if (with_logits) row["logits"] = std::vector<float>(p.logits.data() + i * k, p.logits.data() + (i + 1) * k);
    rows.push_back(row);
  }
  return rows;
}

void run(const PredictArgs& a) {
  const Device device = apply_common_options(a.common);
  const OutputKind kind = output_kind(a.output);  // every check before any work
  if (kind != OutputKind::None) check_output_path(a.output, "--output");
  ModelSpec spec;
  auto model = load_model(a.model, &spec);
  const InputArray in = read_input_array(a.input);
  if (in.values.dim(1) != model->input_dim())
    throw InvalidArgument("--input " + a.input + ": the model expects " + std::to_string(model->input_dim()) +
                          " values per input, the file has " + std::to_string(in.values.dim(1)) + " (" +
                          std::to_string(in.rows) + " x " + std::to_string(in.cols) + ")");
  place_model(*model, device, a.common);
  const Predictions p = predict(*model, in.values, a.batch);
  const int64_t n = p.logits.dim(0), k = p.logits.dim(1);
  if (kind == OutputKind::Npy) {
    const Tensor& t = a.logits ? p.logits : p.probabilities;
    write_npy(a.output, {n, k}, t.vector());
  } else if (kind == OutputKind::Csv) {
    write_text_file(a.output, csv_table(p, a.logits));
  }
  if (a.common.json) {
    nlohmann::json j = {{"model", a.model}, {"input", a.input}, {"n", n}, {"classes", k}};
    if (kind != OutputKind::None) j["output"] = a.output;
    else j["predictions"] = rows_json(p, a.logits);
    print_json(j);
  } else if (kind != OutputKind::None) {
    std::printf("wrote %s: %s of %lld inputs x %lld classes\n", a.output.c_str(),
                a.logits ? "logits" : "probabilities", (long long)n, (long long)k);
  } else {
    std::printf("%-8s %-6s %s\n", "index", "class", "probability");
    for (int64_t i = 0; i < n; ++i) {
      const int32_t c = p.classes[size_t(i)];
      std::printf("%-8lld %-6d %.4f\n", (long long)i, c, c >= 0 ? double(p.probabilities[i * k + c]) : 0.0);
    }
  }
}

}  // namespace

void register_predict(CLI::App& app) {
  auto a = std::make_shared<PredictArgs>();
  CLI::App* sub = app.add_subcommand("predict", "Classes and probabilities of a checkpoint for inputs in a .npy or IDX file");
  sub->add_option("--model", a->model, "Checkpoint (.safetensors)")->required()->check(CLI::ExistingFile);
  sub->add_option("--input", a->input,
                  "Inputs: a .npy (float32/float64, or uint8 pixels scaled by 1/255) or IDX file of shape (n, d) or "
                  "(n, h, w) with d = h * w the model's input width")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--output", a->output,
                  "Write the probabilities here instead of printing them: .npy ((n, classes) float32) or .csv "
                  "(index, class, p0..)");
  sub->add_flag("--logits", a->logits, "Also give the logits (in the .npy: the logits instead of the probabilities)");
  sub->add_option("--batch", a->batch, "Batch size")->check(CLI::Range(int64_t(1), int64_t(1) << 20))->capture_default_str();
  add_common_options(*sub, a->common);
  sub->callback([a] { run(*a); });
}

}  // namespace nmode::cli
