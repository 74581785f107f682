// The data and model option groups and their checked load sequence.
#include "data_options.hpp"

#include <filesystem>
#include <map>

#include "nmode/error.hpp"
#include "nmode/model_io.hpp"

namespace nmode::cli {

namespace {

bool is_known(const std::string& dataset) { return dataset == "mnist" || dataset == "fashion"; }

}  // namespace

void add_data_options(CLI::App& sub, DataOptions& o) {
  sub.add_option("--dataset", o.dataset,
                 "mnist, fashion, or your own dataset: a folder with train-inputs.npy, train-labels.npy, "
                 "test-inputs.npy, test-labels.npy (inputs (n, d) or (n, h, w): float, or uint8 pixels; labels: "
                 "class indices)")
      ->capture_default_str();
  sub.add_option("--data-dir", o.data_dir, "Folder holding mnist/ and fashion/ (default: $NMODE_DATA, else data/)");
}

std::string dataset_name(const DataOptions& o) {
  if (is_known(o.dataset)) return o.dataset;
  std::error_code ec;
  if (!std::filesystem::is_directory(o.dataset, ec))
    throw InvalidArgument("--dataset " + o.dataset + ": neither mnist, fashion nor a dataset folder");
  const std::filesystem::path p = std::filesystem::path(o.dataset).lexically_normal();
  return p.filename().empty() ? p.parent_path().filename().string() : p.filename().string();
}

Dataset load_data(const DataOptions& o, Split split, int64_t count, const char* count_flag) {
  Dataset data = is_known(o.dataset) ? load_dataset(o.dataset, split, resolve_data_dir(o.data_dir))
                                     : load_dataset_folder(o.dataset, split);
  if (count > data.size())
    throw InvalidArgument(std::string(count_flag) + " " + std::to_string(count) + " exceeds the " +
                          std::to_string(data.size()) + (split == Split::Test ? " test" : " training") + " images");
  if (count > 0) data = take_first(data, count);
  return data;
}

void add_model_and_data_options(CLI::App& sub, ModelOptions& m, DataOptions& d, const std::string& model_help) {
  sub.add_option("--model", m.path, model_help)->required()->check(CLI::ExistingFile);
  add_data_options(sub, d);
}

ModelAndData load_model_and_data(const ModelOptions& m, const DataOptions& d, Split split, int64_t count,
                                 const char* count_flag) {
  ModelAndData r;
  std::map<std::string, std::string> metadata;
  r.model = load_model(m.path, &r.spec, &metadata);
  // Checked before the data are read: an MNIST model on Fashion-MNIST "works" (at 10 % accuracy).
  const auto trained_on = metadata.find("data.name");
  if (trained_on != metadata.end() && trained_on->second != dataset_name(d))
    throw InvalidArgument("--dataset " + d.dataset + ": the model " + m.path + " was trained on " +
                          trained_on->second + "; pass --dataset " + trained_on->second);
  r.data = load_data(d, split, count, count_flag);
  if (r.data.classes > r.model->num_classes())
    throw InvalidArgument("--dataset " + d.dataset + " has " + std::to_string(r.data.classes) +
                          " classes, the model " + m.path + " only " + std::to_string(r.model->num_classes()));
  if (r.data.images.dim(1) != r.model->input_dim())
    throw InvalidArgument("the model expects " + std::to_string(r.model->input_dim()) + " inputs but " + d.dataset +
                          " images have " + std::to_string(r.data.images.dim(1)));
  return r;
}

}  // namespace nmode::cli
