// The model factory and the model description kept in checkpoint metadata, so a
// checkpoint alone rebuilds the model it was saved from.
#include <string>

#include "io/metadata.hpp"
#include "nmode/error.hpp"
#include "nmode/model.hpp"
#include "nmode/neural_ode.hpp"
#include "nmode/random.hpp"

namespace nmode {
namespace {

const char* const kKinds = "\"nmode\", \"mlp-relu\", \"mlp-tanh\" or \"node\"";

NeuralOdeOptions node_options(const ModelSpec& spec) {
  NeuralOdeOptions o;
  o.t_end = spec.t_end;
  o.rtol = spec.rtol;
  o.atol = spec.atol;
  o.steps = parse_step_control(spec.node_steps);
  return o;
}

}  // namespace

void ModelSpec::validate() const {
  if (kind != "nmode" && kind != "mlp-relu" && kind != "mlp-tanh" && kind != "node")
    throw InvalidArgument("model kind must be " + std::string(kKinds) + ", got \"" + kind + "\"");
  if (input <= 0) throw InvalidArgument("model input size must be > 0, got " + std::to_string(input));
  if (hidden <= 0) throw InvalidArgument("model hidden width must be > 0, got " + std::to_string(hidden));
  if (classes <= 0) throw InvalidArgument("model class count must be > 0, got " + std::to_string(classes));
  if (kind == "nmode") {
    SolverOptions o;
    o.lambda = lambda;
    o.t_end = t_end;
    o.rtol = rtol;
    o.atol = atol;
    o.validate();
  }
  if (kind == "node") node_options(*this).validate();
}

std::unique_ptr<Sequential> make_model(const ModelSpec& spec, uint64_t seed) {
  spec.validate();
  auto model = std::make_unique<Sequential>();
  model->emplace<Linear>(spec.input, spec.hidden, derive_seed(seed, 0));
  if (spec.kind == "nmode")
    model->emplace<NmOde>(spec.hidden, spec.lambda, spec.t_end, spec.rtol, spec.atol, spec.learn_lambda);
  else if (spec.kind == "node") {
    model->emplace<ReLU>(spec.hidden);
    model->emplace<NeuralOde>(spec.hidden, node_options(spec), derive_seed(seed, 1));
  }
  else if (spec.kind == "mlp-relu")
    model->emplace<ReLU>(spec.hidden);
  else
    model->emplace<Tanh>(spec.hidden);
  model->emplace<Linear>(spec.hidden, spec.classes, derive_seed(seed, 2));
  return model;
}

std::map<std::string, std::vector<int64_t>> parameter_shapes(const ModelSpec& spec) {
  spec.validate();
  // The node model has one layer more (ReLU, then NeuralOde), so its output layer is 3.
  const std::string out = spec.kind == "node" ? "3" : "2";
  std::map<std::string, std::vector<int64_t>> shapes = {{"0.weight", {spec.hidden, spec.input}},
                                                        {"0.bias", {spec.hidden}},
                                                        {out + ".weight", {spec.classes, spec.hidden}},
                                                        {out + ".bias", {spec.classes}}};
  if (spec.kind == "nmode" && spec.learn_lambda) shapes["1.lambda"] = {1};
  if (spec.kind == "node") {
    shapes["2.weight"] = {spec.hidden, spec.hidden};
    shapes["2.bias"] = {spec.hidden};
  }
  return shapes;
}

std::map<std::string, std::string> to_metadata(const ModelSpec& spec) {
  return {
      {"model.kind", spec.kind},
      {"model.input", metadata_text(spec.input)},
      {"model.hidden", metadata_text(spec.hidden)},
      {"model.classes", metadata_text(spec.classes)},
      {"model.lambda", metadata_text(spec.lambda)},
      {"model.t_end", metadata_text(spec.t_end)},
      {"model.rtol", metadata_text(spec.rtol)},
      {"model.atol", metadata_text(spec.atol)},
      {"model.learn_lambda", metadata_text(spec.learn_lambda)},
      {"model.node_steps", spec.node_steps},
  };
}

ModelSpec spec_from_metadata(const std::map<std::string, std::string>& meta) {
  const std::map<std::string, std::string> known = to_metadata(ModelSpec{});
  for (const auto& [key, value] : meta)
    if (key.rfind("model.", 0) == 0 && known.count(key) == 0)
      throw IoError("model metadata has the unknown key \"" + key + "\" (written by a newer version?)");
  ModelSpec s;
  const MetadataReader read(meta, "model metadata");
  s.kind = read.text("model.kind");
  s.input = read.integer("model.input");
  s.hidden = read.integer("model.hidden");
  s.classes = read.integer("model.classes");
  s.lambda = read.number("model.lambda");
  s.t_end = read.number("model.t_end");
  s.rtol = read.number("model.rtol");
  s.atol = read.number("model.atol");
  s.learn_lambda = read.boolean("model.learn_lambda");
  if (read.has("model.node_steps")) s.node_steps = read.text("model.node_steps");  // absent before node models
  try {
    s.validate();
  } catch (const InvalidArgument& e) {
    throw IoError(std::string("model metadata describes an invalid model: ") + e.what());
  }
  return s;
}

bool operator==(const ModelSpec& a, const ModelSpec& b) {
  return a.kind == b.kind && a.input == b.input && a.hidden == b.hidden && a.classes == b.classes &&
         a.lambda == b.lambda && a.t_end == b.t_end && a.rtol == b.rtol && a.atol == b.atol &&
         a.learn_lambda == b.learn_lambda && a.node_steps == b.node_steps;
}

}  // namespace nmode
