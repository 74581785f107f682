// `nmode perturb`: accuracy under natural perturbations (Gaussian noise, resize
// down and up, Gaussian blur, brightness), with an optional labelled sheet of
// examples and their predictions (PNG or SVG).
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "data_options.hpp"
#include "nmode/error.hpp"
#include "nmode/image_sheet.hpp"
#include "nmode/model.hpp"
#include "nmode/perturb.hpp"
#include "nmode/predict.hpp"
#include "nmode/train.hpp"
#include "model_on_device.hpp"

namespace nmode::cli {
namespace {

struct PerturbArgs {
  ModelOptions model;
  DataOptions data;
  std::string sheet;
  std::vector<double> noise{0.1, 0.2, 0.3, 0.5}, brightness{0.1, 0.2, 0.3, 0.5};
  std::vector<int64_t> resize{21, 14, 10, 7}, blur{3, 5, 7, 9};
  int64_t n = 1000;
  uint64_t seed = 0;
  CommonOptions common;
};

// sheet_format_for, its message naming the option.
void sheet_format_checked(const std::string& path) {
  try {
    sheet_format_for(path);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(std::string("--sheet ") + e.what());
  }
}

// "noise 0.3": the same kind and level as the table prints.
std::string level_label(const std::string& kind, double value) {
  if (kind == "clean") return kind;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", value);
  return kind + " " + buf;
}

// The first n images of `images` with the model's predictions (class -1, counted
// wrong, where the logits are not finite).
SheetRow sheet_row(Classifier& model, std::string label, const Tensor& images, const std::vector<int32_t>& labels,
                   int64_t n) {
  const int64_t dim = model.input_dim();
  Tensor first({n, dim});
  std::copy_n(images.data(), n * dim, first.data());
  const Predictions p = predict(model, first);
  SheetRow row{std::move(label), {}, {}, {}};
  for (int64_t i = 0; i < n; ++i) {
    row.images.push_back(images.data() + i * dim);
    row.predicted.push_back(p.classes[static_cast<size_t>(i)]);
    row.truth.push_back(labels[static_cast<size_t>(i)]);
  }
  return row;
}

void run(const PerturbArgs& a) {
  const Device device = apply_common_options(a.common);
  if (!a.sheet.empty()) {
    check_output_path(a.sheet, "--sheet");
    sheet_format_checked(a.sheet);
  }
  const auto [model, spec, data] = load_model_and_data(a.model, a.data, Split::Test, a.n, "--n");
  place_model(*model, device, a.common);
  Classifier& classifier = *model;
  const int64_t rows = data.rows, cols = data.cols;
  struct Level {
    std::string kind;
    double value;
    Tensor images;
  };
  std::vector<Level> levels;
  levels.push_back({"clean", 0, data.images});
  for (double s : a.noise) levels.push_back({"noise", s, gaussian_noise(data.images, rows, cols, s, a.seed)});
  for (int64_t l : a.resize) levels.push_back({"resize", double(l), resize_down_up(data.images, rows, cols, l)});
  for (int64_t k : a.blur) levels.push_back({"blur", double(k), gaussian_blur(data.images, rows, cols, k)});
  for (double b : a.brightness) levels.push_back({"brightness", b, brightness_shift(data.images, b)});
  nlohmann::json results = nlohmann::json::array();
  if (!a.common.json) std::printf("%-11s %-7s %s\n", "kind", "level", "accuracy");
  for (const Level& lv : levels) {
    Dataset d = data;
    d.images = lv.images;
    const double acc = evaluate(classifier, d, 512).accuracy();
    results.push_back({{"kind", lv.kind}, {"level", lv.value}, {"accuracy", acc}});
    if (!a.common.json) std::printf("%-11s %-7g %.4f\n", lv.kind.c_str(), lv.value, acc);
  }
  if (!a.sheet.empty()) {
    // One row per level, the first 8 test digits in each, captioned with the prediction.
    const int64_t per_row = std::min<int64_t>(8, a.n);
    std::vector<SheetRow> sheet;
    for (const Level& lv : levels)
      sheet.push_back(sheet_row(classifier, level_label(lv.kind, lv.value), lv.images, data.labels, per_row));
    write_labelled_sheet(a.sheet, sheet, rows, cols, 2);
    if (!a.common.json)
      std::printf("example sheet (%s; rows: clean, noise, resize, blur, brightness levels; captions: predicted class, "
                  "green right, red x wrong): %s\n",
                  sheet_format_for(a.sheet) == SheetFormat::Svg ? "SVG" : "PNG", a.sheet.c_str());
  }
  if (a.common.json) print_json({{"model", a.model.path}, {"dataset", a.data.dataset}, {"n", a.n}, {"results", results}});
}

}  // namespace

void register_perturb(CLI::App& app) {
  auto a = std::make_shared<PerturbArgs>();
  CLI::App* sub = app.add_subcommand("perturb", "Accuracy under natural perturbations");
  add_model_and_data_options(*sub, a->model, a->data);
  sub->add_option("--noise", a->noise, "Gaussian noise sigmas")->expected(0, -1)->check(kFiniteNonNegative)->capture_default_str();
  sub->add_option("--resize", a->resize, "Side lengths l: resize to l x l and back (bilinear)")->expected(0, -1)
      ->check(CLI::Range(int64_t(1), int64_t(4096)))->capture_default_str();
  sub->add_option("--blur", a->blur, "Odd Gaussian kernel sizes")->expected(0, -1)->check(CLI::Range(int64_t(1), int64_t(255)))
      ->capture_default_str();
  sub->add_option("--brightness", a->brightness, "Brightness shifts (added, then clamped to [0, 1])")->expected(0, -1)
      ->capture_default_str();
  sub->add_option("--n", a->n, "Use the first N test images")->check(CLI::Range(int64_t(1), int64_t(1) << 40))->capture_default_str();
  sub->add_option("--seed", a->seed, "Seed of the noise")->capture_default_str();
  sub->add_option("--sheet", a->sheet,
                  "Write a sheet of examples here: a labelled row per level, each tile captioned with its predicted "
                  "class (green: right, red with an x: wrong); the extension picks the format, .png or .svg");
  add_common_options(*sub, a->common);
  sub->callback([a] { run(*a); });
}

}  // namespace nmode::cli
