// make_surrogate_model: a layer-by-layer copy of a Sequential in which every NmOde
// becomes an NmOdeSurrogate. Weights are copied, not shared, so the surrogate and
// the model keep separate buffers and may be called one after the other freely.
#include <set>
#include <string>

#include "nmode/error.hpp"
#include "nmode/surrogate.hpp"

namespace nmode {
namespace {

// "Linear(784 -> 256) -> ReLU(256) -> Linear(256 -> 10)": the model on one line.
std::string one_line(const Sequential& model) {
  std::string s;
  for (size_t i = 0; i < model.size(); ++i) s += (i ? " -> " : "") + model.layer(i).describe();
  return s.empty() ? "(no layers)" : s;
}

// A copy of `layer` with its weights, or nullptr for a kind this file does not know.
std::unique_ptr<Layer> copy_layer(const Layer& layer, SurrogateRegime regime) {
  if (const auto* ode = dynamic_cast<const NmOde*>(&layer))
    return std::make_unique<NmOdeSurrogate>(ode->in_features(), ode->lambda(), ode->solver_options().t_end, regime);
  if (const auto* lin = dynamic_cast<const Linear*>(&layer)) {
    auto copy = std::make_unique<Linear>(lin->in_features(), lin->out_features());
    copy->weight() = lin->weight();
    copy->bias() = lin->bias();
    return copy;
  }
  if (dynamic_cast<const ReLU*>(&layer)) return std::make_unique<ReLU>(layer.in_features());
  if (dynamic_cast<const Tanh*>(&layer)) return std::make_unique<Tanh>(layer.in_features());
  return nullptr;
}

}  // namespace

SurrogateModel make_surrogate_model(const Sequential& model, SurrogateRegime regime) {
  bool has_nmode = false;
  for (size_t i = 0; i < model.size(); ++i) has_nmode = has_nmode || dynamic_cast<const NmOde*>(&model.layer(i));
  if (!has_nmode)
    throw InvalidArgument("the surrogate attack needs a model with an nmODE layer; this model is: " + one_line(model) +
                          " (attack it with pgd or apgd directly)");
  SurrogateModel out;
  out.model = std::make_unique<Sequential>();
  std::set<std::string> regimes;
  for (size_t i = 0; i < model.size(); ++i) {
    const Layer& layer = model.layer(i);
    std::unique_ptr<Layer> copy;
    try {
      copy = copy_layer(layer, regime);
    } catch (const InvalidArgument& e) {  // the regime rule refused this layer's lambda, t_end
      throw InvalidArgument("surrogate of layer " + std::to_string(i) + " " + layer.describe() + ": " + e.what());
    }
    if (!copy)
      throw InvalidArgument("the surrogate model cannot copy layer " + std::to_string(i) + " " + layer.describe() +
                            " (it knows Linear, NmOde, ReLU and Tanh); this model is: " + one_line(model));
    if (const auto* s = dynamic_cast<const NmOdeSurrogate*>(copy.get())) regimes.insert(to_string(s->regime()));
    out.model->add(std::move(copy));
  }
  out.name = "surrogate-";
  bool first = true;
  for (const std::string& r : regimes) {  // std::set: "frozen" before "steady", a stable name
    out.name += (first ? "" : "+") + r;
    first = false;
  }
  return out;
}

}  // namespace nmode
