// The option groups of the subcommands that run a checkpoint on a dataset (eval,
// attack, certify, perturb; train takes DataOptions), and their one load sequence:
// model first, then the data, checked against each other.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "nmode/dataset.hpp"
#include "nmode/model.hpp"

namespace nmode::cli {

// --dataset, --data-dir.
struct DataOptions {
  std::string dataset = "mnist";  // mnist, fashion, or a dataset folder (load_dataset_folder)
  std::string data_dir;           // empty: $NMODE_DATA, else data/; not used by a dataset folder
};
void add_data_options(CLI::App& sub, DataOptions& o);

// The name a checkpoint records for these data: "mnist", "fashion", or the
// dataset folder's own name. InvalidArgument for a --dataset that is neither a
// known name nor a folder.
std::string dataset_name(const DataOptions& o);

// The first `count` examples of the split (0: all); more than the split holds is
// an InvalidArgument naming `count_flag` (e.g. "--n").
Dataset load_data(const DataOptions& o, Split split, int64_t count, const char* count_flag);

// --model: a checkpoint (required, an existing file).
struct ModelOptions {
  std::string path;
};

// --model then --dataset and --data-dir.
void add_model_and_data_options(CLI::App& sub, ModelOptions& m, DataOptions& d,
                                const std::string& model_help = "Checkpoint (.safetensors)");

struct ModelAndData {
  std::unique_ptr<Sequential> model;
  ModelSpec spec;
  Dataset data;
};
// The checkpoint's model, then load_data, whose inputs must be as wide as the model's.
ModelAndData load_model_and_data(const ModelOptions& m, const DataOptions& d, Split split, int64_t count,
                                 const char* count_flag);

}  // namespace nmode::cli
