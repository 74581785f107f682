// Tests for read_idx on synthetic IDX files written byte by byte (raw and gzip):
// shapes and payload, gzip equal to raw, and a clear IoError for every kind of
// malformed input, including random garbage, without crashing or hanging.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "nmode/error.hpp"
#include "nmode/idx.hpp"
#include "support/temp_dir_test.hpp"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// Header (00 00 type rank, then big-endian uint32 dims) followed by data.
Bytes idx_bytes(uint8_t type, const std::vector<uint32_t>& dims, const Bytes& data) {
  Bytes b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(d >> shift));
  }
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes pattern(size_t n) {
  Bytes data(n);
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<uint8_t>((i * 37 + 11) & 0xFF);
  return data;
}

using nmode::test::read_file;
using nmode::test::write_file;

void write_gz(const std::string& path, const Bytes& bytes) {
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  }
  ASSERT_EQ(gzclose(gz), Z_OK);
}

class IdxTest : public nmode::test::TempDirTest {
 protected:
  Bytes gz_of(const Bytes& bytes) {
    const std::string p = path("scratch.gz");
    write_gz(p, bytes);
    Bytes out = read_file(p);
    fs::remove(p);
    return out;
  }
};

// read_idx(path) must throw IoError whose message names the path and each word.
void expect_io_error(const std::string& path, const std::vector<std::string>& words) {
  try {
    nmode::read_idx(path);
    ADD_FAILURE() << "read_idx accepted " << path;
  } catch (const nmode::IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << "message does not name the file: " << msg;
    for (const auto& word : words) {
      EXPECT_NE(msg.find(word), std::string::npos) << "message lacks '" << word << "': " << msg;
    }
  }
}

TEST_F(IdxTest, ParsesShapesAndPayloadRawAndGzip) {
  // 258 = 0x0102 catches a little-endian misread; zero-size dims are valid IDX.
  const std::vector<std::vector<uint32_t>> shapes = {{1},       {7},          {258},    {3, 2, 5},
                                                     {2, 1, 1, 3}, {4, 28, 28}, {0},      {5, 0}};
  for (const auto& dims : shapes) {
    size_t n = 1;
    for (uint32_t d : dims) n *= d;
    const Bytes data = pattern(n);
    const Bytes file = idx_bytes(0x08, dims, data);
    write_file(path("a.idx"), file);
    write_gz(path("a.idx.gz"), file);
    for (const std::string name : {"a.idx", "a.idx.gz"}) {
      SCOPED_TRACE(name + " with " + std::to_string(dims.size()) + " dims, " + std::to_string(n) + " bytes");
      const nmode::IdxArray a = nmode::read_idx(path(name));
      EXPECT_EQ(a.type_code, 0x08);
      ASSERT_EQ(a.dims.size(), dims.size());
      for (size_t i = 0; i < dims.size(); ++i) EXPECT_EQ(a.dims[i], static_cast<int64_t>(dims[i]));
      EXPECT_EQ(a.data, data);
    }
  }
}

TEST_F(IdxTest, GzipIsDetectedByMagicNotName) {
  const Bytes file = idx_bytes(0x08, {2, 3}, pattern(6));
  write_file(path("raw-named.gz"), file);
  write_gz(path("gzip-named-raw"), file);
  EXPECT_EQ(nmode::read_idx(path("raw-named.gz")).data, pattern(6));
  EXPECT_EQ(nmode::read_idx(path("gzip-named-raw")).data, pattern(6));
}

TEST_F(IdxTest, ConcatenatedGzipMembersReadAsOneStream) {
  const Bytes file = idx_bytes(0x08, {100, 7}, pattern(700));
  Bytes joined = gz_of(Bytes(file.begin(), file.begin() + 300));
  const Bytes second = gz_of(Bytes(file.begin() + 300, file.end()));
  joined.insert(joined.end(), second.begin(), second.end());
  write_file(path("two-members.gz"), joined);
  const nmode::IdxArray a = nmode::read_idx(path("two-members.gz"));
  EXPECT_EQ(a.data, pattern(700));
}

TEST_F(IdxTest, BadMagicIsRejected) {
  Bytes file = idx_bytes(0x08, {4}, pattern(4));
  file[0] = 0x01;
  write_file(path("magic0"), file);
  expect_io_error(path("magic0"), {"bad magic", "0x01"});
  file[0] = 0x00;
  file[1] = 0x07;
  write_file(path("magic1"), file);
  expect_io_error(path("magic1"), {"bad magic", "0x07"});
}

TEST_F(IdxTest, UnsupportedTypesAreNamed) {
  write_file(path("float"), idx_bytes(0x0D, {2}, Bytes(8, 0)));
  expect_io_error(path("float"), {"unsupported IDX type 0x0D", "float32"});
  write_file(path("int32"), idx_bytes(0x0C, {2}, Bytes(8, 0)));
  expect_io_error(path("int32"), {"unsupported IDX type 0x0C"});
  write_file(path("bogus"), idx_bytes(0x42, {2}, Bytes(2, 0)));
  expect_io_error(path("bogus"), {"unsupported IDX type 0x42"});
}

TEST_F(IdxTest, RankOutsideOneToFourIsRejected) {
  write_file(path("rank0"), idx_bytes(0x08, {}, {}));
  expect_io_error(path("rank0"), {"rank 0", "1..4"});
  write_file(path("rank5"), idx_bytes(0x08, {1, 1, 1, 1, 1}, {7}));
  expect_io_error(path("rank5"), {"rank 5", "1..4"});
}

TEST_F(IdxTest, TruncatedPayloadReportsBothByteCounts) {
  Bytes file = idx_bytes(0x08, {3, 10}, pattern(30));  // 12-byte header + 30 bytes = 42
  file.pop_back();
  write_file(path("short"), file);
  expect_io_error(path("short"), {"truncated", "expected 42 bytes", "got 41"});
  write_gz(path("short.gz"), file);
  expect_io_error(path("short.gz"), {"truncated", "expected 42 decompressed bytes", "got 41"});
}

TEST_F(IdxTest, TruncatedHeaderIsRejected) {
  write_file(path("three"), {0, 0, 8});
  expect_io_error(path("three"), {"truncated header", "got 3"});
  write_file(path("half-dims"), {0, 0, 8, 3, 0, 0, 0, 2, 0, 0});  // rank 3 needs 16 header bytes
  expect_io_error(path("half-dims"), {"truncated header", "expected 16", "got 10"});
}

TEST_F(IdxTest, TrailingBytesAreRejected) {
  Bytes file = idx_bytes(0x08, {2, 2}, pattern(4));  // 12 + 4 = 16 bytes
  file.push_back(0xAB);
  file.push_back(0xCD);
  write_file(path("long"), file);
  expect_io_error(path("long"), {"trailing", "expected 16 bytes", "got 18"});
  write_gz(path("long.gz"), file);
  expect_io_error(path("long.gz"), {"trailing", "expected 16 decompressed bytes", "got 18"});
}

TEST_F(IdxTest, EmptyAndMissingFilesAreRejected) {
  write_file(path("empty"), {});
  expect_io_error(path("empty"), {"empty"});
  write_gz(path("empty.gz"), {});  // a valid gzip stream of nothing
  expect_io_error(path("empty.gz"), {"truncated header", "got 0"});
  expect_io_error(path("does-not-exist"), {"cannot open", "No such file"});
  expect_io_error(dir_.string(), {"directory"});
}

TEST_F(IdxTest, TruncatedGzipStreamIsRejected) {
  const Bytes gz = gz_of(idx_bytes(0x08, {50, 20}, pattern(1000)));
  // Cuts inside the gzip header, the deflate data and the CRC/length trailer.
  for (size_t keep : {size_t{2}, size_t{9}, size_t{12}, gz.size() / 2, gz.size() - 8, gz.size() - 1}) {
    SCOPED_TRACE("kept " + std::to_string(keep) + " of " + std::to_string(gz.size()) + " bytes");
    write_file(path("cut.gz"), Bytes(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(keep)));
    expect_io_error(path("cut.gz"), {"truncated"});
  }
}

TEST_F(IdxTest, CorruptGzipStreamIsRejected) {
  // Pseudo-random payload so the deflate stream is not a trivial run.
  std::mt19937 gen(7);
  Bytes data(2000);
  for (auto& b : data) b = static_cast<uint8_t>(gen() & 0x0F);
  const Bytes gz = gz_of(idx_bytes(0x08, {2000}, data));
  // Bytes 4..9 (mtime, flags, OS) may change freely, so corrupt from byte 10 on;
  // the CRC-32 check or the IDX length check must then catch every change.
  for (size_t pos = 10; pos < gz.size(); pos += 7) {
    SCOPED_TRACE("flipped byte " + std::to_string(pos));
    Bytes bad = gz;
    bad[pos] ^= 0x5A;
    write_file(path("flip.gz"), bad);
    expect_io_error(path("flip.gz"), {});
  }
  Bytes garbage_after = gz;
  for (char c : std::string("garbage")) garbage_after.push_back(static_cast<uint8_t>(c));
  write_file(path("garbage-after.gz"), garbage_after);
  expect_io_error(path("garbage-after.gz"), {"after the end of the gzip stream"});
}

TEST_F(IdxTest, OversizedDimensionsFailWithoutAllocating) {
  write_file(path("huge"), idx_bytes(0x08, {0xFFFFFFFFu, 0xFFFFFFFFu}, {}));
  expect_io_error(path("huge"), {"2^31"});
  write_file(path("huge4"), idx_bytes(0x08, {65536, 65536, 65536, 65536}, {}));
  expect_io_error(path("huge4"), {"2^31"});
  // Exactly 2^31 elements is allowed by the header check, but the file holds 5.
  const Bytes lying = idx_bytes(0x08, {32768, 65536}, pattern(5));
  write_file(path("lying"), lying);
  expect_io_error(path("lying"), {"truncated", "expected 2147483660 bytes", "got 17"});
  write_gz(path("lying.gz"), lying);
  expect_io_error(path("lying.gz"), {"truncated", "got 17"});
}

TEST_F(IdxTest, RandomGarbageNeverCrashes) {
  std::mt19937 gen(12345);
  auto random_bytes = [&](size_t n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<uint8_t>(gen() & 0xFF);
    return b;
  };
  int accepted = 0;
  for (int trial = 0; trial < 400; ++trial) {
    Bytes body = random_bytes(gen() % 200);
    switch (trial % 4) {
      case 0: break;  // pure noise
      case 1: {       // a plausible header prefix followed by noise
        const Bytes prefix = {0, 0, 8, static_cast<uint8_t>(gen() % 6)};
        body.insert(body.begin(), prefix.begin(), prefix.end());
        break;
      }
      case 2: body = gz_of(body); break;  // well-formed gzip of noise
      case 3: body.insert(body.begin(), {0x1f, 0x8b, 0x08, 0x00}); break;  // gzip magic, then noise
    }
    const std::string p = path("garbage" + std::to_string(trial));
    write_file(p, body);
    try {
      const nmode::IdxArray a = nmode::read_idx(p);
      // Noise can form a valid file by chance; then it must be self-consistent.
      ++accepted;
      ASSERT_GE(a.dims.size(), 1u);
      ASSERT_LE(a.dims.size(), 4u);
      int64_t n = 1;
      for (int64_t d : a.dims) n *= d;
      EXPECT_EQ(static_cast<int64_t>(a.data.size()), n);
    } catch (const nmode::IoError& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
    fs::remove(p);
  }
  EXPECT_LT(accepted, 40) << "far too much noise parsed as valid IDX";
}

}  // namespace
