// Tests for the .npy reader and writer against bytes built by hand from the
// format specification, never by the writer: the exact bytes np.save writes,
// every dtype and byte order, versions 1.0 to 3.0, the value conversions, and
// an error naming the file and the problem for every kind of malformed input.
#include "nmode/npy.hpp"
#include "support/temp_dir_test.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "nmode/error.hpp"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
using nmode::NpyType;

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// The low `width` bytes of v, least significant first (le) or last (be).
Bytes le(uint64_t v, size_t width) {
  Bytes b;
  for (size_t i = 0; i < width; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return b;
}

Bytes be(uint64_t v, size_t width) {
  Bytes b = le(v, width);
  return Bytes(b.rbegin(), b.rend());
}

uint64_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

uint64_t f64_bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

// The format: "\x93NUMPY", major, minor 0, header length (uint16 for 1.0, uint32
// for 2.0 and 3.0, little-endian), the header text, then the data.
Bytes npy_file(uint8_t major, const std::string& header, const Bytes& data) {
  Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', major, 0};
  const Bytes len = le(header.size(), major == 1 ? 2 : 4);
  b.insert(b.end(), len.begin(), len.end());
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

// A header dict spelled as NumPy spells it, unpadded: the reader must not care.
std::string dict(const std::string& descr, const std::string& shape, const std::string& fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }\n";
}

// 24 bytes: the data of a (2, 3) float32 array.
const Bytes kData24(24, 0);

using nmode::test::read_file;
using nmode::test::write_file;

using NpyTest = nmode::test::TempDirTest;

// read_npy(path) must throw IoError whose message names the path and each word.
void expect_io_error(const std::string& path, const std::vector<std::string>& words) {
  try {
    nmode::read_npy(path);
    ADD_FAILURE() << "read_npy accepted " << path;
  } catch (const nmode::IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'" + path + "'"), std::string::npos) << "message does not name the file: " << msg;
    for (const auto& word : words) {
      EXPECT_NE(msg.find(word), std::string::npos) << "message lacks '" << word << "': " << msg;
    }
  }
}

// f() must throw InvalidArgument whose message holds each word.
void expect_invalid(const std::function<void()>& f, const std::vector<std::string>& words) {
  try {
    f();
    ADD_FAILURE() << "no InvalidArgument thrown";
  } catch (const nmode::InvalidArgument& e) {
    const std::string msg = e.what();
    for (const auto& word : words) {
      EXPECT_NE(msg.find(word), std::string::npos) << "message lacks '" << word << "': " << msg;
    }
  }
}

// ---- the writer, byte for byte ----

TEST_F(NpyTest, WriterProducesNumPyBytesFor2x3Float) {
  nmode::write_npy(path("a.npy"), {2, 3}, std::vector<float>{0.0f, 1.0f, -2.0f, 0.5f, 3.0f, 1.5f});
  // np.save: the dict, 21 - len("2") = 20 spaces of room for the first dimension
  // to grow, then spaces and '\n' so that the data starts at byte 128.
  const std::string dict_text = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  ASSERT_EQ(dict_text.size(), 59u);
  const std::string header = dict_text + std::string(20, ' ') + std::string(38, ' ') + "\n";
  const Bytes expected = cat({{0x93, 'N', 'U', 'M', 'P', 'Y', 0x01, 0x00, 0x76, 0x00},  // 0x76 = 118
                              bytes_of(header),
                              {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0,
                               0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0x40, 0x40, 0x00, 0x00, 0xC0, 0x3F}});
  const Bytes got = read_file(path("a.npy"));
  EXPECT_EQ(10 + header.size(), 128u);
  EXPECT_EQ(got.size(), 128u + 24u);
  EXPECT_EQ(got, expected);
}

TEST_F(NpyTest, WriterProducesNumPyBytesForInt64Vector) {
  nmode::write_npy(path("labels.npy"), {5}, std::vector<int64_t>{0, 1, -1, int64_t{1} << 40, 9});
  const std::string header =
      "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }" + std::string(20 + 40, ' ') + "\n";
  const Bytes expected = cat({{0x93, 'N', 'U', 'M', 'P', 'Y', 0x01, 0x00, 0x76, 0x00},
                              bytes_of(header),
                              {0, 0, 0, 0, 0, 0, 0, 0},
                              {1, 0, 0, 0, 0, 0, 0, 0},
                              {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
                              {0, 0, 0, 0, 0, 1, 0, 0},
                              {9, 0, 0, 0, 0, 0, 0, 0}});
  EXPECT_EQ(read_file(path("labels.npy")), expected);
}

TEST_F(NpyTest, WriterProducesNumPyBytesForScalar) {
  // A scalar's shape is (); NumPy adds no growth room when there is no first axis.
  nmode::write_npy(path("s.npy"), {}, std::vector<float>{-2.0f});
  const std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (), }" + std::string(62, ' ') + "\n";
  const Bytes expected =
      cat({{0x93, 'N', 'U', 'M', 'P', 'Y', 0x01, 0x00, 0x76, 0x00}, bytes_of(header), {0x00, 0x00, 0x00, 0xC0}});
  EXPECT_EQ(read_file(path("s.npy")), expected);
}

TEST_F(NpyTest, WriterPadsAnAlreadyAlignedHeaderByAWhole64AsNumPyDoes) {
  // 10 + 117-byte dict (with growth room) + '\n' = 128 is aligned already, and
  // NumPy's padding formula then adds 64 spaces rather than none.
  const std::vector<int64_t> shape = {0, 10000000, 10000000, 10000000, 100000000};
  nmode::write_npy(path("z.npy"), shape, std::vector<float>{});
  const std::string dict_text =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 10000000, 10000000, 10000000, 100000000), }";
  const std::string header = dict_text + std::string(20, ' ') + std::string(64, ' ') + "\n";
  ASSERT_EQ(10 + header.size(), 192u);
  const Bytes expected = cat({{0x93, 'N', 'U', 'M', 'P', 'Y', 0x01, 0x00, 0xB6, 0x00}, bytes_of(header)});
  EXPECT_EQ(read_file(path("z.npy")), expected);
  EXPECT_EQ(nmode::read_npy(path("z.npy")).shape, shape);
}

TEST_F(NpyTest, WrittenFilesReadBack) {
  const std::vector<float> values = {1.0f, -0.0f, std::numeric_limits<float>::denorm_min(), 3.25f};
  nmode::write_npy(path("f.npy"), {1, 2, 2}, values);
  const nmode::NpyArray a = nmode::read_npy(path("f.npy"));
  EXPECT_EQ(a.type, NpyType::F32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 2, 2}));
  ASSERT_EQ(a.bytes.size(), 16u);
  EXPECT_EQ(std::memcmp(a.bytes.data(), values.data(), 16), 0);
  const std::vector<int64_t> labels = {std::numeric_limits<int64_t>::min(), 7};
  nmode::write_npy(path("i.npy"), {2}, labels);
  EXPECT_EQ(nmode::npy_to_integers(nmode::read_npy(path("i.npy"))), labels);
}

TEST_F(NpyTest, WriterRefusesBadShapesAndLeavesNoFile) {
  const std::string p = path("bad.npy");
  expect_invalid([&] { nmode::write_npy(p, {2, 3}, std::vector<float>(5)); },
                 {p, "data holds 5 values", "shape (2, 3) needs 6"});
  expect_invalid([&] { nmode::write_npy(p, {2, 3}, std::vector<int64_t>(7)); }, {p, "7 values", "needs 6"});
  expect_invalid([&] { nmode::write_npy(p, {}, std::vector<float>{}); }, {p, "shape () needs 1"});
  expect_invalid([&] { nmode::write_npy(p, {-1, 3}, std::vector<float>(3)); }, {p, "negative dimension"});
  expect_invalid([&] { nmode::write_npy(p, {int64_t{1} << 40, int64_t{1} << 40}, std::vector<float>(1)); },
                 {p, "more than 2^64"});
  expect_invalid([&] { nmode::write_npy(p, std::vector<int64_t>(9, 1), std::vector<float>(1)); },
                 {p, "more than 8 dimensions"});
  EXPECT_TRUE(fs::is_empty(dir_)) << "a refused write left a file behind";
  // A refused write leaves an existing file as it was.
  nmode::write_npy(p, {2}, std::vector<float>{1.0f, 2.0f});
  const Bytes before = read_file(p);
  expect_invalid([&] { nmode::write_npy(p, {3}, std::vector<float>(2)); }, {"needs 3"});
  EXPECT_EQ(read_file(p), before);
}

TEST_F(NpyTest, WriteIntoMissingFolderIsIoError) {
  const std::string p = path("no-such-dir/x.npy");
  try {
    nmode::write_npy(p, {1}, std::vector<float>{1.0f});
    ADD_FAILURE() << "write_npy succeeded in a missing folder";
  } catch (const nmode::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("'" + p + "'"), std::string::npos) << e.what();
  }
}

// ---- the reader on hand-made files ----

struct DtypeCase {
  std::string code;  // descr without its byte-order mark
  NpyType type;
  size_t width;
  std::string shape_text;
  std::vector<int64_t> shape;
  std::vector<uint64_t> raw;  // element bit patterns
  std::vector<float> floats;  // what npy_to_floats must return
};

std::vector<DtypeCase> dtype_cases() {
  return {
      {"u1", NpyType::U8, 1, "(2, 3)", {2, 3}, {0, 1, 127, 128, 254, 255}, {0, 1, 127, 128, 254, 255}},
      {"i4", NpyType::I32, 4, "(3,)", {3}, {0xFFFFFFFFu, 258, 0x80000000u}, {-1, 258, -2147483648.0f}},
      {"i8", NpyType::I64, 8, "(2, 1)", {2, 1}, {~uint64_t{1}, (uint64_t{1} << 40) + 4}, {-2, 1099511627780.0f}},
      {"f4",
       NpyType::F32,
       4,
       "(1, 3)",
       {1, 3},
       {f32_bits(1.0f), f32_bits(-2.5f), f32_bits(std::numeric_limits<float>::denorm_min())},
       {1.0f, -2.5f, std::numeric_limits<float>::denorm_min()}},
      {"f8", NpyType::F64, 8, "(3,)", {3}, {f64_bits(0.1), f64_bits(-3.5), f64_bits(1e-300)}, {0.1f, -3.5f, 0.0f}},
  };
}

Bytes encode(const DtypeCase& c, bool big_endian) {
  Bytes out;
  for (uint64_t v : c.raw) {
    const Bytes e = big_endian ? be(v, c.width) : le(v, c.width);
    out.insert(out.end(), e.begin(), e.end());
  }
  return out;
}

TEST_F(NpyTest, ReadsEveryDtypeInEveryByteOrderSpelling) {
  for (const DtypeCase& c : dtype_cases()) {
    std::vector<std::string> orders = {"<", "=", ">"};
    if (c.width == 1) orders.push_back("|");
    for (const std::string& order : orders) {
      const std::string descr = order + c.code;
      SCOPED_TRACE(descr);
      const std::string p = file("a.npy", npy_file(1, dict(descr, c.shape_text), encode(c, order == ">")));
      const nmode::NpyArray a = nmode::read_npy(p);
      EXPECT_EQ(a.type, c.type);
      EXPECT_EQ(a.shape, c.shape);
      EXPECT_EQ(a.numel(), static_cast<int64_t>(c.raw.size()));
      EXPECT_EQ(a.bytes, encode(c, false)) << "bytes must be little-endian in memory";
      EXPECT_EQ(nmode::npy_to_floats(a), c.floats);
    }
  }
}

TEST_F(NpyTest, ReadsVersions2And3) {
  const DtypeCase c = dtype_cases()[3];  // f4
  for (int major : {2, 3}) {
    SCOPED_TRACE("version " + std::to_string(major) + ".0");
    const std::string p = file("v.npy", npy_file(static_cast<uint8_t>(major), dict("<f4", "(1, 3)"), encode(c, false)));
    const nmode::NpyArray a = nmode::read_npy(p);
    EXPECT_EQ(a.shape, c.shape);
    EXPECT_EQ(nmode::npy_to_floats(a), c.floats);
  }
}

TEST_F(NpyTest, AcceptsAnyKeyOrderQuotingAndSpacing) {
  const std::string padded =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + std::string(58, ' ') + "\n";
  const std::vector<std::string> headers = {
      padded,
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",
      "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}\n",
      "{ 'descr' : '<f4' ,\n 'fortran_order' : False ,\t'shape' : ( 2 , 3 , ) , }   \n",
      "{'descr':'<f4','fortran_order':False,'shape':(2,3)}",
  };
  for (const std::string& h : headers) {
    SCOPED_TRACE(h);
    const nmode::NpyArray a = nmode::read_npy(file("h.npy", npy_file(1, h, kData24)));
    EXPECT_EQ(a.type, NpyType::F32);
    EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a.bytes.size(), 24u);
  }
}

TEST_F(NpyTest, ReadsScalarAndZeroLengthArrays) {
  const nmode::NpyArray s = nmode::read_npy(file("s.npy", npy_file(1, dict("<f8", "()"), le(f64_bits(2.5), 8))));
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(nmode::npy_to_floats(s), std::vector<float>{2.5f});
  const nmode::NpyArray z = nmode::read_npy(file("z.npy", npy_file(1, dict("|u1", "(0, 784)"), {})));
  EXPECT_EQ(z.shape, (std::vector<int64_t>{0, 784}));
  EXPECT_EQ(z.numel(), 0);
  EXPECT_TRUE(z.bytes.empty());
  EXPECT_TRUE(nmode::npy_to_floats(z).empty());
  EXPECT_TRUE(nmode::npy_to_integers(z).empty());
}

TEST(NpyNames, TypesHaveNumPyNames) {
  EXPECT_STREQ(nmode::to_string(NpyType::U8), "uint8");
  EXPECT_STREQ(nmode::to_string(NpyType::I32), "int32");
  EXPECT_STREQ(nmode::to_string(NpyType::I64), "int64");
  EXPECT_STREQ(nmode::to_string(NpyType::F32), "float32");
  EXPECT_STREQ(nmode::to_string(NpyType::F64), "float64");
}

// ---- the reader's errors ----

TEST_F(NpyTest, MissingEmptyAndDirectoryAreRejected) {
  expect_io_error(path("does-not-exist.npy"), {"cannot open", "No such file"});
  expect_io_error(dir_.string(), {"directory"});
  expect_io_error(file("empty.npy", {}), {"empty"});
}

TEST_F(NpyTest, BadMagicIsRejected) {
  Bytes b = npy_file(1, dict("<f4", "(2, 3)"), kData24);
  b[5] = 'Z';
  expect_io_error(file("z.npy", b), {"bad magic", "\\x93NUMPZ"});
  expect_io_error(file("text.npy", bytes_of("hello world")), {"bad magic", "hello", "not a .npy file"});
  expect_io_error(file("zip.npy", cat({{'P', 'K', 3, 4}, Bytes(40, 0)})), {"bad magic", ".npz"});
  expect_io_error(file("one.npy", {0x00}), {"bad magic", "\\x00"});
}

TEST_F(NpyTest, TruncatedPreambleIsRejected) {
  const Bytes v1 = npy_file(1, dict("<f4", "(2, 3)"), kData24);
  expect_io_error(file("magic-only.npy", Bytes(v1.begin(), v1.begin() + 3)),
                  {"truncated header", "at least 10 bytes", "got 3"});
  expect_io_error(file("seven.npy", Bytes(v1.begin(), v1.begin() + 7)), {"truncated header", "got 7"});
  const Bytes v2 = npy_file(2, dict("<f4", "(2, 3)"), kData24);
  expect_io_error(file("v2-short.npy", Bytes(v2.begin(), v2.begin() + 11)),
                  {"truncated header", "at least 12 bytes for version 2.0", "got 11"});
}

TEST_F(NpyTest, UnsupportedVersionsAreRejected) {
  for (const auto& [major, minor] : std::vector<std::pair<uint8_t, uint8_t>>{{0, 0}, {4, 0}, {1, 1}, {3, 5}}) {
    Bytes b = npy_file(1, dict("<f4", "(2, 3)"), kData24);
    b[6] = major;
    b[7] = minor;
    const std::string version = std::to_string(major) + "." + std::to_string(minor);
    expect_io_error(file("v" + version + ".npy", b), {"unsupported format version " + version, "1.0, 2.0 and 3.0"});
  }
}

TEST_F(NpyTest, HeaderLengthBeyondTheFileOrOver1MiBIsRejected) {
  Bytes b = npy_file(1, dict("<f4", "(2, 3)"), kData24);
  b[8] = 0xFF;
  b[9] = 0xFF;
  expect_io_error(file("long1.npy", b), {"header length 65535 exceeds the", "after the 10-byte preamble"});
  Bytes b2 = npy_file(2, dict("<f4", "(2, 3)"), kData24);
  for (size_t i = 8; i < 12; ++i) b2[i] = 0xFF;
  expect_io_error(file("long2.npy", b2), {"header length 4294967295 exceeds", "12-byte preamble"});
  // Exactly 1 MiB of header is allowed; one byte more is not.
  const std::string base = dict("<f4", "(2, 3)");
  const size_t mib = size_t{1} << 20;
  const std::string p = file("mib.npy", npy_file(2, base + std::string(mib - base.size(), ' '), kData24));
  EXPECT_EQ(nmode::read_npy(p).shape, (std::vector<int64_t>{2, 3}));
  expect_io_error(file("over.npy", npy_file(2, base + std::string(mib + 1 - base.size(), ' '), kData24)),
                  {"header length 1048577 exceeds the limit of 1 MiB"});
}

TEST_F(NpyTest, HeadersThatAreNotNumPysDictAreRejected) {
  const std::string ok_tail = ", 'fortran_order': False, 'shape': (2, 3), }";
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"", {"expected '{' at the start", "the end of the header"}},
      {"   \n", {"expected '{'"}},
      {"{'descr': '<f4', 'fortran_order': False}", {"missing key 'shape'"}},
      {"{'shape': (2, 3), 'fortran_order': False}", {"missing key 'descr'"}},
      {"{'descr': '<f4', 'shape': (2, 3)}", {"missing key 'fortran_order'"}},
      {"{}", {"missing key 'descr'"}},
      {"{'descr': '<f4', 'descr': '<f4'" + ok_tail, {"duplicate key 'descr'"}},
      {"{'descr': '<f4', 'extra': 1" + ok_tail, {"unknown key 'extra'", "exactly the keys"}},
      {"{descr: '<f4'" + ok_tail, {"expected a key in quotes", "'d'"}},
      {"{'descr' '<f4'" + ok_tail, {"expected ':' after the key 'descr'"}},
      {"{'descr': '<f4", {"unterminated string"}},
      {"{'descr': \"<f4'" + ok_tail, {"unterminated string"}},
      {"{'descr': '<f\\x34'" + ok_tail, {"backslash"}},
      {"{'descr': <f4" + ok_tail, {"expected the descr string in quotes"}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", {"expected '}' or ','", "the end of the header"}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3) 'x'}", {"expected '}' or ','"}},
      {dict("<f4", "(2, 3)") + "x", {"after the closing '}'"}},
      {dict("<f4", "(2, 3)") + std::string(1, '\0'), {"after the closing '}'", "\\x00"}},
      {"{'descr': '<f4',, 'fortran_order': False, 'shape': (2, 3)}", {"expected a key in quotes", "','"}},
      {"{, 'descr': '<f4'" + ok_tail, {"expected a key in quotes"}},
      {dict("<f4", "(2, 3)", "0"), {"True or False", "'0'"}},
      {dict("<f4", "(2, 3)", "false"), {"True or False", "'false'"}},
      {dict("<f4", "(2, 3)", "'False'"), {"True or False"}},
      {dict("<f4", "[2, 3]"), {"expected '(' to open the shape tuple"}},
      {dict("<f4", "6"), {"expected '('"}},
      {dict("<f4", "(6)"), {"'(n,)'"}},
      {dict("<f4", "(2, 3.0)"), {"plain integer", "'.'"}},
      {dict("<f4", "(2L, 3L)"), {"plain integer", "'L'"}},
      {dict("<f4", "(2, 0x3)"), {"plain integer"}},
      {dict("<f4", "(2, 03)"), {"leading zeros"}},
      {dict("<f4", "(2,, 3)"), {"expected an integer in the shape", "','"}},
      {dict("<f4", "(,)"), {"expected an integer in the shape"}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3}", {"expected ',' or ')'", "'}'"}},
      {dict("<f4", "(+2, 3)"), {"expected an integer", "'+'"}},
  };
  int i = 0;
  for (const auto& [header, words] : cases) {
    SCOPED_TRACE(header);
    std::vector<std::string> all = {"header is not the dict NumPy writes"};
    all.insert(all.end(), words.begin(), words.end());
    expect_io_error(file("h" + std::to_string(i++) + ".npy", npy_file(1, header, kData24)), all);
  }
}

TEST_F(NpyTest, UnsupportedDtypesAreNamed) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"<c8", {"'<c8' (complex)"}},
      {"<f2", {"'<f2' (floating point)"}},
      {"|O", {"'|O' (Python objects", "never unpickles"}},
      {"<U5", {"'<U5' (unicode strings)"}},
      {"|S3", {"'|S3' (byte strings)"}},
      {"|b1", {"'|b1' (boolean)"}},
      {"|i1", {"'|i1' (signed integer)"}},
      {"<i2", {"'<i2'"}},
      {"<u4", {"'<u4' (unsigned integer)"}},
      {"<u8", {"'<u8'"}},
      {"<M8[ns]", {"'<M8[ns]' (datetime)"}},
      {"f4", {"'f4'"}},
      {"|f4", {"'|f4'", "one-byte types only"}},
      {"<f4 ", {"'<f4 '"}},
      {"", {"''"}},
  };
  int i = 0;
  for (const auto& [descr, words] : cases) {
    SCOPED_TRACE(descr);
    std::vector<std::string> all = {"unsupported dtype", "nmode reads '<u1' (uint8)"};
    all.insert(all.end(), words.begin(), words.end());
    expect_io_error(file("d" + std::to_string(i++) + ".npy", npy_file(1, dict(descr, "(2, 3)"), kData24)), all);
  }
  const std::string structured = "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }";
  expect_io_error(file("rec.npy", npy_file(1, structured, kData24)), {"structured", "nmode reads"});
}

TEST_F(NpyTest, FortranOrderIsRefusedWithTheFix) {
  expect_io_error(file("f.npy", npy_file(1, dict("<f4", "(2, 3)", "True"), kData24)),
                  {"Fortran order", "np.ascontiguousarray"});
}

TEST_F(NpyTest, BadShapesAreRejectedWithoutAllocating) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"(2, -3)", {"shape (2, -3) has a negative dimension"}},
      {"(-1,)", {"negative dimension"}},
      {"(99999999999999999999,)", {"99999999999999999999", "does not fit in 64 bits"}},
      {"(2, -9223372036854775809)", {"-9223372036854775809", "does not fit in 64 bits"}},
      {"(65536, 65536)", {"shape (65536, 65536) exceeds the limit of 2^31 elements"}},
      {"(2147483649,)", {"2^31"}},
      {"(0, 4294967296)", {"2^31"}},
      {"(9223372036854775807, 9223372036854775807)", {"2^31"}},
      {"(1, 1, 1, 1, 1, 1, 1, 1, 1)", {"more than 8 dimensions"}},
  };
  int i = 0;
  for (const auto& [shape, words] : cases) {
    SCOPED_TRACE(shape);
    expect_io_error(file("s" + std::to_string(i++) + ".npy", npy_file(1, dict("<f4", shape), kData24)), words);
  }
  // At the limits: 2^31 elements (16 GiB of float64) pass the shape check, and
  // the file's length, not an allocation, then refuses them.
  expect_io_error(file("u1.npy", npy_file(1, dict("|u1", "(2147483648,)"), {})),
                  {"truncated", "expected 2147483648 data bytes", "got 0"});
  expect_io_error(file("f8.npy", npy_file(1, dict("<f8", "(32768, 65536)"), {1, 2, 3})),
                  {"truncated", "expected 17179869184 data bytes", "got 3"});
  EXPECT_EQ(nmode::read_npy(file("rank8.npy", npy_file(1, dict("<f4", "(1, 1, 1, 1, 1, 1, 2, 3)"), kData24)))
                .shape.size(),
            8u);
}

TEST_F(NpyTest, TruncatedDataAndTrailingBytesAreRejected) {
  const std::string h = dict("<f4", "(2, 3)");
  expect_io_error(file("short.npy", npy_file(1, h, Bytes(23, 0))),
                  {"truncated", "expected 24 data bytes", "got 23", "shape (2, 3) of float32"});
  expect_io_error(file("none.npy", npy_file(1, h, {})), {"truncated", "expected 24 data bytes", "got 0"});
  expect_io_error(file("long.npy", npy_file(1, h, Bytes(25, 0))),
                  {"trailing bytes", "expected 24 data bytes", "got 25"});
  expect_io_error(file("scalar-extra.npy", npy_file(1, dict("<f4", "()"), Bytes(8, 0))),
                  {"trailing bytes", "expected 4 data bytes", "got 8"});
}

TEST_F(NpyTest, CorruptedFilesNeverCrash) {
  const Bytes good = npy_file(1, dict("<i4", "(2, 3)"), Bytes(24, 7));
  std::mt19937 gen(2024);
  int accepted = 0;
  for (int trial = 0; trial < 500; ++trial) {
    Bytes b = good;
    const int flips = 1 + static_cast<int>(gen() % 4);
    for (int k = 0; k < flips; ++k) b[gen() % b.size()] = static_cast<uint8_t>(gen());
    if (trial % 5 == 0) b.resize(gen() % b.size());
    const std::string p = path("c" + std::to_string(trial) + ".npy");
    write_file(p, b);
    try {
      const nmode::NpyArray a = nmode::read_npy(p);
      ++accepted;
      ASSERT_LE(a.shape.size(), 8u);
      const size_t width = a.type == NpyType::U8 ? 1 : a.type == NpyType::I32 || a.type == NpyType::F32 ? 4 : 8;
      EXPECT_EQ(a.bytes.size(), static_cast<size_t>(a.numel()) * width);
    } catch (const nmode::IoError& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
    fs::remove(p);
  }
  EXPECT_GT(accepted, 0) << "flips inside the data should leave valid files";
}

// ---- conversions ----

nmode::NpyArray array_of(NpyType type, std::vector<int64_t> shape, const Bytes& bytes) {
  nmode::NpyArray a;
  a.type = type;
  a.shape = std::move(shape);
  a.bytes = bytes;
  return a;
}

template <typename T>
Bytes raw_of(const std::vector<T>& values) {
  Bytes b(values.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), values.data(), b.size());
  return b;
}

TEST(NpyConvert, ToFloatsConvertsAsTheValuesAre) {
  EXPECT_EQ(nmode::npy_to_floats(array_of(NpyType::U8, {3}, {0, 128, 255})), (std::vector<float>{0, 128, 255}));
  EXPECT_EQ(nmode::npy_to_floats(array_of(NpyType::I32, {2}, raw_of<int32_t>({-7, 16777217}))),
            (std::vector<float>{-7.0f, 16777216.0f}));
  EXPECT_EQ(nmode::npy_to_floats(array_of(NpyType::I64, {1}, raw_of<int64_t>({-(int64_t{1} << 62)}))),
            (std::vector<float>{-4611686018427387904.0f}));
  // Rounded to nearest; just above FLT_MAX still rounds down to it.
  const float max = std::numeric_limits<float>::max();
  const std::vector<float> f = nmode::npy_to_floats(
      array_of(NpyType::F64, {5}, raw_of<double>({0.1, 3.4028235e38, -1e-50, INFINITY, NAN})));
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(f[0], 0.1f);
  EXPECT_EQ(f[1], max);
  EXPECT_EQ(f[2], -0.0f);
  EXPECT_EQ(f[3], std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f[4]));
}

TEST(NpyConvert, ToFloatsRefusesFloat64BeyondFloatRange) {
  expect_invalid([] { nmode::npy_to_floats(array_of(NpyType::F64, {3}, raw_of<double>({1.0, 2.0, 1e39}))); },
                 {"npy_to_floats", "1e+39", "index 2", "range of float32"});
  expect_invalid([] { nmode::npy_to_floats(array_of(NpyType::F64, {1}, raw_of<double>({-1e300}))); },
                 {"-1e+300", "index 0"});
  // The midpoint between FLT_MAX and 2^128 rounds (to even) to infinity.
  expect_invalid([] { nmode::npy_to_floats(array_of(NpyType::F64, {1}, raw_of<double>({0x1.ffffffp127}))); },
                 {"index 0"});
}

TEST(NpyConvert, ToIntegersKeepsIntegersAndIntegralFloats) {
  EXPECT_EQ(nmode::npy_to_integers(array_of(NpyType::U8, {2}, {0, 255})), (std::vector<int64_t>{0, 255}));
  EXPECT_EQ(nmode::npy_to_integers(array_of(NpyType::I32, {2}, raw_of<int32_t>({-5, 2147483647}))),
            (std::vector<int64_t>{-5, 2147483647}));
  const int64_t min = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(nmode::npy_to_integers(array_of(NpyType::I64, {2}, raw_of<int64_t>({min, 9}))),
            (std::vector<int64_t>{min, 9}));
  EXPECT_EQ(nmode::npy_to_integers(array_of(NpyType::F32, {3}, raw_of<float>({3.0f, -0.0f, 16777216.0f}))),
            (std::vector<int64_t>{3, 0, 16777216}));
  EXPECT_EQ(nmode::npy_to_integers(array_of(NpyType::F64, {2}, raw_of<double>({-9223372036854775808.0, 7.0}))),
            (std::vector<int64_t>{min, 7}));
}

TEST(NpyConvert, ToIntegersRefusesNonIntegralOrOutOfRange) {
  expect_invalid([] { nmode::npy_to_integers(array_of(NpyType::F64, {3}, raw_of<double>({1.0, 2.5, 0.5}))); },
                 {"npy_to_integers", "2.5", "index 1", "not an integer"});
  expect_invalid([] { nmode::npy_to_integers(array_of(NpyType::F32, {2}, raw_of<float>({0.0f, 0.1f}))); },
                 {"0.1 ", "index 1", "not an integer"});
  expect_invalid([] { nmode::npy_to_integers(array_of(NpyType::F32, {1}, raw_of<float>({NAN}))); },
                 {"nan", "index 0", "not an integer"});
  expect_invalid([] { nmode::npy_to_integers(array_of(NpyType::F64, {1}, raw_of<double>({-INFINITY}))); },
                 {"-inf", "not an integer"});
  expect_invalid(
      [] { nmode::npy_to_integers(array_of(NpyType::F64, {2}, raw_of<double>({0.0, 9223372036854775808.0}))); },
                 {"9223372036854775808", "index 1", "does not fit int64"});
  expect_invalid([] { nmode::npy_to_integers(array_of(NpyType::F32, {1}, raw_of<float>({-1e19f}))); },
                 {"does not fit int64"});
}

TEST(NpyConvert, InconsistentArraysAreRefused) {
  expect_invalid([] { nmode::npy_to_floats(array_of(NpyType::F32, {2, 3}, Bytes(23))); },
                 {"npy_to_floats", "23 bytes", "(2, 3)", "float32"});
  expect_invalid([] { nmode::npy_to_integers(array_of(NpyType::I64, {-1}, Bytes{})); }, {"npy_to_integers"});
  expect_invalid([] { nmode::npy_to_integers(array_of(NpyType::U8, {2}, Bytes(3))); }, {"3 bytes"});
}

}  // namespace
