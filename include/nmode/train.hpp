// Training and evaluation loops for Sequential models on image datasets, and the
// checkpoint glue: a checkpoint holds the parameters, the model spec, the training
// options and the optimizer state, so training resumes exactly where it stopped.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nmode/attack.hpp"
#include "nmode/dataset.hpp"
#include "nmode/device.hpp"
#include "nmode/model.hpp"
#include "nmode/model_io.hpp"  // load_model, save_model: here before they had a header
#include "nmode/ode.hpp"
#include "nmode/optim.hpp"

namespace nmode {

class AdversarialInputs;  // src/train/adversarial.hpp

// Adversarial training (baselines): PGD-AT (Madry) trains on PGD examples;
// TRADES adds beta * KL(f(x) || f(x_adv)) to the clean loss.
enum class AdversarialTraining { None, Pgd, Trades };

// Learning rate over the run. Cosine (Loshchilov & Hutter 2017, without restarts)
// decays from the Adam lr to 0 over `epochs`, updated before every batch; it lets
// a model that overfits at a constant rate settle late in a short budget.
enum class LrSchedule { Constant, Cosine };

struct TrainOptions {
  int epochs = 10;
  int64_t batch = 256;
  uint64_t seed = 0;
  AdamOptions adam;
  double clip = 0.0;            // nmODE+: clamp the nmODE input weights to [-clip, clip] (0: off)
  double stable_penalty = 0.0;  // nmODE+: eta * max_i sum_j |w_ij| added to the loss (0: off)
  AdversarialTraining adversarial = AdversarialTraining::None;
  double adv_eps = 0.1;         // L-inf radius of the training attack
  int adv_steps = 10;           // PGD steps of the training attack
  double trades_beta = 6.0;
  // TisODE (Yan et al. 2019): weight of the steady-state regulariser of the model's
  // neural-ODE layers (NeuralOde::set_steady_state_weight); node models only, 0: off.
  double steady_state = 0.0;
  LrSchedule lr_schedule = LrSchedule::Constant;

  void validate() const;  // InvalidArgument naming the option
};

// The learning rate after `epochs_done` epochs (fractional within an epoch):
// adam.lr for Constant; adam.lr * (1 + cos(pi * p)) / 2 with p = epochs_done /
// epochs clamped to [0, 1] for Cosine (0 from the last epoch's end on, and
// adam.lr throughout when epochs is 0).
double scheduled_lr(const TrainOptions& options, double epochs_done);


struct EpochStats {
  int epoch = 0;  // 1-based
  int64_t examples = 0;
  double mean_loss = 0.0;
  double accuracy = 0.0;  // on the training batches as seen (before each update)
  double seconds = 0.0;
  SolveStats solver;  // accumulated over the epoch's forward passes
};

// Called after every batch: examples done, total, running loss and accuracy.
using ProgressFn = std::function<void(int64_t done, int64_t total, double loss, double accuracy)>;

class Trainer {
 public:
  // A fresh model from `spec` (initialised with options.seed).
  Trainer(const ModelSpec& spec, const TrainOptions& options);
  ~Trainer();
  // Resumes from a checkpoint written by save(): same parameters, optimizer state
  // and epoch count; the data order of later epochs is the same as uninterrupted.
  static std::unique_ptr<Trainer> resume(const std::string& checkpoint_path);

  // The first epoch records which data the model learns from (train.name and its
  // size); a later epoch, resumed or not, on other data is an InvalidArgument
  // naming both, since it would silently mix two datasets into one model.
  EpochStats train_epoch(const Dataset& train, const ProgressFn& progress = {});
  // The check train_epoch makes, for callers that want it before any output.
  void check_data(const Dataset& train) const;
  // Where the next epochs run (default: the CPU): the model's own device
  // (Sequential::set_device). On Cuda each step runs on the model's GPU half, the
  // loss and Adam included (CudaModel::train_step); the
  // parameters and Adam's moments come back to the host at the end of each epoch
  // (and go to the GPU here), so a checkpoint is the same file either way and
  // model() is current between epochs. Throws InvalidArgument for what the
  // GPU path lacks (adversarial training, the steady-state regulariser, a layer
  // without a CUDA implementation) and Error when no GPU is usable.
  void set_device(Device device);
  Device device() const { return model_->device(); }
  // Atomic (temporary file + rename). The metadata also records the data
  // ("data.name", "data.examples", "data.input", for a dataset folder
  // "data.checksum") and "nmode.version".
  void save(const std::string& path) const;

  Sequential& model() { return *model_; }
  const Adam& optimizer() const { return adam_; }  // its state is what a checkpoint saves
  const ModelSpec& spec() const { return spec_; }
  const TrainOptions& options() const { return options_; }
  TrainOptions& mutable_options() { return options_; }
  int epochs_done() const { return epochs_done_; }
  const std::string& data_name() const { return data_name_; }  // empty before the first epoch
  int64_t data_examples() const { return data_examples_; }

 private:
  struct BatchOutcome {
    double loss_sum = 0.0;
    int64_t correct = 0;
  };

  Trainer(const ModelSpec& spec, const TrainOptions& options, std::unique_ptr<Sequential> model);
  BatchOutcome train_batch(SolveStats& solver);
  void craft_adversarial_inputs();
  bool trades_term() const;
  void backward_trades_through_adversarial();

  ModelSpec spec_;
  TrainOptions options_;
  std::unique_ptr<Sequential> model_;
  Adam adam_;
  int epochs_done_ = 0;
  std::string data_name_, data_checksum_;
  int64_t data_examples_ = 0;
  std::unique_ptr<AdversarialInputs> adversarial_;
  // Reused across batches: no allocation in the steady state.
  Tensor x_, x_adv_, logits_, dlogits_, logits_adv_, dlogits_adv_;
  std::vector<int32_t> y_;
};

struct EvalReport {
  int64_t examples = 0;
  int64_t correct = 0;
  double mean_loss = 0.0;
  std::vector<int64_t> class_total, class_correct;
  SolveStats solver;
  double seconds = 0.0;
  double accuracy() const { return examples ? double(correct) / double(examples) : 0.0; }
};

EvalReport evaluate(Classifier& model, const Dataset& data, int64_t batch = 256, const ProgressFn& progress = {});


const char* to_string(AdversarialTraining a);
const char* to_string(LrSchedule s);
LrSchedule parse_lr_schedule(const std::string& name);  // "constant" or "cosine"; InvalidArgument otherwise
AdversarialTraining parse_adversarial_training(const std::string& name);  // none | pgd | trades

}  // namespace nmode
