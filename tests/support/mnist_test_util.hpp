// Real MNIST for the tests that train: where it lives (NMODE_DATA, else the
// repository's data/), and the smoke check that a model spec learns on a subset.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "nmode/dataset.hpp"
#include "nmode/error.hpp"
#include "nmode/train.hpp"

namespace nmode::test {

inline std::string mnist_data_dir() {
  const char* env = std::getenv("NMODE_DATA");
  return env ? env : std::string(NMODE_TEST_DATA_DIR) + "/../../data";
}

// Two epochs of Adam (32 steps) on 4096 MNIST images: the loss falls and accuracy
// on 1000 test images clears 0.75 (a working model reaches ~0.85, a linear model
// alone ~0.8; a broken gradient stays near chance, 0.1-0.3), with no solver
// failure. Skips the calling test, with the reason, where MNIST is absent.
inline void expect_learns_on_an_mnist_subset(const ModelSpec& spec) {
  Dataset train, test;
  try {
    train = take_first(load_dataset("mnist", Split::Train, mnist_data_dir()), 4096);
    test = take_first(load_dataset("mnist", Split::Test, mnist_data_dir()), 1000);
  } catch (const IoError& e) {
    GTEST_SKIP() << "MNIST not available: " << e.what();
  }
  TrainOptions o;
  o.epochs = 2;
  Trainer t(spec, o);
  const EpochStats e1 = t.train_epoch(train);
  const EpochStats e2 = t.train_epoch(train);
  EXPECT_LT(e2.mean_loss, e1.mean_loss);
  const EvalReport r = evaluate(t.model(), test);
  EXPECT_GT(r.accuracy(), 0.75);
  EXPECT_EQ(r.solver.failed(), 0);
  EXPECT_GT(r.solver.mean_accepted(), 1.0);
}

}  // namespace nmode::test
