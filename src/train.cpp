// Training loop (plain, nmODE+ and adversarial), evaluation, and the checkpoint
// glue that makes a resumed run continue bitwise like an uninterrupted one.
#include "nmode/train.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <sstream>

#include "nmode/checkpoint.hpp"
#include "nmode/error.hpp"
#include "nmode/layers.hpp"
#include "nmode/loss.hpp"
#include "nmode/random.hpp"

namespace nmode {
namespace {

constexpr const char* kFormat = "nmode-checkpoint-1";

std::string number(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

double meta_double(const std::map<std::string, std::string>& m, const std::string& key) {
  const auto it = m.find(key);
  if (it == m.end()) throw IoError("checkpoint metadata lacks '" + key + "'");
  try {
    size_t used = 0;
    const double v = std::stod(it->second, &used);
    if (used != it->second.size()) throw std::invalid_argument("trailing characters");
    return v;
  } catch (const std::exception&) {
    throw IoError("checkpoint metadata '" + key + "' is not a number: '" + it->second + "'");
  }
}

// Copies rows `order[first..first+count)` of the dataset into x (count, d) and y.
void gather_batch(const Dataset& data, const std::vector<int64_t>& order, int64_t first, int64_t count, Tensor& x,
                  std::vector<int32_t>& y) {
  const int64_t d = data.images.dim(1);
  x.resize({count, d});
  y.resize(static_cast<size_t>(count));
  for (int64_t k = 0; k < count; ++k) {
    const int64_t i = order[static_cast<size_t>(first + k)];
    std::copy_n(data.images.data() + i * d, d, x.data() + k * d);
    y[static_cast<size_t>(k)] = data.labels[static_cast<size_t>(i)];
  }
}

// softmax of row r of z (n, k) into p, in double.
void softmax_row(const float* z, int64_t k, std::vector<double>& p) {
  p.resize(static_cast<size_t>(k));
  double m = z[0];
  for (int64_t j = 1; j < k; ++j) m = std::max(m, double(z[j]));
  double s = 0;
  for (int64_t j = 0; j < k; ++j) s += (p[size_t(j)] = std::exp(double(z[j]) - m));
  for (auto& v : p) v /= s;
}

void copy_parameters_from(Sequential& model, const Checkpoint& ck) {
  for (const ParameterRef& p : model.parameters()) {
    const Tensor& t = checkpoint_tensor(ck, p.name, p.value->shape());
    std::copy_n(t.data(), t.size(), p.value->data());
  }
}

void add_train_metadata(const TrainOptions& o, int epochs_done, std::map<std::string, std::string>& m) {
  m["format"] = kFormat;
  m["train.epochs_done"] = std::to_string(epochs_done);
  m["train.batch"] = std::to_string(o.batch);
  m["train.seed"] = std::to_string(o.seed);
  m["train.lr"] = number(o.adam.lr);
  m["train.beta1"] = number(o.adam.beta1);
  m["train.beta2"] = number(o.adam.beta2);
  m["train.adam_eps"] = number(o.adam.eps);
  m["train.weight_decay"] = number(o.adam.weight_decay);
  m["train.decoupled_weight_decay"] = o.adam.decay_mode == WeightDecay::Decoupled ? "1" : "0";
  m["train.clip"] = number(o.clip);
  m["train.stable_penalty"] = number(o.stable_penalty);
  m["train.adversarial"] = to_string(o.adversarial);
  m["train.adv_eps"] = number(o.adv_eps);
  m["train.adv_steps"] = std::to_string(o.adv_steps);
  m["train.trades_beta"] = number(o.trades_beta);
}

TrainOptions train_options_from(const std::map<std::string, std::string>& m) {
  TrainOptions o;
  o.batch = int64_t(meta_double(m, "train.batch"));
  o.seed = std::stoull(m.at("train.seed"));
  o.adam.lr = meta_double(m, "train.lr");
  o.adam.beta1 = meta_double(m, "train.beta1");
  o.adam.beta2 = meta_double(m, "train.beta2");
  o.adam.eps = meta_double(m, "train.adam_eps");
  o.adam.weight_decay = meta_double(m, "train.weight_decay");
  o.adam.decay_mode = meta_double(m, "train.decoupled_weight_decay") != 0 ? WeightDecay::Decoupled : WeightDecay::L2;
  o.clip = meta_double(m, "train.clip");
  o.stable_penalty = meta_double(m, "train.stable_penalty");
  o.adversarial = parse_adversarial_training(m.at("train.adversarial"));
  o.adv_eps = meta_double(m, "train.adv_eps");
  o.adv_steps = int(meta_double(m, "train.adv_steps"));
  o.trades_beta = meta_double(m, "train.trades_beta");
  return o;
}

}  // namespace

const char* to_string(AdversarialTraining a) {
  switch (a) {
    case AdversarialTraining::None: return "none";
    case AdversarialTraining::Pgd: return "pgd";
    case AdversarialTraining::Trades: return "trades";
  }
  return "unknown";
}

AdversarialTraining parse_adversarial_training(const std::string& name) {
  if (name == "none") return AdversarialTraining::None;
  if (name == "pgd") return AdversarialTraining::Pgd;
  if (name == "trades") return AdversarialTraining::Trades;
  throw InvalidArgument("adversarial training must be none, pgd or trades; got '" + name + "'");
}

void TrainOptions::validate() const {
  if (epochs < 0) throw InvalidArgument("epochs must be >= 0, got " + std::to_string(epochs));
  if (batch < 1) throw InvalidArgument("batch must be >= 1, got " + std::to_string(batch));
  adam.validate();
  if (!(clip >= 0) || !std::isfinite(clip)) throw InvalidArgument("clip must be >= 0 (0: off), got " + number(clip));
  if (!(stable_penalty >= 0) || !std::isfinite(stable_penalty))
    throw InvalidArgument("stable_penalty must be >= 0 (0: off), got " + number(stable_penalty));
  if (adversarial != AdversarialTraining::None) {
    if (!(adv_eps > 0) || !std::isfinite(adv_eps))
      throw InvalidArgument("adversarial eps must be > 0, got " + number(adv_eps));
    if (adv_steps < 1) throw InvalidArgument("adversarial steps must be >= 1, got " + std::to_string(adv_steps));
    if (!(trades_beta >= 0)) throw InvalidArgument("trades beta must be >= 0, got " + number(trades_beta));
  }
}

SolveStats last_solver_stats(Sequential& model) {
  SolveStats total;
  for (size_t i = 0; i < model.size(); ++i)
    if (const auto* ode = dynamic_cast<const NmOde*>(&model.layer(i))) total.merge(ode->last_stats());
  return total;
}

Trainer::Trainer(const ModelSpec& spec, const TrainOptions& options)
    : Trainer(spec, options, make_model(spec, options.seed)) {}

Trainer::Trainer(const ModelSpec& spec, const TrainOptions& options, std::unique_ptr<Sequential> model)
    : spec_(spec),
      options_(options),
      model_(std::move(model)),
      adam_(options.adam, NmOdePlusOptions{model_->nmode_input_weights(), options.clip, options.stable_penalty}) {
  options_.validate();
}

std::unique_ptr<Trainer> Trainer::resume(const std::string& path) {
  const Checkpoint ck = load_checkpoint(path);
  if (ck.metadata.count("format") == 0 || ck.metadata.at("format") != kFormat)
    throw IoError("'" + path + "' is not a training checkpoint of nmode (metadata 'format' != " + kFormat + ")");
  const ModelSpec spec = spec_from_metadata(ck.metadata);
  TrainOptions options = train_options_from(ck.metadata);
  std::unique_ptr<Trainer> t(new Trainer(spec, options, make_model(spec, options.seed)));
  copy_parameters_from(*t->model_, ck);
  t->adam_.import_state(t->model_->parameters(), ck.tensors, ck.metadata);
  t->epochs_done_ = int(meta_double(ck.metadata, "train.epochs_done"));
  return t;
}

void Trainer::save(const std::string& path) const {
  Checkpoint ck;
  for (const ParameterRef& p : model_->parameters()) ck.tensors[p.name] = *p.value;
  ck.metadata = to_metadata(spec_);
  add_train_metadata(options_, epochs_done_, ck.metadata);
  adam_.export_state(ck.tensors, ck.metadata);
  save_checkpoint(path, ck);
}

// Crafts the batch's training inputs for PGD-AT / TRADES into x_adv.
void Trainer::adversarial_batch(const Tensor& x, const std::vector<int32_t>& y, Tensor& x_adv) {
  const int64_t n = x.dim(0), d = x.dim(1);
  const uint64_t seed = derive_seed(options_.seed, 1000003ULL * uint64_t(epochs_done_ + 1) + uint64_t(adam_.step_count()));
  if (options_.adversarial == AdversarialTraining::Pgd) {
    AttackConfig cfg;
    cfg.kind = AttackKind::PGD;
    cfg.norm = Norm::Linf;
    cfg.eps = options_.adv_eps;
    cfg.steps = options_.adv_steps;
    cfg.seed = seed;
    cfg.batch = n;
    const AttackResult r = run_attack(*model_, x.data(), y.data(), n, cfg);
    x_adv.resize({n, d});
    std::copy(r.x_adv.begin(), r.x_adv.end(), x_adv.data());
    return;
  }
  // TRADES: maximise KL(f(x) || f(x')) over the L-inf ball by PGD from x + 0.001 N(0, 1).
  const int64_t k = model_->num_classes();
  const double alpha = 2.5 * options_.adv_eps / options_.adv_steps;
  logits_.resize({n, k});
  model_->forward(x.data(), n, logits_.data(), false);
  std::vector<std::vector<double>> p_clean(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) softmax_row(logits_.data() + i * k, k, p_clean[size_t(i)]);
  x_adv.resize({n, d});
  SplitMix64 rng(seed);
  for (int64_t j = 0; j < n * d; ++j) x_adv[j] = float(std::clamp(double(x[j]) + 0.001 * rng.next_normal(), 0.0, 1.0));
  Tensor dz({n, k}), dx({n, d});
  std::vector<double> q;
  logits_adv_.resize({n, k});
  for (int step = 0; step < options_.adv_steps; ++step) {
    model_->forward(x_adv.data(), n, logits_adv_.data(), true);
    for (int64_t i = 0; i < n; ++i) {  // d KL(p || q) / d z_adv = q - p
      softmax_row(logits_adv_.data() + i * k, k, q);
      for (int64_t c = 0; c < k; ++c) dz[i * k + c] = float(q[size_t(c)] - p_clean[size_t(i)][size_t(c)]);
    }
    model_->backward_input(dz.data(), dx.data());
    for (int64_t j = 0; j < n * d; ++j) {
      const float g = dx[j];
      const double moved = double(x_adv[j]) + alpha * double((g > 0) - (g < 0));
      const double lo = std::max(0.0, double(x[j]) - options_.adv_eps), hi = std::min(1.0, double(x[j]) + options_.adv_eps);
      x_adv[j] = float(std::clamp(moved, lo, hi));
    }
  }
}

EpochStats Trainer::train_epoch(const Dataset& train, const ProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = train.size();
  if (n == 0) throw InvalidArgument("the training set is empty");
  if (train.images.dim(1) != model_->input_dim())
    throw InvalidArgument("dataset '" + train.name + "' has " + std::to_string(train.images.dim(1)) +
                          " features per example but the model expects " + std::to_string(model_->input_dim()));
  // The order of epoch e depends only on (seed, e): resuming reproduces it.
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  shuffle_indices(order, derive_seed(options_.seed, uint64_t(epochs_done_)));

  EpochStats stats;
  stats.epoch = epochs_done_ + 1;
  double loss_sum = 0;
  int64_t correct = 0;
  const int64_t k = model_->num_classes();
  std::vector<double> p, q;
  for (int64_t first = 0; first < n; first += options_.batch) {
    const int64_t b = std::min(options_.batch, n - first);
    gather_batch(train, order, first, b, x_, y_);
    const Tensor* input = &x_;
    if (options_.adversarial != AdversarialTraining::None) {
      adversarial_batch(x_, y_, x_adv_);
      if (options_.adversarial == AdversarialTraining::Pgd) input = &x_adv_;
    }
    model_->zero_grad();
    if (options_.adversarial == AdversarialTraining::Trades && options_.trades_beta > 0) {
      // Clean logits first (no caching needed), then the adversarial pass with its
      // backward, then the clean pass with CE + the KL term's gradient.
      logits_.resize({b, k});
      model_->forward(x_.data(), b, logits_.data(), false);
      model_->forward(x_adv_, logits_adv_, true);
      dlogits_adv_.resize({b, k});
      const double beta = options_.trades_beta / double(b);
      for (int64_t i = 0; i < b; ++i) {
        softmax_row(logits_.data() + i * k, k, p);
        softmax_row(logits_adv_.data() + i * k, k, q);
        for (int64_t c = 0; c < k; ++c) dlogits_adv_[i * k + c] = float(beta * (q[size_t(c)] - p[size_t(c)]));
      }
      model_->backward(dlogits_adv_);
    }
    model_->forward(*input, logits_, true);
    loss_sum += softmax_cross_entropy(logits_, y_.data(), &dlogits_) * double(b);
    correct += count_correct(logits_, y_.data());
    if (options_.adversarial == AdversarialTraining::Trades && options_.trades_beta > 0) {
      // d/dz of beta * KL(p || q) with p = softmax(z): p_c (log p_c - log q_c - KL).
      const double beta = options_.trades_beta / double(b);
      for (int64_t i = 0; i < b; ++i) {
        softmax_row(logits_.data() + i * k, k, p);
        softmax_row(logits_adv_.data() + i * k, k, q);
        double kl = 0;
        for (int64_t c = 0; c < k; ++c)
          if (p[size_t(c)] > 0) kl += p[size_t(c)] * (std::log(p[size_t(c)]) - std::log(q[size_t(c)]));
        for (int64_t c = 0; c < k; ++c) {
          const double pc = p[size_t(c)];
          const double term = pc > 0 ? pc * (std::log(pc) - std::log(q[size_t(c)]) - kl) : 0.0;
          dlogits_[i * k + c] += float(beta * term);
        }
      }
    }
    stats.solver.merge(last_solver_stats(*model_));
    model_->backward(dlogits_);
    adam_.step(model_->parameters());
    if (progress) progress(first + b, n, loss_sum / double(first + b), double(correct) / double(first + b));
  }
  if (stats.solver.failed() > 0) throw Error("nmODE solver failed during training: " + stats.solver.summary());
  epochs_done_ += 1;
  stats.examples = n;
  stats.mean_loss = loss_sum / double(n);
  stats.accuracy = double(correct) / double(n);
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

EvalReport evaluate(Sequential& model, const Dataset& data, int64_t batch, const ProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  if (batch < 1) throw InvalidArgument("batch must be >= 1, got " + std::to_string(batch));
  const int64_t n = data.size();
  if (n > 0 && data.images.dim(1) != model.input_dim())
    throw InvalidArgument("dataset '" + data.name + "' has " + std::to_string(data.images.dim(1)) +
                          " features per example but the model expects " + std::to_string(model.input_dim()));
  const int64_t k = model.num_classes();
  EvalReport r;
  r.class_total.assign(static_cast<size_t>(k), 0);
  r.class_correct.assign(static_cast<size_t>(k), 0);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  Tensor x, logits;
  std::vector<int32_t> y;
  double loss_sum = 0;
  for (int64_t first = 0; first < n; first += batch) {
    const int64_t b = std::min(batch, n - first);
    gather_batch(data, order, first, b, x, y);
    model.forward(x, logits, false);
    r.solver.merge(last_solver_stats(model));
    loss_sum += softmax_cross_entropy(logits, y.data(), nullptr) * double(b);
    for (int64_t i = 0; i < b; ++i) {
      const float* z = logits.data() + i * k;
      const int32_t label = y[size_t(i)];
      bool finite = true;
      int64_t best = 0;
      for (int64_t c = 0; c < k; ++c) {
        finite = finite && std::isfinite(z[c]);
        if (z[c] > z[best]) best = c;
      }
      const bool ok = finite && best == label;
      r.class_total[size_t(label)] += 1;
      r.class_correct[size_t(label)] += ok;
      r.correct += ok;
    }
    r.examples += b;
    if (progress) progress(first + b, n, loss_sum / double(first + b), double(r.correct) / double(first + b));
  }
  r.mean_loss = n ? loss_sum / double(n) : 0.0;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::unique_ptr<Sequential> load_model(const std::string& path, ModelSpec* spec_out) {
  const Checkpoint ck = load_checkpoint(path);
  const ModelSpec spec = spec_from_metadata(ck.metadata);
  std::unique_ptr<Sequential> model = make_model(spec, 0);
  copy_parameters_from(*model, ck);
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
