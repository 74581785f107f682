// Tests for dataset loading on synthetic data folders (raw and .gz names,
// scaling, count/label/rank errors, the missing-data hint), the seeded shuffle,
// splits and SplitMix64; plus shape and label-histogram checks on the real
// MNIST/Fashion-MNIST files when tools/fetch-data.sh has been run.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "nmode/dataset.hpp"
#include "nmode/error.hpp"
#include "nmode/random.hpp"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
using nmode::Dataset;
using nmode::Split;

Bytes idx_bytes(const std::vector<uint32_t>& dims, const Bytes& data) {
  Bytes b = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(d >> shift));
  }
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void write_idx(const fs::path& path, const std::vector<uint32_t>& dims, const Bytes& data) {
  const Bytes bytes = idx_bytes(dims, data);
  if (path.extension() == ".gz") {
    gzFile gz = gzopen(path.string().c_str(), "wb");
    ASSERT_NE(gz, nullptr) << path;
    ASSERT_EQ(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
    ASSERT_EQ(gzclose(gz), Z_OK);
  } else {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << path;
  }
}

// Pixel k of image i in the synthetic files; covers 0 and 255.
uint8_t pixel(size_t i, size_t k) { return static_cast<uint8_t>((i * 31 + k * 7) % 256); }

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

void expect_contains(const std::string& msg, const std::vector<std::string>& words) {
  for (const auto& w : words) EXPECT_NE(msg.find(w), std::string::npos) << "message lacks '" << w << "': " << msg;
}

class DatasetFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "nmode_dataset_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes <dir>/<name>/<prefix>-images-idx3-ubyte<images_ext> and the labels file.
  void write_split(const std::string& name, const std::string& prefix, uint32_t n, uint32_t rows, uint32_t cols,
                   const std::string& images_ext, const std::string& labels_ext, const Bytes& labels) {
    const fs::path d = fs::path(dir_) / name;
    fs::create_directories(d);
    Bytes pixels(size_t{n} * rows * cols);
    for (size_t i = 0; i < n; ++i) {
      for (size_t k = 0; k < size_t{rows} * cols; ++k) pixels[i * rows * cols + k] = pixel(i, k);
    }
    write_idx(d / (prefix + "-images-idx3-ubyte" + images_ext), {n, rows, cols}, pixels);
    write_idx(d / (prefix + "-labels-idx1-ubyte" + labels_ext), {static_cast<uint32_t>(labels.size())}, labels);
  }

  std::string dir_;
};

void expect_images_match_pixels(const Dataset& d) {
  const int64_t pixels = d.rows * d.cols;
  ASSERT_EQ(d.images.rank(), 2);
  ASSERT_EQ(d.images.dim(0), d.size());
  ASSERT_EQ(d.images.dim(1), pixels);
  for (int64_t i = 0; i < d.size(); ++i) {
    for (int64_t k = 0; k < pixels; ++k) {
      // Exact: the documented scaling is byte / 255 in float.
      ASSERT_EQ(d.images[i * pixels + k], static_cast<float>(pixel(i, k)) / 255.0f) << "image " << i << " pixel " << k;
    }
  }
}

TEST_F(DatasetFiles, LoadsRawAndGzipNamesAndScalesToUnitInterval) {
  write_split("mnist", "train", 5, 28, 28, "", ".gz", {3, 1, 4, 1, 5});
  write_split("mnist", "t10k", 3, 4, 3, ".gz", "", {9, 0, 2});

  const Dataset train = nmode::load_dataset("mnist", Split::Train, dir_);
  EXPECT_EQ(train.name, "mnist");
  EXPECT_EQ(train.rows, 28);
  EXPECT_EQ(train.cols, 28);
  EXPECT_EQ(train.labels, (std::vector<int32_t>{3, 1, 4, 1, 5}));
  expect_images_match_pixels(train);
  const auto [lo, hi] = std::minmax_element(train.images.vector().begin(), train.images.vector().end());
  EXPECT_EQ(*lo, 0.0f);  // byte 0
  EXPECT_EQ(*hi, 1.0f);  // byte 255

  const Dataset test = nmode::load_dataset("mnist", Split::Test, dir_);
  EXPECT_EQ(test.rows, 4);
  EXPECT_EQ(test.cols, 3);
  EXPECT_EQ(test.images.shape(), (std::vector<int64_t>{3, 12}));
  EXPECT_EQ(test.labels, (std::vector<int32_t>{9, 0, 2}));
  expect_images_match_pixels(test);
}

TEST_F(DatasetFiles, LoadsFashionFromGzipFiles) {
  write_split("fashion", "t10k", 4, 28, 28, ".gz", ".gz", {9, 2, 1, 1});
  const Dataset d = nmode::load_dataset("fashion", Split::Test, dir_);
  EXPECT_EQ(d.name, "fashion");
  EXPECT_EQ(d.labels, (std::vector<int32_t>{9, 2, 1, 1}));
  expect_images_match_pixels(d);
}

TEST_F(DatasetFiles, RawNameWinsWhenBothExist) {
  write_split("mnist", "t10k", 2, 28, 28, "", "", {1, 1});
  write_split("mnist", "t10k", 2, 28, 28, ".gz", ".gz", {2, 2});
  EXPECT_EQ(nmode::load_dataset("mnist", Split::Test, dir_).labels, (std::vector<int32_t>{1, 1}));
}

TEST_F(DatasetFiles, CountMismatchIsAnError) {
  write_split("mnist", "train", 5, 28, 28, "", "", {0, 1, 2, 3});
  const std::string msg = message_of([&] { nmode::load_dataset("mnist", Split::Train, dir_); });
  expect_contains(msg, {"5 images", "4 labels", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"});
  EXPECT_THROW(nmode::load_dataset("mnist", Split::Train, dir_), nmode::IoError);
}

TEST_F(DatasetFiles, LabelOutsideZeroToNineIsAnError) {
  write_split("mnist", "train", 4, 28, 28, "", "", {0, 9, 10, 3});
  const std::string msg = message_of([&] { nmode::load_dataset("mnist", Split::Train, dir_); });
  expect_contains(msg, {"label 10", "index 2", "train-labels-idx1-ubyte"});
  EXPECT_THROW(nmode::load_dataset("mnist", Split::Train, dir_), nmode::IoError);
}

TEST_F(DatasetFiles, WrongRankIsAnError) {
  const fs::path d = fs::path(dir_) / "mnist";
  fs::create_directories(d);
  write_idx(d / "t10k-images-idx3-ubyte", {2, 784}, Bytes(2 * 784, 0));
  write_idx(d / "t10k-labels-idx1-ubyte", {2}, {0, 1});
  EXPECT_THROW(nmode::load_dataset("mnist", Split::Test, dir_), nmode::IoError);
  expect_contains(message_of([&] { nmode::load_dataset("mnist", Split::Test, dir_); }), {"rank 3", "got rank 2"});
}

TEST_F(DatasetFiles, MissingDataNamesTheFetchCommand) {
  EXPECT_THROW(nmode::load_dataset("mnist", Split::Train, dir_), nmode::IoError);
  const std::string mnist_dir = (fs::path(dir_) / "mnist").string();
  expect_contains(message_of([&] { nmode::load_dataset("mnist", Split::Train, dir_); }),
                  {"MNIST not found in " + mnist_dir, "train-images-idx3-ubyte[.gz]",
                   "run tools/fetch-data.sh --data-dir " + dir_ + " mnist"});
  expect_contains(message_of([&] { nmode::load_dataset("fashion", Split::Test, dir_); }),
                  {"Fashion-MNIST not found", "t10k-images-idx3-ubyte[.gz]", "fetch-data.sh", "fashion"});

  // Images present but labels missing: the message names the labels file.
  const fs::path d = fs::path(dir_) / "mnist";
  fs::create_directories(d);
  write_idx(d / "train-images-idx3-ubyte", {1, 28, 28}, Bytes(784, 0));
  expect_contains(message_of([&] { nmode::load_dataset("mnist", Split::Train, dir_); }),
                  {"train-labels-idx1-ubyte[.gz]", "fetch-data.sh"});
}

TEST(Dataset, UnknownNameListsTheValidOnes) {
  EXPECT_THROW(nmode::load_dataset("cifar10", Split::Train, "data"), nmode::InvalidArgument);
  expect_contains(message_of([] { nmode::load_dataset("cifar10", Split::Train, "data"); }),
                  {"cifar10", "mnist", "fashion"});
}

TEST(Dataset, ResolveDataDirPrefersFlagThenEnvironment) {
  const char* saved = std::getenv("NMODE_DATA");
  const std::string saved_value = saved ? saved : "";
  setenv("NMODE_DATA", "/from/env", 1);
  EXPECT_EQ(nmode::resolve_data_dir("/from/flag"), "/from/flag");
  EXPECT_EQ(nmode::resolve_data_dir(""), "/from/env");
  setenv("NMODE_DATA", "", 1);
  EXPECT_EQ(nmode::resolve_data_dir(""), "data");
  unsetenv("NMODE_DATA");
  EXPECT_EQ(nmode::resolve_data_dir(""), "data");
  if (saved) setenv("NMODE_DATA", saved_value.c_str(), 1);
}

// ---- random generator ----

TEST(SplitMix64, MatchesTheReferenceImplementation) {
  // First outputs of Vigna's splitmix64.c seeded with 0.
  nmode::SplitMix64 g(0);
  EXPECT_EQ(g.next_u64(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(g.next_u64(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(g.next_u64(), 0x06c45d188009454fULL);
}

TEST(SplitMix64, BoundedAndUniformDrawsStayInRange) {
  nmode::SplitMix64 g(99);
  std::array<int, 7> counts{};
  const int draws = 70000;
  for (int i = 0; i < draws; ++i) {
    const uint64_t r = g.next_below(7);
    ASSERT_LT(r, 7u);
    ++counts[r];
  }
  // Each count is Binomial(70000, 1/7): mean 10000, sd ~93; allow 5 sd.
  for (int c : counts) EXPECT_NEAR(c, 10000, 465);
  EXPECT_EQ(g.next_below(1), 0u);
  EXPECT_EQ(g.next_below(0), 0u);
  for (int i = 0; i < 10000; ++i) {
    const double u = g.next_uniform01();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

TEST(SplitMix64, NormalDrawsHaveUnitMomentsAndRepeat) {
  nmode::SplitMix64 g(5), again(5);
  const int n = 200000;
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < n; ++i) {
    const double z = g.next_normal();
    ASSERT_TRUE(std::isfinite(z));
    ASSERT_EQ(z, again.next_normal());
    sum += z;
    sum_sq += z * z;
  }
  const double mean = sum / n, var = sum_sq / n - mean * mean;
  // Standard errors: 1/sqrt(n) = 0.0022 for the mean, sqrt(2/n) = 0.0032 for the variance; 5 sd.
  EXPECT_NEAR(mean, 0.0, 0.012);
  EXPECT_NEAR(var, 1.0, 0.016);
}

// The GPU attacks draw by position (detail/counter_rng.hpp) what the CPU draws in
// order; the two must be the same stream, including where the state wraps 2^64.
TEST(SplitMix64, DrawsByPositionAreTheSequentialDraws) {
  for (uint64_t seed : {uint64_t{0}, uint64_t{12345}, ~uint64_t{0} - 3}) {
    nmode::SplitMix64 bits(seed), uniforms(seed), normals(seed);
    for (uint64_t i = 0; i < 1000; ++i) {
      ASSERT_EQ(nmode::detail::splitmix64_at(seed, i), bits.next_u64()) << "seed " << seed << " draw " << i;
      ASSERT_EQ(nmode::detail::uniform01_at(seed, i), uniforms.next_uniform01()) << "draw " << i;
      ASSERT_EQ(nmode::detail::normal_at(seed, i), normals.next_normal()) << "normal " << i;
    }
  }
}

// The Square Attack reads its coin flips by position on the GPU
// (detail::square_stripe_sign): next_below(2) must spend exactly one draw each.
TEST(SplitMix64, CoinFlipsByPositionAreTheSequentialOnes) {
  for (uint64_t seed : {uint64_t{0}, uint64_t{777}, ~uint64_t{0}}) {
    nmode::SplitMix64 coins(seed);
    for (uint64_t i = 0; i < 1000; ++i)
      ASSERT_EQ(nmode::detail::splitmix64_at(seed, i) % 2, coins.next_below(2)) << "seed " << seed << " flip " << i;
  }
}

TEST(SplitMix64, DerivedSeedsDiffer) {
  std::set<uint64_t> seen;
  for (uint64_t stream = 0; stream < 1000; ++stream) seen.insert(nmode::derive_seed(42, stream));
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(nmode::derive_seed(42, 3), nmode::derive_seed(42, 3));
  EXPECT_NE(nmode::derive_seed(42, 3), nmode::derive_seed(43, 3));
}

// ---- shuffle and splits ----

std::vector<int64_t> iota(size_t n, int64_t start = 0) {
  std::vector<int64_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

TEST(Shuffle, IsADeterministicPermutation) {
  for (size_t n : {0, 1, 2, 31, 32, 33, 1000}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    std::vector<int64_t> a = iota(n, 100), b = iota(n, 100), c = iota(n, 100);
    nmode::shuffle_indices(a, 7);
    nmode::shuffle_indices(b, 7);
    nmode::shuffle_indices(c, 8);
    EXPECT_EQ(a, b);
    std::vector<int64_t> sorted = a;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, iota(n, 100));
    if (n >= 31) {
      EXPECT_NE(a, c);           // 31! orderings: equal by chance is impossible in practice
      EXPECT_NE(a, iota(n, 100));
    }
  }
}

TEST(Shuffle, FollowsTheDocumentedFisherYatesOrder) {
  // The header's algorithm written out independently; pins the order across versions.
  std::vector<int64_t> expected = iota(20);
  uint64_t state = 2024;
  auto next = [&state] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  for (size_t i = expected.size() - 1; i >= 1; --i) {
    const uint64_t bound = i + 1, threshold = (0 - bound) % bound;
    uint64_t r = next();
    while (r < threshold) r = next();
    std::swap(expected[i], expected[r % bound]);
  }
  std::vector<int64_t> got = iota(20);
  nmode::shuffle_indices(got, 2024);
  EXPECT_EQ(got, expected);
}

TEST(Shuffle, AllOrdersOfThreeAreEquallyLikely) {
  std::map<std::vector<int64_t>, int> counts;
  const int trials = 6000;
  for (int seed = 0; seed < trials; ++seed) {
    std::vector<int64_t> v = iota(3);
    nmode::shuffle_indices(v, static_cast<uint64_t>(seed));
    ++counts[v];
  }
  ASSERT_EQ(counts.size(), 6u);  // a biased variant (e.g. Sattolo's) reaches only some orders
  // Each count is Binomial(6000, 1/6): mean 1000, sd ~29; allow 5 sd.
  for (const auto& [order, count] : counts) EXPECT_NEAR(count, 1000, 145);
}

// n examples of 2x2 images; image i's first pixel encodes i so it can be traced.
Dataset tagged_dataset(int64_t n) {
  Dataset d;
  d.name = "mnist";
  d.rows = 2;
  d.cols = 2;
  d.images = nmode::Tensor({n, 4});
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < 4; ++k) d.images[i * 4 + k] = static_cast<float>(i * 4 + k);
    d.labels.push_back(static_cast<int32_t>(i % 10));
  }
  return d;
}

// The original index of each example in a part of tagged_dataset, checking that
// the whole image row and the label moved together.
std::vector<int64_t> origins(const Dataset& part) {
  std::vector<int64_t> out;
  for (int64_t j = 0; j < part.size(); ++j) {
    const int64_t i = static_cast<int64_t>(part.images[j * 4]) / 4;
    for (int64_t k = 0; k < 4; ++k) EXPECT_EQ(part.images[j * 4 + k], static_cast<float>(i * 4 + k));
    EXPECT_EQ(part.labels[static_cast<size_t>(j)], i % 10);
    out.push_back(i);
  }
  return out;
}

TEST(Split, ValidationPartIsASeededDisjointSubset) {
  const Dataset d = tagged_dataset(50);
  const auto [train, val] = nmode::split_validation(d, 12, 3);
  EXPECT_EQ(train.size(), 38);
  EXPECT_EQ(val.size(), 12);
  EXPECT_EQ(train.images.shape(), (std::vector<int64_t>{38, 4}));
  EXPECT_EQ(val.images.shape(), (std::vector<int64_t>{12, 4}));
  EXPECT_EQ(val.rows, 2);
  EXPECT_EQ(val.cols, 2);
  EXPECT_EQ(val.name, "mnist");
  const std::vector<int64_t> t = origins(train), v = origins(val);
  EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
  EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
  std::vector<int64_t> all = t;
  all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, iota(50));

  EXPECT_EQ(origins(nmode::split_validation(d, 12, 3).second), v);
  EXPECT_NE(origins(nmode::split_validation(d, 12, 4).second), v);
  EXPECT_NE(v, iota(12));  // a shuffled choice, not simply the first 12

  EXPECT_EQ(nmode::split_validation(d, 0, 3).first.size(), 50);
  EXPECT_EQ(nmode::split_validation(d, 50, 3).second.size(), 50);
  EXPECT_THROW(nmode::split_validation(d, 51, 3), nmode::InvalidArgument);
  EXPECT_THROW(nmode::split_validation(d, -1, 3), nmode::InvalidArgument);
  expect_contains(message_of([&] { nmode::split_validation(d, 51, 3); }), {"n_val", "0..50", "51"});
}

TEST(Split, TakeFirstKeepsTheLeadingExamples) {
  const Dataset d = tagged_dataset(10);
  const Dataset first = nmode::take_first(d, 3);
  EXPECT_EQ(first.images.shape(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(origins(first), iota(3));
  EXPECT_EQ(nmode::take_first(d, 0).size(), 0);
  EXPECT_EQ(origins(nmode::take_first(d, 10)), iota(10));
  EXPECT_THROW(nmode::take_first(d, 11), nmode::InvalidArgument);
  EXPECT_THROW(nmode::take_first(d, -1), nmode::InvalidArgument);
  expect_contains(message_of([&] { nmode::take_first(d, 11); }), {"take_first", "0..10", "11"});
}

// ---- the real files, when fetched ----

std::string real_data_dir() {
  const char* env = std::getenv("NMODE_DATA");
  if (env != nullptr && env[0] != '\0') return env;
  return (fs::path(NMODE_TEST_DATA_DIR) / ".." / ".." / "data").lexically_normal().string();
}

bool has_split(const std::string& name, const std::string& prefix) {
  const fs::path d = fs::path(real_data_dir()) / name;
  for (const std::string kind : {"-images-idx3-ubyte", "-labels-idx1-ubyte"}) {
    if (!fs::exists(d / (prefix + kind)) && !fs::exists(d / (prefix + kind + ".gz"))) return false;
  }
  return true;
}

std::vector<int> histogram(const Dataset& d) {
  std::vector<int> h(10, 0);
  for (int32_t label : d.labels) ++h[static_cast<size_t>(label)];
  return h;
}

void expect_mnist_shape(const Dataset& d, int64_t n) {
  EXPECT_EQ(d.images.shape(), (std::vector<int64_t>{n, 784}));
  EXPECT_EQ(d.rows, 28);
  EXPECT_EQ(d.cols, 28);
  const auto [lo, hi] = std::minmax_element(d.images.vector().begin(), d.images.vector().end());
  EXPECT_EQ(*lo, 0.0f);
  EXPECT_EQ(*hi, 1.0f);
}

TEST(RealData, MnistTestSetShapeAndLabels) {
  if (!has_split("mnist", "t10k")) {
    GTEST_SKIP() << "MNIST not found in " << real_data_dir() << "/mnist; run tools/fetch-data.sh mnist";
  }
  const Dataset d = nmode::load_dataset("mnist", Split::Test, real_data_dir());
  expect_mnist_shape(d, 10000);
  // Published class counts of the MNIST test set; the first digit is a 7.
  EXPECT_EQ(histogram(d), (std::vector<int>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}));
  EXPECT_EQ(d.labels[0], 7);
}

TEST(RealData, MnistTrainSetShapeAndLabels) {
  if (!has_split("mnist", "train")) {
    GTEST_SKIP() << "MNIST not found in " << real_data_dir() << "/mnist; run tools/fetch-data.sh mnist";
  }
  const Dataset d = nmode::load_dataset("mnist", Split::Train, real_data_dir());
  expect_mnist_shape(d, 60000);
  EXPECT_EQ(histogram(d), (std::vector<int>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}));
  EXPECT_EQ(d.labels[0], 5);
}

TEST(RealData, FashionTestSetIsBalanced) {
  if (!has_split("fashion", "t10k")) {
    GTEST_SKIP() << "Fashion-MNIST not found in " << real_data_dir()
                 << "/fashion; run tools/fetch-data.sh fashion";
  }
  const Dataset d = nmode::load_dataset("fashion", Split::Test, real_data_dir());
  expect_mnist_shape(d, 10000);
  EXPECT_EQ(histogram(d), std::vector<int>(10, 1000));  // 1000 per class by construction
}

}  // namespace
