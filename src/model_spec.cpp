// The model factory and the model description kept in checkpoint metadata, so a
// checkpoint alone rebuilds the model it was saved from.
#include <charconv>
#include <string>
#include <system_error>

#include "nmode/error.hpp"
#include "nmode/model.hpp"
#include "nmode/random.hpp"

namespace nmode {
namespace {

const char* const kKinds = "\"nmode\", \"mlp-relu\" or \"mlp-tanh\"";

// Shortest decimal that reads back to the same double.
std::string format_double(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

const std::string& require(const std::map<std::string, std::string>& meta, const std::string& key) {
  const auto it = meta.find(key);
  if (it == meta.end()) throw IoError("model metadata lacks the key \"" + key + "\"");
  return it->second;
}

[[noreturn]] void bad_value(const std::string& key, const std::string& value, const char* expected) {
  throw IoError("model metadata \"" + key + "\" = \"" + value + "\" is not " + expected);
}

int64_t parse_int(const std::map<std::string, std::string>& meta, const std::string& key) {
  const std::string& v = require(meta, key);
  int64_t out = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size()) bad_value(key, v, "an integer");
  return out;
}

double parse_double(const std::map<std::string, std::string>& meta, const std::string& key) {
  const std::string& v = require(meta, key);
  double out = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size()) bad_value(key, v, "a number");
  return out;
}

bool parse_bool(const std::map<std::string, std::string>& meta, const std::string& key) {
  const std::string& v = require(meta, key);
  if (v == "true") return true;
  if (v == "false") return false;
  bad_value(key, v, "\"true\" or \"false\"");
}

}  // namespace

void ModelSpec::validate() const {
  if (kind != "nmode" && kind != "mlp-relu" && kind != "mlp-tanh")
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
}

std::unique_ptr<Sequential> make_model(const ModelSpec& spec, uint64_t seed) {
  spec.validate();
  auto model = std::make_unique<Sequential>();
  model->emplace<Linear>(spec.input, spec.hidden, derive_seed(seed, 0));
  if (spec.kind == "nmode")
    model->emplace<NmOde>(spec.hidden, spec.lambda, spec.t_end, spec.rtol, spec.atol, spec.learn_lambda);
  else if (spec.kind == "mlp-relu")
    model->emplace<ReLU>(spec.hidden);
  else
    model->emplace<Tanh>(spec.hidden);
  model->emplace<Linear>(spec.hidden, spec.classes, derive_seed(seed, 2));
  return model;
}

std::map<std::string, std::string> to_metadata(const ModelSpec& spec) {
  return {
      {"model.kind", spec.kind},
      {"model.input", std::to_string(spec.input)},
      {"model.hidden", std::to_string(spec.hidden)},
      {"model.classes", std::to_string(spec.classes)},
      {"model.lambda", format_double(spec.lambda)},
      {"model.t_end", format_double(spec.t_end)},
      {"model.rtol", format_double(spec.rtol)},
      {"model.atol", format_double(spec.atol)},
      {"model.learn_lambda", spec.learn_lambda ? "true" : "false"},
  };
}

ModelSpec spec_from_metadata(const std::map<std::string, std::string>& meta) {
  const std::map<std::string, std::string> known = to_metadata(ModelSpec{});
  for (const auto& [key, value] : meta)
    if (key.rfind("model.", 0) == 0 && known.count(key) == 0)
      throw IoError("model metadata has the unknown key \"" + key + "\" (written by a newer version?)");
  ModelSpec s;
  s.kind = require(meta, "model.kind");
  s.input = parse_int(meta, "model.input");
  s.hidden = parse_int(meta, "model.hidden");
  s.classes = parse_int(meta, "model.classes");
  s.lambda = parse_double(meta, "model.lambda");
  s.t_end = parse_double(meta, "model.t_end");
  s.rtol = parse_double(meta, "model.rtol");
  s.atol = parse_double(meta, "model.atol");
  s.learn_lambda = parse_bool(meta, "model.learn_lambda");
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
         a.learn_lambda == b.learn_lambda;
}

}  // namespace nmode
