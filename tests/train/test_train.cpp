// Training end to end on real MNIST (skipped with the reason when the data is
// absent): the loss falls and accuracy clears a floor, runs are deterministic
// across thread counts, and resuming from a checkpoint equals not stopping.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "nmode/checkpoint.hpp"
#include "support/model_specs.hpp"
#include "support/mnist_test_util.hpp"
#include "support/synthetic_data.hpp"
#include "nmode/dataset.hpp"
#include "nmode/error.hpp"
#include "nmode/train.hpp"

namespace nmode {
namespace {


// Tests on real MNIST; skipped, with the reason, where the data is not installed.
class OnMnist : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      train_ = load_dataset("mnist", Split::Train, test::mnist_data_dir());
      test_ = load_dataset("mnist", Split::Test, test::mnist_data_dir());
    } catch (const IoError& e) {
      GTEST_SKIP() << "MNIST not available: " << e.what();
    }
  }
  Dataset train_, test_;
};
using TrainDeterminism = OnMnist;
using TrainResume = OnMnist;

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("nmode_test_train_" + name)).string();
}

// A model small enough that saving and resuming it costs nothing.
ModelSpec tiny_spec() { return test::sized_spec(6, 4, 3); }

std::vector<float> flat_parameters(Sequential& m) {
  std::vector<float> v;
  for (const ParameterRef& p : m.parameters()) v.insert(v.end(), p.value->data(), p.value->data() + p.value->size());
  return v;
}

TEST(TrainSmoke, LossFallsAndAccuracyClearsAFloorOnAnMnistSubset) {
  ModelSpec spec;
  spec.hidden = 512;
  test::expect_learns_on_an_mnist_subset(spec);
}

TEST_F(TrainDeterminism, SameResultOnOneAndTwoThreads) {
  const Dataset train = take_first(train_, 600);
  ModelSpec spec;
  spec.hidden = 48;
  TrainOptions o;
  o.batch = 100;
  std::vector<std::vector<float>> results;
#ifdef _OPENMP
  const int saved = omp_get_max_threads();
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
#else
  for (int threads : {1, 1}) {
    (void)threads;
#endif
    Trainer t(spec, o);
    t.train_epoch(train);
    results.push_back(flat_parameters(t.model()));
  }
#ifdef _OPENMP
  omp_set_num_threads(saved);
#endif
  ASSERT_EQ(results[0].size(), results[1].size());
  EXPECT_EQ(std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)), 0);
}

// Trains `total` epochs straight, and `before` epochs, saved, resumed and the
// rest: the parameters must be bitwise alike. Returns the resumed trainer.
std::unique_ptr<Trainer> expect_resuming_equals_straight(const ModelSpec& spec, const TrainOptions& o,
                                                         const Dataset& train, int before, int total,
                                                         const std::string& name) {
  Trainer straight(spec, o);
  for (int e = 0; e < total; ++e) straight.train_epoch(train);
  Trainer first(spec, o);
  for (int e = 0; e < before; ++e) first.train_epoch(train);
  const std::string path = temp_path(name + ".safetensors");
  first.save(path);
  std::unique_ptr<Trainer> resumed = Trainer::resume(path);
  std::filesystem::remove(path);
  EXPECT_EQ(resumed->epochs_done(), before);
  for (int e = before; e < total; ++e) resumed->train_epoch(train);
  const std::vector<float> a = flat_parameters(straight.model()), b = flat_parameters(resumed->model());
  EXPECT_EQ(a.size(), b.size());
  EXPECT_TRUE(a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0)
      << "resumed parameters differ from uninterrupted training";
  return resumed;
}

TEST_F(TrainResume, ResumingFromACheckpointEqualsUninterruptedTraining) {
  ModelSpec spec;
  spec.hidden = 32;
  spec.learn_lambda = true;
  TrainOptions o;
  o.batch = 64;
  o.epochs = 2;
  o.adam.weight_decay = 1e-4;
  o.clip = 0.5;
  expect_resuming_equals_straight(spec, o, take_first(train_, 500), 1, 2, "resume");
}

TEST(TrainCheckpoint, SavedModelLoadsWithItsSpecAndGivesTheSameLogits) {
  ModelSpec spec = tiny_spec();  // with a lambda and t_end of their own
  spec.input = 12;
  spec.lambda = 4;
  spec.t_end = 0.5;
  TrainOptions o;
  Trainer t(spec, o);
  const std::string path = temp_path("model.safetensors");
  t.save(path);
  ModelSpec loaded_spec;
  auto loaded = load_model(path, &loaded_spec);
  EXPECT_EQ(loaded_spec, spec);
  Tensor x({2, 12}, 0.25f), z1, z2;
  t.model().forward(x, z1, false);
  loaded->forward(x, z2, false);
  EXPECT_EQ(std::memcmp(z1.data(), z2.data(), z1.size() * sizeof(float)), 0);
  std::filesystem::remove(path);
}

// The export keeps what a model needs and nothing of the optimizer.
TEST(TrainCheckpoint, WeightsOnlyExportLoadsAsTheSameModelWithoutAdamState) {
  const ModelSpec spec = tiny_spec();
  Trainer t(spec, TrainOptions{});
  const std::string full = temp_path("full.safetensors"), slim = temp_path("slim.safetensors");
  t.save(full);
  export_weights_only(full, slim);
  const Checkpoint ck = load_checkpoint(slim);
  EXPECT_EQ(ck.tensors.size(), 4u);  // 0.weight, 0.bias, 2.weight, 2.bias
  for (const auto& [key, value] : ck.metadata) EXPECT_EQ(key.rfind("adam", 0), std::string::npos) << key;
  EXPECT_EQ(ck.metadata.count("train.lr"), 0u);
  ModelSpec loaded_spec;
  auto loaded = load_model(slim, &loaded_spec);
  EXPECT_EQ(loaded_spec, spec);
  Tensor x({2, spec.input}, 0.25f), z1, z2;
  t.model().forward(x, z1, false);
  loaded->forward(x, z2, false);
  EXPECT_EQ(std::memcmp(z1.data(), z2.data(), z1.size() * sizeof(float)), 0);
  EXPECT_THROW(Trainer::resume(slim), IoError);
  std::filesystem::remove(full);
  std::filesystem::remove(slim);
}

TEST(TrainOptionsValidation, BadValuesThrowNamingTheOption) {
  TrainOptions o;
  o.batch = 0;
  EXPECT_THROW(o.validate(), InvalidArgument);
  o = TrainOptions{};
  o.clip = -1;
  EXPECT_THROW(o.validate(), InvalidArgument);
  o = TrainOptions{};
  o.adversarial = AdversarialTraining::Pgd;
  o.adv_eps = 0;
  EXPECT_THROW(o.validate(), InvalidArgument);
  EXPECT_THROW(parse_adversarial_training("fgsm"), InvalidArgument);
}

// One model, one dataset: the first epoch's data are recorded, saved and resumed,
// and other data later is refused naming both.
TEST(TrainDataMismatch, OtherDataAfterTheFirstEpochIsRefusedAndTheRecordSurvivesResume) {
  ModelSpec spec = tiny_spec();
  spec.input = 6;
  Trainer t(spec, TrainOptions{});
  Dataset d;
  d.name = "first";
  d.rows = 1;
  d.cols = 6;
  d.images = Tensor({4, 6}, 0.5f);
  d.labels = {0, 1, 2, 1};
  t.train_epoch(d);
  Dataset other = d;
  other.name = "second";
  EXPECT_THROW(t.train_epoch(other), InvalidArgument);
  Dataset fewer = take_first(d, 3);
  try {
    t.check_data(fewer);
    ADD_FAILURE() << "3 of the 4 examples were accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("first (4 examples), but the data given now is first (3 examples)"),
              std::string::npos) << e.what();
  }
  const std::string path = temp_path("data_record.safetensors");
  t.save(path);
  const Checkpoint ck = load_checkpoint(path);
  EXPECT_EQ(ck.metadata.at("data.name"), "first");
  EXPECT_EQ(ck.metadata.at("data.examples"), "4");
  EXPECT_EQ(ck.metadata.at("data.input"), "6");
  EXPECT_FALSE(ck.metadata.at("nmode.version").empty());
  auto resumed = Trainer::resume(path);
  EXPECT_EQ(resumed->data_name(), "first");
  EXPECT_THROW(resumed->train_epoch(other), InvalidArgument);
  EXPECT_NO_THROW(resumed->train_epoch(d));
  std::filesystem::remove(path);
}

TEST(TrainDataMismatch, WrongFeatureCountIsAClearError) {
  ModelSpec spec;
  spec.input = 10;
  spec.hidden = 4;
  Trainer t(spec, TrainOptions{});
  Dataset d;
  d.name = "synthetic";
  d.images = Tensor({3, 7}, 0.5f);
  d.labels = {0, 1, 2};
  try {
    t.train_epoch(d);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("expects 10"), std::string::npos) << e.what();
  }
}

// Every bad or missing key of a training checkpoint is an IoError that names it
// (a non-numeric seed used to escape as std::invalid_argument from std::stoull).
TEST(TrainCheckpoint, BadMetadataIsAnIoErrorNamingTheKey) {
  const ModelSpec spec = tiny_spec();
  Trainer t(spec, TrainOptions{});
  const std::string path = temp_path("bad_metadata.safetensors");
  t.save(path);
  const Checkpoint good = load_checkpoint(path);
  const std::pair<const char*, const char*> bad[] = {
      {"train.seed", "x"},        {"train.batch", "0"},      {"train.lr", "fast"},
      {"train.adversarial", "?"}, {"train.epochs_done", "-1"}, {"train.decoupled_weight_decay", "maybe"},
      {"adam.step", "1.5"},       {"train.adv_steps", "5000000000"}, {"train.epochs_done", "3000000000"}};
  for (const auto& [key, value] : bad) {
    Checkpoint ck = good;
    ck.metadata[key] = value;
    save_checkpoint(path, ck);
    try {
      Trainer::resume(path);
      ADD_FAILURE() << key << " = " << value << " was accepted";
    } catch (const IoError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
    ck.metadata.erase(key);
    save_checkpoint(path, ck);
    EXPECT_THROW(Trainer::resume(path), IoError) << "without " << key;
  }
  // Values that parse but make no valid run, or a spec the tensors contradict (a
  // model of 10^11 hidden units used to be allocated first: std::bad_alloc).
  const std::pair<const char*, const char*> inconsistent[] = {
      {"train.lr", "-1"}, {"model.hidden", "99999999999"}, {"model.input", "5"}, {"model.learn_lambda", "true"}};
  for (const auto& [key, value] : inconsistent) {
    Checkpoint ck = good;
    ck.metadata[key] = value;
    save_checkpoint(path, ck);
    for (int loader = 0; loader < 2; ++loader) {
      try {
        if (loader == 0) Trainer::resume(path);
        else load_model(path);
        if (loader == 0 || key[0] == 'm') ADD_FAILURE() << key << " = " << value << " was accepted";
      } catch (const IoError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(key[0] == 'm' ? "shape" : "lr"), std::string::npos) << what;
      }
    }
  }
  std::filesystem::remove(path);
}

// Booleans are written "true"/"false" like the model spec's; checkpoints written
// with "1"/"0" before still resume.
TEST(TrainCheckpoint, BooleansAreTrueFalseAndOldOnesStillRead) {
  const ModelSpec spec = tiny_spec();
  TrainOptions o;
  o.adam.decay_mode = WeightDecay::Decoupled;
  Trainer t(spec, o);
  const std::string path = temp_path("booleans.safetensors");
  t.save(path);
  Checkpoint ck = load_checkpoint(path);
  EXPECT_EQ(ck.metadata.at("train.decoupled_weight_decay"), "true");
  ck.metadata["train.decoupled_weight_decay"] = "1";
  save_checkpoint(path, ck);
  EXPECT_EQ(Trainer::resume(path)->options().adam.decay_mode, WeightDecay::Decoupled);
  std::filesystem::remove(path);
}

TEST(LrSchedule, ConstantKeepsTheRateAndCosineFollowsItsClosedForm) {
  TrainOptions o;
  o.adam.lr = 0.004;
  o.epochs = 8;
  for (double e : {0.0, 3.5, 8.0, 20.0}) EXPECT_EQ(scheduled_lr(o, e), 0.004);
  o.lr_schedule = LrSchedule::Cosine;
  EXPECT_DOUBLE_EQ(scheduled_lr(o, 0.0), 0.004);
  EXPECT_DOUBLE_EQ(scheduled_lr(o, 4.0), 0.002);                 // cos(pi/2) = 0
  EXPECT_DOUBLE_EQ(scheduled_lr(o, 2.0), 0.002 * (1 + 0.7071067811865476));  // cos(pi/4)
  EXPECT_NEAR(scheduled_lr(o, 8.0), 0.0, 1e-18);
  EXPECT_NEAR(scheduled_lr(o, 30.0), 0.0, 1e-18);                // past the horizon: stays at 0, never rises
  EXPECT_DOUBLE_EQ(scheduled_lr(o, -1.0), 0.004);
  o.epochs = 0;
  EXPECT_EQ(scheduled_lr(o, 0.0), 0.004);
  EXPECT_EQ(parse_lr_schedule("cosine"), LrSchedule::Cosine);
  EXPECT_STREQ(to_string(LrSchedule::Constant), "constant");
  EXPECT_THROW(parse_lr_schedule("linear"), InvalidArgument);
}

// The trainer applies the schedule: past a cosine horizon the rate is 0, so an
// epoch (without weight decay) leaves every parameter as it was; at a constant
// rate the same epoch moves them.
TEST(LrSchedule, AnEpochPastTheCosineHorizonLeavesTheParametersAlone) {
  const Dataset data = test::synthetic_dataset(30, 6, 3, 5);
  for (LrSchedule schedule : {LrSchedule::Cosine, LrSchedule::Constant}) {
    TrainOptions o;
    o.batch = 10;
    o.epochs = 1;
    o.lr_schedule = schedule;
    Trainer t(tiny_spec(), o);
    t.train_epoch(data);
    const std::vector<float> before = flat_parameters(t.model());
    t.train_epoch(data);
    const std::vector<float> after = flat_parameters(t.model());
    EXPECT_EQ(before == after, schedule == LrSchedule::Cosine) << to_string(schedule);
  }
}

TEST_F(TrainResume, ResumingACosineScheduleKeepsItsHorizonAndEqualsUninterruptedTraining) {
  ModelSpec spec;
  spec.hidden = 16;
  TrainOptions o;
  o.batch = 50;
  o.epochs = 3;
  o.lr_schedule = LrSchedule::Cosine;
  const auto resumed = expect_resuming_equals_straight(spec, o, take_first(train_, 300), 1, 3, "resume_cosine");
  EXPECT_EQ(resumed->options().lr_schedule, LrSchedule::Cosine);
  EXPECT_EQ(resumed->options().epochs, 3);
}

// Checkpoints from before schedules resume at a constant rate; a bad schedule
// name or a cosine without its horizon is an IoError naming the key.
TEST(TrainCheckpoint, LrScheduleMetadataIsCheckedAndOldCheckpointsAreConstant) {
  TrainOptions o;
  o.lr_schedule = LrSchedule::Cosine;
  o.epochs = 4;
  Trainer t(tiny_spec(), o);
  const std::string path = temp_path("schedule.safetensors");
  t.save(path);
  const Checkpoint good = load_checkpoint(path);
  EXPECT_EQ(good.metadata.at("train.lr_schedule"), "cosine");
  EXPECT_EQ(good.metadata.at("train.lr_schedule_epochs"), "4");
  auto resume_with = [&](const char* key, const char* value) {
    Checkpoint ck = good;
    if (value) ck.metadata[key] = value;
    else ck.metadata.erase(key);
    save_checkpoint(path, ck);
    return Trainer::resume(path);
  };
  const std::pair<const char*, const char*> bad[] = {
      {"train.lr_schedule", "linear"}, {"train.lr_schedule_epochs", "-2"}, {"train.lr_schedule_epochs", nullptr}};
  for (const auto& [key, value] : bad) {
    try {
      resume_with(key, value);
      ADD_FAILURE() << key << " = " << (value ? value : "(absent)") << " was accepted";
    } catch (const IoError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
  Checkpoint old = good;
  old.metadata.erase("train.lr_schedule_epochs");
  old.metadata.erase("train.lr_schedule");
  save_checkpoint(path, old);
  EXPECT_EQ(Trainer::resume(path)->options().lr_schedule, LrSchedule::Constant);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace nmode
