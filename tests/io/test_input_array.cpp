// Tests for read_input_array / read_label_array: .npy files built byte by byte
// from the format's spec and IDX files, scaled, shaped and refused as documented.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nmode/error.hpp"
#include "nmode/input_array.hpp"
#include "support/npy_bytes.hpp"
#include "support/temp_dir_test.hpp"

namespace {

namespace fs = std::filesystem;

using nmode::test::npy_bytes;
template <class T>
std::string raw(const std::vector<T>& v) {
  return nmode::test::raw_bytes(v);
}

class InputArrayTest : public nmode::test::TempDirTest {
 protected:
  template <class F>
  void expect_io_error(F&& f, const std::string& path, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "expected an IoError mentioning " << needle;
    } catch (const nmode::IoError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path), std::string::npos) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
    }
  }
};

TEST_F(InputArrayTest, Uint8ImagesAreScaledBy255AndKeepTheirShape) {
  const std::string p = file_from_string("x.npy", npy_bytes("|u1", "(2, 2, 3)", raw<uint8_t>({0, 51, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9})));
  const nmode::InputArray a = nmode::read_input_array(p);
  EXPECT_EQ(a.values.shape(), (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(a.rows, 2);
  EXPECT_EQ(a.cols, 3);
  EXPECT_FLOAT_EQ(a.values[1], 0.2f);
  EXPECT_FLOAT_EQ(a.values[2], 1.0f);
}

TEST_F(InputArrayTest, FloatFeaturesAreTakenAsTheyAre) {
  const std::string p = file_from_string("f.npy", npy_bytes("<f8", "(1, 3)", raw<double>({-2.5, 0.1, 1e10})));
  const nmode::InputArray a = nmode::read_input_array(p);
  EXPECT_EQ(a.values.shape(), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(a.rows, 1);
  EXPECT_EQ(a.cols, 3);
  EXPECT_EQ(a.values[0], -2.5f);
  EXPECT_EQ(a.values[1], 0.1f);
  EXPECT_EQ(a.values[2], 1e10f);
}

TEST_F(InputArrayTest, IdxImagesReadLikeNpyUint8) {
  std::string idx = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2};
  idx += std::string("\x00\xff", 2);
  const nmode::InputArray a = nmode::read_input_array(file_from_string("x.idx", idx));
  EXPECT_EQ(a.values.shape(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(a.values[0], 0.0f);
  EXPECT_EQ(a.values[1], 1.0f);
}

TEST_F(InputArrayTest, RefusesOtherRanksIntegersAndNonFiniteValues) {
  const std::string rank1 = file_from_string("r1.npy", npy_bytes("<f4", "(2,)", raw<float>({1, 2})));
  expect_io_error([&] { nmode::read_input_array(rank1); }, rank1, "shape (n, d) or (n, h, w), got (2,)");
  const std::string ints = file_from_string("i.npy", npy_bytes("<i8", "(1, 2)", raw<int64_t>({1, 2})));
  expect_io_error([&] { nmode::read_input_array(ints); }, ints, "integer inputs of type int64 are ambiguous");
  const std::string nan = file_from_string("nan.npy", npy_bytes("<f4", "(1, 2)", raw<float>({1, std::nanf("")})));
  expect_io_error([&] { nmode::read_input_array(nan); }, nan, "input value 1 is not finite");
  const std::string huge = file_from_string("huge.npy", npy_bytes("<f8", "(1, 1)", raw<double>({1e300})));
  expect_io_error([&] { nmode::read_input_array(huge); }, huge, "outside the range of float32");
  const std::string garbage = file_from_string("g.bin", "hello");
  EXPECT_THROW(nmode::read_input_array(garbage), nmode::IoError);
}

TEST_F(InputArrayTest, LabelsFromIntegersOrIntegralFloats) {
  EXPECT_EQ(nmode::read_label_array(file_from_string("l.npy", npy_bytes("<i8", "(3,)", raw<int64_t>({0, 9, 2})))),
            (std::vector<int32_t>{0, 9, 2}));
  EXPECT_EQ(nmode::read_label_array(file_from_string("u.npy", npy_bytes("|u1", "(2,)", raw<uint8_t>({7, 1})))),
            (std::vector<int32_t>{7, 1}));
  EXPECT_EQ(nmode::read_label_array(file_from_string("f.npy", npy_bytes("<f4", "(2,)", raw<float>({3, 4})))),
            (std::vector<int32_t>{3, 4}));
  std::string idx = {0, 0, 8, 1, 0, 0, 0, 2, 5, 6};
  EXPECT_EQ(nmode::read_label_array(file_from_string("l.idx", idx)), (std::vector<int32_t>{5, 6}));
}

TEST_F(InputArrayTest, LabelsRefuseNegativeFractionalAndOtherShapes) {
  const std::string neg = file_from_string("n.npy", npy_bytes("<i4", "(2,)", raw<int32_t>({1, -1})));
  expect_io_error([&] { nmode::read_label_array(neg); }, neg, "label 1 is -1");
  const std::string frac = file_from_string("q.npy", npy_bytes("<f4", "(1,)", raw<float>({0.5f})));
  expect_io_error([&] { nmode::read_label_array(frac); }, frac, "labels must be integers");
  const std::string matrix = file_from_string("m.npy", npy_bytes("<i8", "(1, 1)", raw<int64_t>({0})));
  expect_io_error([&] { nmode::read_label_array(matrix); }, matrix, "shape (n,), got (1, 1)");
}

}  // namespace
