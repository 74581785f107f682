// Models as files: checkpoints checked against their spec, then loaded into a Sequential.
#include "nmode/model_io.hpp"

#include <algorithm>

#include "nmode/error.hpp"

namespace nmode {
namespace {
constexpr const char* kModelFormat = "nmode-model-1";  // a model without optimizer state
}  // namespace

void check_parameter_shapes(const Checkpoint& checkpoint, const ModelSpec& spec, const std::string& path) {
  try {
    for (const auto& [name, shape] : parameter_shapes(spec)) (void)checkpoint_tensor(checkpoint, name, shape);
  } catch (const IoError& e) {
    throw IoError("'" + path + "' does not match its model metadata: " + e.what());
  }
}

void load_parameters(Sequential& model, const Checkpoint& checkpoint) {
  for (const ParameterRef& p : model.parameters()) {
    const Tensor& t = checkpoint_tensor(checkpoint, p.name, p.value->shape());
    std::copy_n(t.data(), t.size(), p.value->data());
  }
}

std::unique_ptr<Sequential> load_model(const std::string& path, ModelSpec* spec_out,
                                       std::map<std::string, std::string>* metadata_out) {
  const Checkpoint ck = load_checkpoint(path);
  const ModelSpec spec = spec_from_metadata(ck.metadata);
  check_parameter_shapes(ck, spec, path);
  std::unique_ptr<Sequential> model = make_model(spec, 0);
  load_parameters(*model, ck);
  if (spec_out) *spec_out = spec;
  if (metadata_out) *metadata_out = ck.metadata;
  return model;
}

void export_weights_only(const std::string& in, const std::string& out) {
  const Checkpoint ck = load_checkpoint(in);
  const ModelSpec spec = spec_from_metadata(ck.metadata);
  check_parameter_shapes(ck, spec, in);
  Checkpoint weights;
  for (const auto& entry : parameter_shapes(spec)) weights.tensors[entry.first] = ck.tensors.at(entry.first);
  for (const auto& [key, value] : ck.metadata) {
    const bool kept = key.rfind("model.", 0) == 0 || key.rfind("data.", 0) == 0 || key == "nmode.version";
    if (kept) weights.metadata[key] = value;
  }
  weights.metadata["format"] = kModelFormat;
  save_checkpoint(out, weights);
}

void save_model(const std::string& path, Sequential& model, const ModelSpec& spec) {
  Checkpoint ck;
  for (const ParameterRef& p : model.parameters()) ck.tensors[p.name] = *p.value;
  ck.metadata = to_metadata(spec);
  ck.metadata["format"] = kModelFormat;
  save_checkpoint(path, ck);
}

}  // namespace nmode
