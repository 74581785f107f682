// Models as files: a checkpoint's parameters and model spec (nmode/checkpoint.hpp)
// loaded into a Sequential, and a Sequential saved with its spec.
#pragma once

#include <memory>
#include <string>

#include "nmode/checkpoint.hpp"
#include "nmode/model.hpp"

namespace nmode {

// Loads a model saved by Trainer::save (or save_model); `spec` receives its spec
// and `metadata` all of the checkpoint's metadata (e.g. "data.name").
std::unique_ptr<Sequential> load_model(const std::string& path, ModelSpec* spec = nullptr,
                                       std::map<std::string, std::string>* metadata = nullptr);
void save_model(const std::string& path, Sequential& model, const ModelSpec& spec);

// Writes the model of checkpoint `in` (a training checkpoint or a model file) to
// `out` without the optimizer's state, about a third of a training checkpoint:
// the parameters, the "model.*" and "data.*" metadata and the nmode version of
// the original. load_model reads it like the original; --resume cannot.
void export_weights_only(const std::string& in, const std::string& out);

// Checks that the checkpoint read from `path` holds every parameter of a `spec`
// model with its shape (IoError naming the file, the tensor and both shapes),
// before any model is built.
void check_parameter_shapes(const Checkpoint& checkpoint, const ModelSpec& spec, const std::string& path);

// Copies the checkpoint's tensors into the model's parameters of the same names;
// IoError when one is missing or has another shape.
void load_parameters(Sequential& model, const Checkpoint& checkpoint);

}  // namespace nmode
