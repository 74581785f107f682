// `nmode perturb`: accuracy under natural perturbations (Gaussian noise, resize
// down and up, Gaussian blur, brightness), with an optional PNG sheet of examples.
#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "data_options.hpp"
#include "nmode/error.hpp"
#include "nmode/image_sheet.hpp"
#include "nmode/perturb.hpp"
#include "nmode/train.hpp"

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

void run(const PerturbArgs& a) {
  apply_common_options(a.common);
  if (!a.sheet.empty()) check_output_path(a.sheet, "--sheet");
  const auto [model, spec, data] = load_model_and_data(a.model, a.data, Split::Test, a.n, "--n");
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
    const double acc = evaluate(*model, d, 512).accuracy();
    results.push_back({{"kind", lv.kind}, {"level", lv.value}, {"accuracy", acc}});
    if (!a.common.json) std::printf("%-11s %-7g %.4f\n", lv.kind.c_str(), lv.value, acc);
  }
  if (!a.sheet.empty()) {
    // One row per level, the first 8 test digits in each.
    std::vector<const float*> tiles;
    const int64_t per_row = std::min<int64_t>(8, a.n);
    for (const Level& lv : levels)
      for (int64_t i = 0; i < per_row; ++i) tiles.push_back(lv.images.data() + i * rows * cols);
    write_png_grid(a.sheet, tiles, rows, cols, per_row, 2);
    if (!a.common.json) std::printf("example sheet (rows: clean, noise, resize, blur, brightness levels): %s\n", a.sheet.c_str());
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
  sub->add_option("--sheet", a->sheet, "Write a PNG sheet of perturbed examples here");
  add_common_options(*sub, a->common, false);
  sub->callback([a] { run(*a); });
}

}  // namespace nmode::cli
