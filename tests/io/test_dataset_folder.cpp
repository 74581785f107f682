// Tests for load_dataset_folder: a dataset of .npy (and IDX) files in one folder,
// any input width and class count, and a clear IoError for what does not fit.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nmode/dataset.hpp"
#include "nmode/error.hpp"
#include "support/npy_bytes.hpp"
#include "support/temp_dir_test.hpp"

namespace {

namespace fs = std::filesystem;
using nmode::test::npy_bytes;
using nmode::test::raw_bytes;

class DatasetFolderTest : public nmode::test::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    folder_ = path("features-512");
    fs::create_directory(folder_);
  }
  void put(const std::string& name, const std::string& bytes) { file_from_string("features-512/" + name, bytes); }
  // Three float features per example; labels 0..2 in training.
  void put_features() {
    put("train-inputs.npy", npy_bytes("<f4", "(4, 3)", raw_bytes<float>({1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -2, -3})));
    put("train-labels.npy", npy_bytes("<i8", "(4,)", raw_bytes<int64_t>({0, 2, 1, 2})));
    put("test-inputs.npy", npy_bytes("<f4", "(2, 3)", raw_bytes<float>({0.5f, 0, 0, 0, 0, 0.25f})));
    put("test-labels.npy", npy_bytes("<i8", "(2,)", raw_bytes<int64_t>({1, 0})));
  }
  void expect_io_error(nmode::Split split, const std::string& needle) {
    try {
      nmode::load_dataset_folder(folder_, split);
      ADD_FAILURE() << "expected an IoError mentioning " << needle;
    } catch (const nmode::IoError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
  std::string folder_;
};

TEST_F(DatasetFolderTest, FeaturesOfAnyWidthWithTheTrainingClassCount) {
  put_features();
  const nmode::Dataset train = nmode::load_dataset_folder(folder_, nmode::Split::Train);
  EXPECT_EQ(train.name, "features-512");
  EXPECT_EQ(train.images.shape(), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(train.rows, 1);
  EXPECT_EQ(train.cols, 3);
  EXPECT_EQ(train.classes, 3);
  EXPECT_EQ(train.labels, (std::vector<int32_t>{0, 2, 1, 2}));
  EXPECT_EQ(train.images[11], -3.0f);  // not scaled: floats are taken as they are
  const nmode::Dataset test = nmode::load_dataset_folder(folder_ + "/", nmode::Split::Test);
  EXPECT_EQ(test.classes, 3) << "the test split takes the training labels' class count";
  EXPECT_EQ(test.name, "features-512");
  EXPECT_EQ(test.size(), 2);
}

TEST_F(DatasetFolderTest, IdxFilesAndUint8ImagesAreReadToo) {
  std::string images = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2};
  images += std::string("\x00\xff\x33\x66", 4);
  put("train-inputs.idx", images);
  put("train-labels.idx", std::string({0, 0, 8, 1, 0, 0, 0, 2, 1, 0}));
  const nmode::Dataset d = nmode::load_dataset_folder(folder_, nmode::Split::Train);
  EXPECT_EQ(d.rows, 1);
  EXPECT_EQ(d.cols, 2);
  EXPECT_EQ(d.classes, 2);
  EXPECT_FLOAT_EQ(d.images[1], 1.0f);
  EXPECT_FLOAT_EQ(d.images[2], 0.2f);
}

TEST_F(DatasetFolderTest, MissingFilesCountMismatchesAndUnknownTestClassesAreIoErrors) {
  expect_io_error(nmode::Split::Train, "has no train-inputs.npy (or train-inputs.idx)");
  put_features();
  put("test-labels.npy", npy_bytes("<i8", "(2,)", raw_bytes<int64_t>({1, 3})));
  expect_io_error(nmode::Split::Test, "label 3 at index 1 is beyond the 3 classes of the training labels");
  put("test-labels.npy", npy_bytes("<i8", "(3,)", raw_bytes<int64_t>({1, 0, 0})));
  expect_io_error(nmode::Split::Test, "holds 2 inputs but");
}

}  // namespace
