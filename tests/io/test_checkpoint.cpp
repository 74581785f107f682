// Safetensors checkpoints: bitwise round trips, the on-disk layout parsed by hand
// (as NumPy/PyTorch readers would), hand-built files, every malformed-header case,
// atomic overwrite, and truncation/byte-flip fuzzing that must end in nmode::Error.
#include "nmode/checkpoint.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "nmode/error.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float float_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Little-endian encodings built with shifts, independent of the host byte order.
std::string le64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

std::string f32_le(const std::vector<float>& values) {
  std::string s;
  for (float f : values) {
    const uint32_t u = bits_of(f);
    for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  }
  return s;
}

std::string file_bytes(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "nmode_ckpt_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static void write_file(const std::string& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << p;
  }

  static std::string read_file(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  std::vector<std::string> dir_entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    return names;
  }

  void expect_no_temp_files() const {
    for (const std::string& name : dir_entries())
      EXPECT_EQ(name.find(".tmp."), std::string::npos) << "leftover temporary file " << name;
  }

  // Loads `bytes` from a file and expects an IoError whose message names the
  // path and contains every one of `needles`.
  void expect_load_error(const std::string& bytes, std::initializer_list<const char*> needles) {
    const std::string p = path("bad.safetensors");
    write_file(p, bytes);
    try {
      (void)nmode::load_checkpoint(p);
      ADD_FAILURE() << "load succeeded, expected IoError mentioning " << *needles.begin();
    } catch (const nmode::IoError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(p), std::string::npos) << "message lacks the path: " << what;
      for (const char* needle : needles)
        EXPECT_NE(what.find(needle), std::string::npos) << "message lacks '" << needle << "': " << what;
    }
  }

  // Two non-empty tensors, an empty one and metadata: every part of the format.
  static nmode::Checkpoint sample_checkpoint() {
    nmode::Checkpoint c;
    nmode::Tensor w({2, 3});
    for (int64_t i = 0; i < w.size(); ++i) w[i] = 0.25f * static_cast<float>(i) - 0.5f;
    c.tensors["layer0.W"] = w;
    c.tensors["layer0.b"] = nmode::Tensor({3}, 1.5f);
    c.tensors["z.empty"] = nmode::Tensor({0});
    c.metadata["arch"] = "nmode";
    c.metadata["hidden"] = "3";
    return c;
  }

  fs::path dir_;
};

void expect_bitwise_equal(const nmode::Tensor& a, const nmode::Tensor& b, const std::string& name) {
  ASSERT_EQ(a.shape(), b.shape()) << name;
  ASSERT_EQ(a.size(), b.size()) << name;
  for (int64_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(bits_of(a[i]), bits_of(b[i])) << name << "[" << i << "]";
}

TEST_F(CheckpointTest, RoundTripIsBitwiseIncludingSpecialValues) {
  nmode::Checkpoint c;
  const std::vector<float> specials = {
      std::numeric_limits<float>::quiet_NaN(),
      float_from_bits(0x7fc12345u),  // NaN with a payload
      float_from_bits(0xffa00001u),  // negative signalling NaN
      std::numeric_limits<float>::infinity(),
      -std::numeric_limits<float>::infinity(),
      -0.0f,
      0.0f,
      std::numeric_limits<float>::denorm_min(),
      -1e-40f,  // denormal
      std::numeric_limits<float>::max(),
      std::numeric_limits<float>::lowest(),
      std::numeric_limits<float>::min(),
  };
  nmode::Tensor s({3, 4});
  for (size_t i = 0; i < specials.size(); ++i) s[static_cast<int64_t>(i)] = specials[i];
  c.tensors["specials"] = s;
  c.tensors["empty0"] = nmode::Tensor({0});
  c.tensors["empty3x0"] = nmode::Tensor({3, 0});
  c.tensors["scalar"] = nmode::Tensor(std::vector<int64_t>{}, -2.75f);
  nmode::Tensor big({33, 31});  // odd sizes, so offsets are not all multiples of 8
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int64_t i = 0; i < big.size(); ++i) big[i] = normal(rng);
  c.tensors["big"] = big;
  c.metadata["arch"] = "nmode-mlp";
  c.metadata["hidden"] = "128";
  c.metadata["unicode"] = "\xce\xbb \xe2\x86\x92 \xc3\xbc";  // "λ → ü"
  c.metadata["empty"] = "";
  c.metadata["quotes"] = "a \"quoted\"\nline\\";

  const std::string p = path("model.safetensors");
  nmode::save_checkpoint(p, c);
  const nmode::Checkpoint r = nmode::load_checkpoint(p);
  ASSERT_EQ(r.tensors.size(), c.tensors.size());
  for (const auto& [name, t] : c.tensors) {
    ASSERT_EQ(r.tensors.count(name), 1u) << name;
    expect_bitwise_equal(r.tensors.at(name), t, name);
  }
  EXPECT_EQ(r.metadata, c.metadata);
  EXPECT_EQ(r.tensors.at("scalar").rank(), 0);
  EXPECT_EQ(r.tensors.at("empty3x0").shape(), (std::vector<int64_t>{3, 0}));
  expect_no_temp_files();
}

TEST_F(CheckpointTest, EmptyCheckpointRoundTrips) {
  const std::string p = path("empty.safetensors");
  nmode::save_checkpoint(p, nmode::Checkpoint{});
  const nmode::Checkpoint r = nmode::load_checkpoint(p);
  EXPECT_TRUE(r.tensors.empty());
  EXPECT_TRUE(r.metadata.empty());
}

// Reads the file the way an independent safetensors reader would.
TEST_F(CheckpointTest, FileLayoutFollowsTheSpec) {
  const nmode::Checkpoint c = sample_checkpoint();
  const std::string p = path("layout.safetensors");
  nmode::save_checkpoint(p, c);
  const std::string bytes = read_file(p);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  ASSERT_LE(8 + n, bytes.size());
  EXPECT_EQ((8 + n) % 8, 0u) << "data buffer should start 8-byte aligned";
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  const size_t last = header.find_last_not_of(' ');
  EXPECT_EQ(header[last], '}') << "only spaces may pad the header";
  const json h = json::parse(header);
  const std::string data = bytes.substr(8 + n);

  ASSERT_TRUE(h.contains("__metadata__"));
  EXPECT_EQ(h["__metadata__"], json({{"arch", "nmode"}, {"hidden", "3"}}));
  ASSERT_EQ(h.size(), c.tensors.size() + 1);

  uint64_t expected_begin = 0;  // tensors are written contiguously in name order
  for (const auto& [name, t] : c.tensors) {
    ASSERT_TRUE(h.contains(name)) << name;
    const json& e = h[name];
    EXPECT_EQ(e["dtype"], "F32");
    EXPECT_EQ(e["shape"].get<std::vector<int64_t>>(), t.shape()) << name;
    const auto offsets = e["data_offsets"].get<std::vector<uint64_t>>();
    ASSERT_EQ(offsets.size(), 2u);
    EXPECT_EQ(offsets[0], expected_begin) << name;
    EXPECT_EQ(offsets[1] - offsets[0], 4u * static_cast<uint64_t>(t.size())) << name;
    ASSERT_LE(offsets[1], data.size());
    EXPECT_EQ(data.substr(offsets[0], offsets[1] - offsets[0]), f32_le(t.vector())) << name;
    expected_begin = offsets[1];
  }
  EXPECT_EQ(expected_begin, data.size()) << "tensors must cover the data buffer exactly";
}

// Names of lengths 1..8 shift the unpadded header through every residue mod 8.
TEST_F(CheckpointTest, HeaderIsPaddedWithSpacesToEightBytes) {
  const std::string p = path("pad.safetensors");
  for (size_t len = 1; len <= 8; ++len) {
    nmode::Checkpoint c;
    c.tensors[std::string(len, 'a')] = nmode::Tensor({1}, 3.0f);
    nmode::save_checkpoint(p, c);
    const std::string bytes = read_file(p);
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
    EXPECT_EQ(n % 8, 0u) << "name length " << len;
    ASSERT_EQ(bytes.size(), 8 + n + 4);
    const std::string header = bytes.substr(8, n);
    const size_t end = header.find_last_not_of(' ') + 1;
    EXPECT_LT(header.size() - end, 8u) << "more padding than alignment needs";
    EXPECT_EQ(json::parse(header.substr(0, end))[std::string(len, 'a')]["data_offsets"], json({0, 4}));
  }
}

// A minimal file built byte by byte, as in the spec's example: unpadded header,
// tensors not in name order in the buffer, metadata.
TEST_F(CheckpointTest, LoadsHandCraftedFile) {
  const std::string header =
      R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[4,20]},)"
      R"("b":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"__metadata__":{"format":"pt"}})";
  ASSERT_EQ(header.size(), 140u);
  std::string bytes("\x8c\x00\x00\x00\x00\x00\x00\x00", 8);  // 140 little-endian
  bytes += header;
  bytes += std::string("\x00\x00\x20\xc0", 4);  // b = -2.5f (0xc0200000)
  bytes += std::string(
      "\x00\x00\x80\x3f"   // 1.0f = 0x3f800000
      "\x00\x00\x00\x40"   // 2.0f = 0x40000000
      "\x00\x00\x40\x40"   // 3.0f = 0x40400000
      "\x00\x00\x80\xbf",  // -1.0f = 0xbf800000
      16);
  const std::string p = path("hand.safetensors");
  write_file(p, bytes);
  const nmode::Checkpoint c = nmode::load_checkpoint(p);
  ASSERT_EQ(c.tensors.size(), 2u);
  const nmode::Tensor& w = nmode::checkpoint_tensor(c, "w", {2, 2});
  EXPECT_EQ(w[0], 1.0f);
  EXPECT_EQ(w[1], 2.0f);
  EXPECT_EQ(w[2], 3.0f);
  EXPECT_EQ(w[3], -1.0f);
  const nmode::Tensor& b = nmode::checkpoint_tensor(c, "b", {});
  EXPECT_EQ(b[0], -2.5f);
  EXPECT_EQ(nmode::checkpoint_meta(c, "format"), "pt");
}

TEST_F(CheckpointTest, LoadsMinimalHeaderAndPaddedHeader) {
  const std::string p = path("min.safetensors");
  write_file(p, file_bytes("{}", ""));
  EXPECT_TRUE(nmode::load_checkpoint(p).tensors.empty());
  write_file(p, file_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})" + std::string(11, ' '),
                           f32_le({42.0f})));
  const nmode::Checkpoint c = nmode::load_checkpoint(p);
  EXPECT_EQ(nmode::checkpoint_tensor(c, "x", {1})[0], 42.0f);
}

TEST_F(CheckpointTest, RejectsShortFilesAndBadHeaderLengths) {
  expect_load_error("", {"shorter than the 8-byte"});
  expect_load_error("abc", {"shorter than the 8-byte"});
  expect_load_error(le64(0) + "{}", {"header length is 0"});
  expect_load_error(le64(100) + "{}", {"header length 100", "truncated"});
  expect_load_error(le64(uint64_t{1} << 40) + "{}", {"exceeds the limit"});
  expect_load_error(le64(100'000'001) + "{}", {"exceeds the limit"});
  expect_load_error(le64(~uint64_t{0}) + "{}", {"exceeds the limit"});
}

TEST_F(CheckpointTest, RejectsBadJson) {
  expect_load_error(file_bytes(R"({"a":)", ""), {"not valid JSON"});
  expect_load_error(file_bytes("\xff\xfe{}", ""), {"not valid JSON"});
  expect_load_error(file_bytes(std::string("{}\0\0", 4), ""), {"not valid JSON", "NUL byte"});
  expect_load_error(file_bytes(std::string("{\"a\0\":1}", 8), ""), {"NUL byte"});
  expect_load_error(file_bytes("[1,2]", ""), {"not a JSON object"});
  expect_load_error(file_bytes("\"x\"", ""), {"not a JSON object"});
  expect_load_error(file_bytes(std::string(1000, '[') + std::string(1000, ']'), ""), {"nested deeper"});
}

// A JSON number that overflows a double is nlohmann's out_of_range, not a
// parse_error: it must still be an IoError naming the file.
TEST_F(CheckpointTest, JsonNumberOverflowIsAnIoError) {
  expect_load_error(file_bytes(R"({"a":1e999})", ""), {"not valid JSON"});
  expect_load_error(file_bytes(R"({"a":-1e400})", ""), {"not valid JSON"});
  expect_load_error(file_bytes(R"({"__metadata__":{"k":"v"},"t":{"dtype":"F32","shape":[1e999],"data_offsets":[0,4]}})",
                               f32_le({1.0f})),
                    {"not valid JSON"});
}

// The reader refuses what the writer refuses: an empty tensor name, and a key
// given twice (safetensors rejects duplicates; nlohmann would keep the last).
TEST_F(CheckpointTest, RejectsEmptyNamesAndDuplicateKeys) {
  const std::string four = f32_le({1.0f});
  expect_load_error(file_bytes(R"({"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", four), {"empty"});
  expect_load_error(
      file_bytes(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                 four),
      {"duplicate", "'t'"});
  expect_load_error(file_bytes(R"({"__metadata__":{"k":"a","k":"b"}})", ""), {"duplicate", "'k'"});
}

TEST_F(CheckpointTest, RejectsMalformedTensorEntries) {
  const std::string four = f32_le({1.0f});
  expect_load_error(file_bytes(R"({"x":3})", ""), {"tensor 'x'", "entry must be a JSON object"});
  expect_load_error(file_bytes(R"({"x":{"shape":[1],"data_offsets":[0,4]}})", four), {"tensor 'x'", "\"dtype\""});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","data_offsets":[0,4]}})", four), {"missing \"shape\""});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[1]}})", four), {"missing \"data_offsets\""});
  expect_load_error(file_bytes(R"({"x":{"dtype":32,"shape":[1],"data_offsets":[0,4]}})", four),
                    {"dtype must be a string"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", four),
                    {"unsupported dtype 'F16' for tensor 'x' (nmode reads F32)"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", four + four),
                    {"unsupported dtype 'F64'"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":1,"data_offsets":[0,4]}})", four),
                    {"shape must be an array"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", four),
                    {"shape entry", "negative"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", four),
                    {"shape entry", "non-negative integer"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", four),
                    {"shape entry", "non-negative integer"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}})", four),
                    {"shape entry", "non-negative integer"});
  expect_load_error(
      file_bytes(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})", four),
      {"more elements than fit"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":4}})", four),
                    {"data_offsets must be [begin, end]"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", four),
                    {"data_offsets must be [begin, end]"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", four),
                    {"data_offsets begin", "negative"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}})", four),
                    {"data_offsets end", "non-negative integer"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", four),
                    {"begin > end"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", four + four),
                    {"tensor 'x'", "shape/size mismatch"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[0],"data_offsets":[0,4]}})", four),
                    {"shape/size mismatch"});
}

TEST_F(CheckpointTest, RejectsBadLayouts) {
  const std::string four = f32_le({1.0f});
  // The data buffer holds 8 bytes but the tensor sits at [8, 16).
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", four + four),
                    {"tensor 'x'", "out of range"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                               four + four + four),
                    {"'x' and 'y' overlap"});
  // A zero-length tensor inside another one's bytes is an overlap too.
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
                               four + four),
                    {"overlap"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                               R"("y":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                               four + four + four),
                    {"hole", "[4, 8)", "'y'"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", four + four),
                    {"hole", "[0, 4)"});
  // Truncated data: the tensor needs 16 bytes, the file holds 12.
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", four + four + four),
                    {"truncated"});
  expect_load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", four + "garbage!"),
                    {"8 trailing bytes"});
  expect_load_error(file_bytes("{}", "x"), {"1 trailing bytes"});
}

TEST_F(CheckpointTest, RejectsBadMetadata) {
  expect_load_error(file_bytes(R"({"__metadata__":["a"]})", ""), {"__metadata__ must be a JSON object"});
  expect_load_error(file_bytes(R"({"__metadata__":{"k":1}})", ""), {"__metadata__ value for key 'k'", "string"});
  expect_load_error(file_bytes(R"({"__metadata__":{"k":{"a":"b"}}})", ""), {"key 'k'", "string"});
}

TEST_F(CheckpointTest, MissingFileAndDirectoryAreIoErrors) {
  EXPECT_THROW((void)nmode::load_checkpoint(path("nope.safetensors")), nmode::IoError);
  EXPECT_THROW((void)nmode::load_checkpoint(dir_.string()), nmode::IoError);
}

TEST_F(CheckpointTest, CheckpointTensorAndMetaReportProblems) {
  const nmode::Checkpoint c = sample_checkpoint();
  EXPECT_EQ(nmode::checkpoint_tensor(c, "layer0.W", {2, 3}).size(), 6);
  try {
    (void)nmode::checkpoint_tensor(c, "layer0.W", {3, 2});
    ADD_FAILURE() << "shape mismatch not reported";
  } catch (const nmode::IoError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'layer0.W'"), std::string::npos) << what;
    EXPECT_NE(what.find("has shape (2, 3)"), std::string::npos) << what;
    EXPECT_NE(what.find("expected (3, 2)"), std::string::npos) << what;
  }
  try {
    (void)nmode::checkpoint_tensor(c, "layer1.W", {2, 3});
    ADD_FAILURE() << "missing tensor not reported";
  } catch (const nmode::IoError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("no tensor 'layer1.W'"), std::string::npos) << what;
    EXPECT_NE(what.find("'layer0.W'"), std::string::npos) << "should list the stored names: " << what;
  }
  EXPECT_EQ(nmode::checkpoint_meta(c, "hidden"), "3");
  try {
    (void)nmode::checkpoint_meta(c, "depth");
    ADD_FAILURE() << "missing metadata key not reported";
  } catch (const nmode::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("'depth'"), std::string::npos) << e.what();
  }
}

TEST_F(CheckpointTest, SaveRejectsInvalidNamesWithoutWriting) {
  const std::string p = path("model.safetensors");
  for (const std::string& bad : {std::string(""), std::string("__metadata__"), std::string("bad\xff")}) {
    nmode::Checkpoint c = sample_checkpoint();
    c.tensors[bad] = nmode::Tensor({1});
    EXPECT_THROW(nmode::save_checkpoint(p, c), nmode::InvalidArgument) << bad;
  }
  nmode::Checkpoint c = sample_checkpoint();
  c.metadata["note"] = "bad\xc3";
  EXPECT_THROW(nmode::save_checkpoint(p, c), nmode::InvalidArgument);
  // Tensor::vector() lets a caller break the shape/size invariant; save catches it.
  c = sample_checkpoint();
  c.tensors["layer0.b"].vector().push_back(1.0f);
  EXPECT_THROW(nmode::save_checkpoint(p, c), nmode::InvalidArgument);
  EXPECT_TRUE(dir_entries().empty()) << "a rejected save must create no file";
}

// A writer killed mid-write leaves <out>.tmp.<pid>.<n>; the next write to the same
// path removes those of processes that no longer exist, and only those.
TEST_F(CheckpointTest, NextWriteRemovesTemporariesOfDeadWriters) {
  const std::string p = path("model.safetensors");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);  // now a pid no process has
  const std::string dead = p + ".tmp." + std::to_string(child) + ".3";
  const std::string live = p + ".tmp." + std::to_string(getpid()) + ".999";
  const std::string other = path("other.safetensors.tmp." + std::to_string(child) + ".0");
  // A writer whose pid we cannot see (another pid namespace sharing the folder)
  // still holds the lock on its file: that one must stay.
  const std::string locked = p + ".tmp." + std::to_string(child) + ".5";
  for (const std::string& f : {dead, live, other, locked}) write_file(f, "partial");
  const int lock_fd = ::open(locked.c_str(), O_RDONLY);
  ASSERT_GE(lock_fd, 0);
  ASSERT_EQ(::flock(lock_fd, LOCK_EX | LOCK_NB), 0);
  nmode::save_checkpoint(p, sample_checkpoint());
  EXPECT_FALSE(fs::exists(dead)) << "a dead writer's temporary file must go at once";
  EXPECT_TRUE(fs::exists(live)) << "a live process's temporary file must stay";
  EXPECT_TRUE(fs::exists(other)) << "another output's temporary file must stay";
  EXPECT_TRUE(fs::exists(locked)) << "a temporary file whose writer holds its lock must stay";
  ::close(lock_fd);
  EXPECT_NO_THROW((void)nmode::load_checkpoint(p));
}

TEST_F(CheckpointTest, SaveIntoMissingDirectoryLeavesNothing) {
  const std::string p = path("missing/model.safetensors");
  EXPECT_THROW(nmode::save_checkpoint(p, sample_checkpoint()), nmode::IoError);
  EXPECT_TRUE(dir_entries().empty());
}

TEST_F(CheckpointTest, OverwriteIsAtomic) {
  const std::string p = path("model.safetensors");
  nmode::Checkpoint first = sample_checkpoint();
  nmode::save_checkpoint(p, first);
  nmode::Checkpoint second = sample_checkpoint();
  second.tensors["layer0.b"].fill(-7.0f);
  second.metadata["hidden"] = "4";
  nmode::save_checkpoint(p, second);
  const nmode::Checkpoint loaded = nmode::load_checkpoint(p);
  expect_bitwise_equal(loaded.tensors.at("layer0.b"), second.tensors.at("layer0.b"), "layer0.b");
  EXPECT_EQ(nmode::checkpoint_meta(loaded, "hidden"), "4");

  // A failed save must leave the previous checkpoint byte-for-byte intact.
  const std::string before = read_file(p);
  nmode::Checkpoint broken = sample_checkpoint();
  broken.tensors["__metadata__"] = nmode::Tensor({1});
  EXPECT_THROW(nmode::save_checkpoint(p, broken), nmode::InvalidArgument);
  EXPECT_EQ(read_file(p), before);
  expect_no_temp_files();
  EXPECT_EQ(dir_entries().size(), 1u);
}

// The temporary file is fully written before the rename fails here, so this
// checks that the failure path removes it.
TEST_F(CheckpointTest, FailedRenameRemovesTemporaryFile) {
  const std::string p = path("occupied");
  fs::create_directory(p);
  write_file(p + "/keep", "x");
  EXPECT_THROW(nmode::save_checkpoint(p, sample_checkpoint()), nmode::IoError);
  expect_no_temp_files();
  EXPECT_TRUE(fs::is_directory(p));
  EXPECT_EQ(read_file(p + "/keep"), "x");
}

TEST_F(CheckpointTest, EveryTruncationIsAnIoError) {
  const std::string p = path("full.safetensors");
  nmode::save_checkpoint(p, sample_checkpoint());
  const std::string bytes = read_file(p);
  ASSERT_GT(bytes.size(), 8u);
  const std::string cut = path("cut.safetensors");
  for (size_t len = 0; len < bytes.size(); ++len) {
    write_file(cut, bytes.substr(0, len));
    EXPECT_THROW((void)nmode::load_checkpoint(cut), nmode::IoError) << "truncated to " << len << " bytes";
  }
}

TEST_F(CheckpointTest, HeaderByteFlipsLoadOrThrowNmodeError) {
  const std::string p = path("full.safetensors");
  nmode::save_checkpoint(p, sample_checkpoint());
  const std::string bytes = read_file(p);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  const size_t header_end = static_cast<size_t>(8 + n);
  std::mt19937 rng(12345);
  std::uniform_int_distribution<size_t> where(0, header_end - 1);
  std::uniform_int_distribution<int> value(0, 255);
  std::uniform_int_distribution<int> flips(1, 3);
  const std::string fuzzed = path("fuzz.safetensors");
  int loaded = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::string b = bytes;
    for (int k = flips(rng); k > 0; --k) b[where(rng)] = static_cast<char>(value(rng));
    write_file(fuzzed, b);
    try {
      const nmode::Checkpoint c = nmode::load_checkpoint(fuzzed);
      ++loaded;
      for (const auto& kv : c.tensors) EXPECT_EQ(kv.second.size(), nmode::shape_elements(kv.second.shape()));
    } catch (const nmode::Error&) {
      // Expected for most flips.
    } catch (const std::exception& e) {
      ADD_FAILURE() << "trial " << trial << " threw a non-nmode exception: " << e.what();
    }
  }
  // Flips inside names or metadata strings keep the file valid; most break it.
  EXPECT_LT(loaded, 400);
}

}  // namespace
