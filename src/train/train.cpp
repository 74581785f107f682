// The training loop (plain, nmODE+ and adversarial) and evaluation, and the
// training options in checkpoint metadata, so that a resumed run continues
// bitwise like an uninterrupted one.
#include "nmode/train.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <cmath>
#include <numeric>

#include "core/names.hpp"
#include "core/numbers.hpp"
#include "io/metadata.hpp"
#include "nmode/attack_ops.hpp"
#include "nmode/checkpoint.hpp"
#include "nmode/cuda_model.hpp"
#include "nmode/error.hpp"
#include "nmode/loss.hpp"
#include "nmode/model_io.hpp"
#include "nmode/neural_ode.hpp"
#include "nmode/random.hpp"
#include "train/adversarial.hpp"

namespace nmode {
namespace {

constexpr const char* kFormat = "nmode-checkpoint-1";
constexpr Named<AdversarialTraining> kAdversarialTrainings[] = {
    {AdversarialTraining::None, "none"}, {AdversarialTraining::Pgd, "pgd"}, {AdversarialTraining::Trades, "trades"}};
constexpr Named<LrSchedule> kLrSchedules[] = {{LrSchedule::Constant, "constant"}, {LrSchedule::Cosine, "cosine"}};

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

// Widths and labels that fit the model: a label past its classes would index
// past the logits (loss) and the per-class counts.
void check_features(const Dataset& data, const Classifier& model) {
  if (data.images.dim(1) != model.input_dim())
    throw InvalidArgument("dataset '" + data.name + "' has " + std::to_string(data.images.dim(1)) +
                          " features per example but the model expects " + std::to_string(model.input_dim()));
  const int64_t k = model.num_classes();
  for (size_t i = 0; i < data.labels.size(); ++i)
    if (data.labels[i] < 0 || data.labels[i] >= k)
      throw InvalidArgument("dataset '" + data.name + "': label " + std::to_string(data.labels[i]) + " at index " +
                            std::to_string(i) + " is not one of the model's " + std::to_string(k) + " classes");
}

void add_train_metadata(const TrainOptions& o, int epochs_done, Metadata& m) {
  m["format"] = kFormat;
  m["train.epochs_done"] = metadata_text(int64_t(epochs_done));
  m["train.batch"] = metadata_text(o.batch);
  m["train.seed"] = std::to_string(o.seed);
  m["train.lr"] = metadata_text(o.adam.lr);
  m["train.beta1"] = metadata_text(o.adam.beta1);
  m["train.beta2"] = metadata_text(o.adam.beta2);
  m["train.adam_eps"] = metadata_text(o.adam.eps);
  m["train.weight_decay"] = metadata_text(o.adam.weight_decay);
  m["train.decoupled_weight_decay"] = metadata_text(o.adam.decay_mode == WeightDecay::Decoupled);
  m["train.clip"] = metadata_text(o.clip);
  m["train.stable_penalty"] = metadata_text(o.stable_penalty);
  m["train.adversarial"] = to_string(o.adversarial);
  m["train.adv_eps"] = metadata_text(o.adv_eps);
  m["train.adv_steps"] = metadata_text(int64_t(o.adv_steps));
  m["train.trades_beta"] = metadata_text(o.trades_beta);
  m["train.steady_state"] = metadata_text(o.steady_state);
  m["train.lr_schedule"] = to_string(o.lr_schedule);
  // The cosine's horizon is part of the schedule: a resumed run must keep it.
  if (o.lr_schedule == LrSchedule::Cosine) m["train.lr_schedule_epochs"] = metadata_text(int64_t(o.epochs));
}

TrainOptions train_options_from(const Metadata& m) {
  const MetadataReader read(m, "training checkpoint metadata");
  TrainOptions o;
  o.batch = read.integer_in("train.batch", 1, std::numeric_limits<int64_t>::max());
  o.seed = read.unsigned_integer("train.seed");
  o.adam.lr = read.number("train.lr");
  o.adam.beta1 = read.number("train.beta1");
  o.adam.beta2 = read.number("train.beta2");
  o.adam.eps = read.number("train.adam_eps");
  o.adam.weight_decay = read.number("train.weight_decay");
  o.adam.decay_mode = read.boolean("train.decoupled_weight_decay") ? WeightDecay::Decoupled : WeightDecay::L2;
  o.clip = read.number("train.clip");
  o.stable_penalty = read.number("train.stable_penalty");
  try {
    o.adversarial = parse_adversarial_training(read.text("train.adversarial"));
  } catch (const InvalidArgument& e) {
    throw IoError(std::string("training checkpoint metadata \"train.adversarial\": ") + e.what());
  }
  o.adv_eps = read.number("train.adv_eps");
  o.adv_steps = int(read.integer_in("train.adv_steps", 1, std::numeric_limits<int>::max()));
  o.trades_beta = read.number("train.trades_beta");
  if (read.has("train.steady_state")) o.steady_state = read.number("train.steady_state");  // absent before node models
  if (read.has("train.lr_schedule")) {  // absent before schedules: constant
    try {
      o.lr_schedule = parse_lr_schedule(read.text("train.lr_schedule"));
    } catch (const InvalidArgument& e) {
      throw IoError(std::string("training checkpoint metadata \"train.lr_schedule\": ") + e.what());
    }
  }
  if (o.lr_schedule == LrSchedule::Cosine)
    o.epochs = int(read.integer_in("train.lr_schedule_epochs", 0, std::numeric_limits<int>::max()));
  return o;
}

}  // namespace

const char* to_string(AdversarialTraining a) { return name_in(kAdversarialTrainings, a); }

AdversarialTraining parse_adversarial_training(const std::string& name) {
  return parse_name_in(kAdversarialTrainings, name, "adversarial training");
}

const char* to_string(LrSchedule s) { return name_in(kLrSchedules, s); }

LrSchedule parse_lr_schedule(const std::string& name) { return parse_name_in(kLrSchedules, name, "learning-rate schedule"); }

double scheduled_lr(const TrainOptions& o, double epochs_done) {
  if (o.lr_schedule == LrSchedule::Constant || o.epochs <= 0) return o.adam.lr;
  const double p = std::clamp(epochs_done / double(o.epochs), 0.0, 1.0);
  const double pi = std::acos(-1.0);
  return o.adam.lr * 0.5 * (1.0 + std::cos(pi * p));
}

void TrainOptions::validate() const {
  if (epochs < 0) throw InvalidArgument("epochs must be >= 0, got " + std::to_string(epochs));
  if (batch < 1) throw InvalidArgument("batch must be >= 1, got " + std::to_string(batch));
  adam.validate();
  if (!(clip >= 0) || !std::isfinite(clip)) throw InvalidArgument("clip must be >= 0 (0: off), got " + exact_decimal(clip));
  if (!(stable_penalty >= 0) || !std::isfinite(stable_penalty))
    throw InvalidArgument("stable_penalty must be >= 0 (0: off), got " + exact_decimal(stable_penalty));
  if (!(steady_state >= 0) || !std::isfinite(steady_state))
    throw InvalidArgument("steady_state must be >= 0 (0: off), got " + exact_decimal(steady_state));
  if (steady_state > 0 && adversarial == AdversarialTraining::Trades)
    throw InvalidArgument("the steady-state regulariser (TisODE) and TRADES cannot be combined: TRADES' second "
                          "pass would be regularised too");
  if (adversarial != AdversarialTraining::None) {
    if (!(adv_eps > 0) || !std::isfinite(adv_eps))
      throw InvalidArgument("adversarial eps must be > 0, got " + exact_decimal(adv_eps));
    if (adv_steps < 1) throw InvalidArgument("adversarial steps must be >= 1, got " + std::to_string(adv_steps));
    if (!(trades_beta >= 0)) throw InvalidArgument("trades beta must be >= 0, got " + exact_decimal(trades_beta));
  }
}

Trainer::Trainer(const ModelSpec& spec, const TrainOptions& options)
    : Trainer(spec, options, make_model(spec, options.seed)) {}

Trainer::Trainer(const ModelSpec& spec, const TrainOptions& options, std::unique_ptr<Sequential> model)
    : spec_(spec),
      options_(options),
      model_(std::move(model)),
      adam_(options.adam, NmOdePlusOptions{model_->nmode_input_weights(), options.clip, options.stable_penalty}),
      adversarial_(std::make_unique<AdversarialInputs>()) {
  options_.validate();
  bool has_node = false;
  for (size_t i = 0; i < model_->size(); ++i)
    if (auto* node = dynamic_cast<NeuralOde*>(&model_->layer(i))) {
      node->set_steady_state_weight(options_.steady_state);
      has_node = true;
    }
  if (options_.steady_state > 0 && !has_node)
    throw InvalidArgument("steady_state (TisODE's regulariser) needs a model with a neural-ODE layer (--model node), "
                          "got " + spec_.kind);
}

Trainer::~Trainer() = default;

std::unique_ptr<Trainer> Trainer::resume(const std::string& path) {
  const Checkpoint ck = load_checkpoint(path);
  if (ck.metadata.count("format") == 0 || ck.metadata.at("format") != kFormat)
    throw IoError("'" + path + "' is not a training checkpoint of nmode (metadata 'format' != " + kFormat + ")");
  const ModelSpec spec = spec_from_metadata(ck.metadata);
  check_parameter_shapes(ck, spec, path);
  TrainOptions options = train_options_from(ck.metadata);
  std::unique_ptr<Trainer> t;
  try {
    t.reset(new Trainer(spec, options, make_model(spec, options.seed)));
  } catch (const InvalidArgument& e) {  // values each fine alone, but not a valid run: the file is at fault
    throw IoError("'" + path + "': the training settings in its metadata are invalid: " + e.what());
  }
  load_parameters(*t->model_, ck);
  t->adam_.import_state(t->model_->parameters(), ck.tensors, ck.metadata);
  const MetadataReader read(ck.metadata, "training checkpoint metadata");
  t->epochs_done_ = int(read.integer_in("train.epochs_done", 0, std::numeric_limits<int>::max()));
  if (ck.metadata.count("data.name")) {  // absent in checkpoints written before it was recorded
    t->data_name_ = read.text("data.name");
    t->data_examples_ = read.integer_in("data.examples", 1, std::numeric_limits<int64_t>::max());
    if (ck.metadata.count("data.checksum")) t->data_checksum_ = read.text("data.checksum");
  }
  return t;
}

void Trainer::save(const std::string& path) const {
  Checkpoint ck;
  for (const ParameterRef& p : model_->parameters()) ck.tensors[p.name] = *p.value;
  ck.metadata = to_metadata(spec_);
  add_train_metadata(options_, epochs_done_, ck.metadata);
  ck.metadata["nmode.version"] = NMODE_VERSION;
  if (!data_name_.empty()) {
    ck.metadata["data.name"] = data_name_;
    ck.metadata["data.examples"] = metadata_text(data_examples_);
    ck.metadata["data.input"] = metadata_text(spec_.input);
    if (!data_checksum_.empty()) ck.metadata["data.checksum"] = data_checksum_;
  }
  adam_.export_state(ck.tensors, ck.metadata);
  save_checkpoint(path, ck);
}

// Crafts the batch's training inputs for PGD-AT / TRADES into x_adv_.
void Trainer::craft_adversarial_inputs() {
  AdversarialBudget budget;
  budget.eps = options_.adv_eps;
  budget.steps = options_.adv_steps;
  budget.seed = derive_seed(options_.seed, 1000003ULL * uint64_t(epochs_done_ + 1) + uint64_t(adam_.step_count()));
  if (options_.adversarial == AdversarialTraining::Pgd) {
    adversarial_->pgd(*model_, x_, y_, budget, x_adv_);
  } else {
    adversarial_->trades(*model_, x_, budget, x_adv_);
  }
}

bool Trainer::trades_term() const {
  return options_.adversarial == AdversarialTraining::Trades && options_.trades_beta > 0;
}

// TRADES' beta * KL(f(x) || f(x_adv)), its gradient through the adversarial
// logits: a forward and backward of x_adv, before the clean pass (which
// overwrites the layers' caches).
void Trainer::backward_trades_through_adversarial() {
  const int64_t b = x_.dim(0), k = model_->num_classes();
  logits_.resize({b, k});
  model_->forward(x_.data(), b, logits_.data(), false);
  model_->forward(x_adv_, logits_adv_, true);
  dlogits_adv_.resize({b, k});
  dlogits_adv_.fill(0.0f);
  kl_divergence(logits_, logits_adv_, options_.trades_beta / double(b), nullptr, &dlogits_adv_);
  model_->backward(dlogits_adv_);
}

void Trainer::set_device(Device device) {
  if (device == Device::Auto) throw InvalidArgument("Trainer::set_device: resolve auto first (resolve_device)");
  if (device == Device::Cpu) {
    model_->set_device(Device::Cpu);
    return;
  }
  if (options_.adversarial != AdversarialTraining::None)
    throw InvalidArgument(std::string("adversarial training (") + to_string(options_.adversarial) +
                          ") runs on the CPU only; train it with --device cpu");
  if (options_.steady_state > 0)
    throw InvalidArgument("the steady-state regulariser (TisODE) runs on the CPU only; train it with --device cpu");
  model_->set_device(Device::Cuda);
  model_->gpu()->upload_training_state(adam_);
}

// One optimizer step on the batch in x_, y_; returns the batch's summed loss and
// correct count, accumulates the solver statistics of its clean (or PGD) pass.
Trainer::BatchOutcome Trainer::train_batch(SolveStats& solver) {
  // On the GPU the whole step runs there, Adam included (CudaModel::train_step);
  // set_device refused what that path lacks (adversarial inputs, TisODE).
  if (CudaModel* gpu = model_->gpu()) {
    const CudaModel::TrainStep step = gpu->train_step(x_, y_, adam_);
    solver.merge(step.solver);
    return {step.loss_sum, step.correct};
  }
  const int64_t b = x_.dim(0);
  const Tensor* input = &x_;
  if (options_.adversarial != AdversarialTraining::None) {
    craft_adversarial_inputs();
    if (options_.adversarial == AdversarialTraining::Pgd) input = &x_adv_;
  }
  model_->zero_grad();
  if (trades_term()) backward_trades_through_adversarial();
  model_->forward(*input, logits_, true);
  BatchOutcome outcome;
  outcome.loss_sum = (softmax_cross_entropy(logits_, y_.data(), &dlogits_) + steady_state_loss(*model_)) * double(b);
  outcome.correct = count_correct(logits_, y_.data());
  if (trades_term()) kl_divergence(logits_, logits_adv_, options_.trades_beta / double(b), &dlogits_, nullptr);
  solver.merge(last_solver_stats(*model_));
  model_->backward(dlogits_);
  adam_.step(model_->parameters());
  return outcome;
}

void Trainer::check_data(const Dataset& train) const {
  if (!data_name_.empty() && (train.name != data_name_ || train.size() != data_examples_))
    throw InvalidArgument("this model was trained on " + data_name_ + " (" + std::to_string(data_examples_) +
                          " examples), but the data given now is " + train.name + " (" +
                          std::to_string(train.size()) + " examples); train on the same data, or start a new run");
}

EpochStats Trainer::train_epoch(const Dataset& train, const ProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = train.size();
  if (n == 0) throw InvalidArgument("the training set is empty");
  check_features(train, *model_);
  check_data(train);
  if (data_name_.empty()) {
    data_name_ = train.name;
    data_checksum_ = train.checksum;
    data_examples_ = train.size();
  }
  // The order of epoch e depends only on (seed, e): resuming reproduces it.
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  shuffle_indices(order, derive_seed(options_.seed, uint64_t(epochs_done_)));

  EpochStats stats;
  stats.epoch = epochs_done_ + 1;
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t first = 0; first < n; first += options_.batch) {
    const int64_t b = std::min(options_.batch, n - first);
    gather_batch(train, order, first, b, x_, y_);
    adam_.set_lr(scheduled_lr(options_, double(epochs_done_) + double(first) / double(n)));
    const BatchOutcome batch = train_batch(stats.solver);
    loss_sum += batch.loss_sum;
    correct += batch.correct;
    if (progress) progress(first + b, n, loss_sum / double(first + b), double(correct) / double(first + b));
  }
  if (CudaModel* gpu = model_->gpu()) gpu->download_training_state(adam_);  // the host model and Adam are current again
  if (stats.solver.failed() > 0) throw Error("nmODE solver failed during training: " + stats.solver.summary());
  epochs_done_ += 1;
  stats.examples = n;
  stats.mean_loss = loss_sum / double(n);
  stats.accuracy = double(correct) / double(n);
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

EvalReport evaluate(Classifier& model, const Dataset& data, int64_t batch, const ProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  if (batch < 1) throw InvalidArgument("batch must be >= 1, got " + std::to_string(batch));
  const int64_t n = data.size();
  if (n > 0) check_features(data, model);
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
    logits.resize({b, k});
    model.forward(x.data(), b, logits.data(), false);
    // Solver statistics come from the model's layers (or its GPU half); another Classifier reports none.
    if (auto* layers = dynamic_cast<Sequential*>(&model)) r.solver.merge(last_solver_stats(*layers));
    loss_sum += softmax_cross_entropy(logits, y.data(), nullptr) * double(b);
    for (int64_t i = 0; i < b; ++i) {
      const int32_t label = y[size_t(i)];
      const bool ok = is_correct(logits.data() + i * k, k, label);
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

}  // namespace nmode
