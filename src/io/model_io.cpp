#include "nmode/model_io.hpp"

#include <algorithm>

namespace nmode {

void load_parameters(Sequential& model, const Checkpoint& checkpoint) {
  for (const ParameterRef& p : model.parameters()) {
    const Tensor& t = checkpoint_tensor(checkpoint, p.name, p.value->shape());
    std::copy_n(t.data(), t.size(), p.value->data());
  }
}

std::unique_ptr<Sequential> load_model(const std::string& path, ModelSpec* spec_out) {
  const Checkpoint ck = load_checkpoint(path);
  const ModelSpec spec = spec_from_metadata(ck.metadata);
  std::unique_ptr<Sequential> model = make_model(spec, 0);
  load_parameters(*model, ck);
  if (spec_out) *spec_out = spec;
  return model;
}

void save_model(const std::string& path, Sequential& model, const ModelSpec& spec) {
  Checkpoint ck;
  for (const ParameterRef& p : model.parameters()) ck.tensors[p.name] = *p.value;
  ck.metadata = to_metadata(spec);
  ck.metadata["format"] = "nmode-model-1";
  save_checkpoint(path, ck);
}

}  // namespace nmode
