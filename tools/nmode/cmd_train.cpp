// `nmode train`: train an nmODE (or baseline MLP) classifier on MNIST or
// Fashion-MNIST, writing an atomic checkpoint after every epoch.
#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "data_options.hpp"
#include "nmode/dataset.hpp"
#include "nmode/error.hpp"
#include "nmode/train.hpp"
#include "model_on_device.hpp"
#include "progress.hpp"

namespace nmode::cli {
namespace {

struct TrainArgs {
  DataOptions data;
  std::string out, resume, adversarial = "none", lr_schedule = "constant";
  ModelSpec spec;
  TrainOptions train;
  bool decoupled = false, no_test = false;
  int64_t limit = 0;
  CommonOptions common;
};

nlohmann::json epoch_json(const EpochStats& e, double test_acc) {
  nlohmann::json j = {{"epoch", e.epoch},          {"loss", e.mean_loss},
                      {"train_accuracy", e.accuracy}, {"seconds", e.seconds},
                      {"mean_steps", e.solver.mean_accepted()}, {"max_steps", e.solver.max_accepted}};
  if (test_acc >= 0) j["test_accuracy"] = test_acc;
  return j;
}

// A resumed run continues with the checkpoint's model and training settings (so
// that it equals an uninterrupted run); silently ignoring a new value would
// mislead, and applying it would break that equality.
void refuse_settings_beside_resume(const CLI::App& sub) {
  static const char* const kSettings[] = {"--batch", "--lr", "--weight-decay", "--decoupled", "--model",
                                          "--hidden", "--lambda", "--t-end", "--rtol", "--atol",
                                          "--learn-lambda", "--clip", "--stable-penalty", "--adv", "--adv-eps",
                                          "--adv-steps", "--trades-beta", "--seed", "--node-steps",
                                          "--steady-state", "--lr-schedule"};
  std::string given;
  for (const char* name : kSettings)
    if (sub.get_option(name)->count() > 0) given += (given.empty() ? "" : ", ") + std::string(name);
  if (!given.empty())
    throw InvalidArgument("--resume continues with the checkpoint's own settings, so " + given +
                          " cannot be given with it; drop them, or start a new run without --resume to change them");
}

// The cosine schedule decays over the epochs of the run that started it; a resumed
// run keeps that horizon (another --epochs would change the rates already used).
void keep_cosine_horizon(const Trainer& trainer, const TrainArgs& a, bool epochs_given) {
  if (trainer.options().lr_schedule != LrSchedule::Cosine || !epochs_given || a.train.epochs == trainer.options().epochs)
    return;
  throw InvalidArgument("--epochs " + std::to_string(a.train.epochs) + ": '" + a.resume +
                        "' follows a cosine learning-rate schedule over " + std::to_string(trainer.options().epochs) +
                        " epochs; resume with --epochs " + std::to_string(trainer.options().epochs) + " or omit it");
}

void run(TrainArgs& a, bool epochs_given) {
  const Device device = apply_common_options(a.common);
  check_output_path(a.out, "--out");  // now rather than after the first epoch
  std::unique_ptr<Trainer> trainer;
  nlohmann::json resumed;  // part of the --json document, so stdout stays one JSON value
  if (!a.resume.empty()) {
    trainer = Trainer::resume(a.resume);
    keep_cosine_horizon(*trainer, a, epochs_given);
    if (trainer->options().lr_schedule == LrSchedule::Cosine) a.train.epochs = trainer->options().epochs;
    if (trainer->epochs_done() > a.train.epochs)
      throw InvalidArgument("--epochs " + std::to_string(a.train.epochs) + ": '" + a.resume + "' has already trained " +
                            std::to_string(trainer->epochs_done()) + " epochs");
    trainer->mutable_options().epochs = a.train.epochs;
    if (a.common.json)
      resumed = {{"checkpoint", a.resume}, {"after_epoch", trainer->epochs_done()}};
    else
      std::cout << "resumed " << a.resume << " after epoch " << trainer->epochs_done() << "\n";
  } else {
    a.spec.validate();
    if (a.spec.kind == "nmode") notice_rtol_floor(a.spec.rtol, false);  // models solve in float
    a.train.adam.decay_mode = a.decoupled ? WeightDecay::Decoupled : WeightDecay::L2;
    a.train.adversarial = parse_adversarial_training(a.adversarial);
    a.train.lr_schedule = parse_lr_schedule(a.lr_schedule);
    a.train.validate();
    if (a.spec.kind != "node" && a.train.steady_state > 0)
      throw InvalidArgument("--steady-state is TisODE's regulariser of a neural ODE; it needs --model node");
    if (a.spec.kind != "node" && a.spec.node_steps != ModelSpec{}.node_steps)
      throw InvalidArgument("--node-steps applies to --model node only");
  }
  const std::string data_name = dataset_name(a.data);
  if (trainer && !trainer->data_name().empty() && trainer->data_name() != data_name)  // before reading any data
    throw InvalidArgument("--dataset " + a.data.dataset + ": '" + a.resume + "' was trained on " +
                          trainer->data_name() + "; pass --dataset " + trainer->data_name());
  const Dataset train = load_data(a.data, Split::Train, a.limit, "--limit");
  Dataset test;
  if (!a.no_test) test = load_data(a.data, Split::Test, 0, "");
  if (!trainer) {  // a new model takes its input width and class count from the data
    a.spec.input = train.images.dim(1);
    a.spec.classes = train.classes;
    trainer = std::make_unique<Trainer>(a.spec, a.train);
  }
  trainer->check_data(train);
  gpu_or_cpu(device, a.common, [&] { trainer->set_device(Device::Cuda); });
  if (!a.common.json)
    std::cout << model_summary(trainer->model().describe()) << " on " << data_name << " (" << train.size()
              << " training examples, " << train.classes << " classes), batch " << trainer->options().batch << ", "
              << (trainer->device() == Device::Cuda ? "cuda" : std::to_string(openmp_threads()) + " cpu threads") << "\n";
  nlohmann::json epochs = nlohmann::json::array();
  // A checkpoint resumed at its last epoch has nothing left to train; --out still gets it.
  if (trainer->epochs_done() == trainer->options().epochs) trainer->save(a.out);
  while (trainer->epochs_done() < trainer->options().epochs) {
    ProgressBar bar("epoch " + std::to_string(trainer->epochs_done() + 1), "img");
    const EpochStats e = trainer->train_epoch(train, [&](int64_t done, int64_t total, double loss, double acc) {
      char extra[64];
      std::snprintf(extra, sizeof extra, "loss %.4f acc %.4f", loss, acc);
      bar.update(done, total, extra);
    });
    bar.finish();
    trainer->save(a.out);
    double test_acc = -1;
    if (!a.no_test) test_acc = evaluate(trainer->model(), test, 512).accuracy();  // on the trainer's device
    if (a.common.json) {
      epochs.push_back(epoch_json(e, test_acc));
    } else {
      char steps[48] = "";  // the GPU path reports no solver statistics
      if (e.solver.elements > 0) std::snprintf(steps, sizeof steps, ", %.2f steps/element", e.solver.mean_accepted());
      std::printf("epoch %d: loss %.4f, train acc %.4f, %s%.1f s (%.0f img/s)%s -> %s\n", e.epoch, e.mean_loss,
                  e.accuracy, test_acc >= 0 ? ("test acc " + format_number(test_acc, 4) + ", ").c_str() : "",
                  e.seconds, double(e.examples) / e.seconds, steps, a.out.c_str());
      std::fflush(stdout);
    }
  }
  if (a.common.json) {
    nlohmann::json result = {{"checkpoint", a.out}, {"epochs", epochs}};
    if (!resumed.is_null()) result["resumed"] = resumed;
    print_json(result);
  }
}

}  // namespace

void register_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* sub = app.add_subcommand("train", "Train a classifier; writes a safetensors checkpoint after every epoch");
  add_data_options(*sub, a->data);
  sub->add_option("--out", a->out, "Checkpoint to write (.safetensors)")->required();
  sub->add_option("--resume", a->resume, "Continue training from this checkpoint (its settings win)")->check(CLI::ExistingFile);
  sub->add_option("--epochs", a->train.epochs, "Total epochs (a resumed run continues up to this number)")
      ->check(CLI::Range(0, 100000))->capture_default_str();
  sub->add_option("--batch", a->train.batch, "Batch size")->check(CLI::Range(int64_t(1), int64_t(1) << 20))->capture_default_str();
  sub->add_option("--lr", a->train.adam.lr, "Adam learning rate")->capture_default_str();
  sub->add_option("--lr-schedule", a->lr_schedule,
                  "constant, or cosine: decay from --lr to 0 over --epochs, before every batch")
      ->check(CLI::IsMember({"constant", "cosine"}))->capture_default_str();
  sub->add_option("--weight-decay", a->train.adam.weight_decay, "Weight decay (L2 in the gradient, as Adam's wd)")->capture_default_str();
  sub->add_flag("--decoupled", a->decoupled, "Decoupled weight decay (AdamW) instead of L2");
  sub->add_option("--model", a->spec.kind,
                  "nmode, mlp-relu, mlp-tanh, or node (a coupled neural ODE dh/dt = tanh(W h + b) of width --hidden)")
      ->check(CLI::IsMember({"nmode", "mlp-relu", "mlp-tanh", "node"}))->capture_default_str();
  sub->add_option("--hidden", a->spec.hidden, "Hidden width")->check(CLI::Range(int64_t(1), int64_t(1) << 20))->capture_default_str();
  sub->add_option("--lambda", a->spec.lambda, "nmODE decay rate lambda")->capture_default_str();
  sub->add_option("--t-end", a->spec.t_end, "nmODE or neural-ODE integration time")->capture_default_str();
  sub->add_option("--rtol", a->spec.rtol, "Solver relative tolerance")->capture_default_str();
  sub->add_option("--atol", a->spec.atol, "Solver absolute tolerance")->capture_default_str();
  sub->add_flag("--learn-lambda", a->spec.learn_lambda, "Make lambda a trained parameter");
  sub->add_option("--node-steps", a->spec.node_steps,
                  "node: per-sample (one adaptive step per sample) or batch-shared (one per batch, as torchdiffeq)")
      ->check(CLI::IsMember({"per-sample", "batch-shared"}))->capture_default_str();
  sub->add_option("--steady-state", a->train.steady_state,
                  "node: TisODE's steady-state regulariser weight w, loss + w * mean |f(h(t_end))| (0: off)")
      ->check(kFiniteNonNegative)->capture_default_str();
  sub->add_option("--clip", a->train.clip, "nmODE+: clip the nmODE input weights to [-C, C] after each step (0: off)")->capture_default_str();
  sub->add_option("--stable-penalty", a->train.stable_penalty, "nmODE+: penalty eta * max_i sum_j |w_ij| (0: off)")->capture_default_str();
  sub->add_option("--adv", a->adversarial, "Adversarial training: none, pgd (Madry) or trades")
      ->check(CLI::IsMember({"none", "pgd", "trades"}))->capture_default_str();
  sub->add_option("--adv-eps", a->train.adv_eps, "L-inf radius of the training attack")->capture_default_str();
  sub->add_option("--adv-steps", a->train.adv_steps, "PGD steps of the training attack")->capture_default_str();
  sub->add_option("--trades-beta", a->train.trades_beta, "TRADES beta")->capture_default_str();
  sub->add_option("--limit", a->limit, "Train on the first N images only (0: all)")->check(CLI::Range(int64_t(0), int64_t(1) << 40));
  sub->add_option("--seed", a->train.seed, "Seed (initialisation, data order, attacks)")->capture_default_str();
  sub->add_flag("--no-test", a->no_test, "Skip the test-set accuracy after each epoch");
  add_common_options(*sub, a->common);
  sub->callback([a, sub] {
    if (!a->resume.empty()) refuse_settings_beside_resume(*sub);
    run(*a, sub->get_option("--epochs")->count() > 0);
  });
}

}  // namespace nmode::cli
