// Models as files: a checkpoint's parameters and model spec (nmode/checkpoint.hpp)
// loaded into a Sequential, and a Sequential saved with its spec.
#pragma once

#include <memory>
#include <string>

#include "nmode/checkpoint.hpp"
#include "nmode/model.hpp"

namespace nmode {

// Loads a model saved by Trainer::save (or save_model); `spec` receives its spec.
std::unique_ptr<Sequential> load_model(const std::string& path, ModelSpec* spec = nullptr);
void save_model(const std::string& path, Sequential& model, const ModelSpec& spec);

// Copies the checkpoint's tensors into the model's parameters of the same names;
// IoError when one is missing or has another shape.
void load_parameters(Sequential& model, const Checkpoint& checkpoint);

}  // namespace nmode
