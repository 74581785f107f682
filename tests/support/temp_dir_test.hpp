// A test fixture with a fresh temporary folder per test, removed afterwards, and
// whole-file helpers, for the tests of file readers and writers.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <cstdint>
#include <string>
#include <vector>

namespace nmode::test {

inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "nmode_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // `name` inside the folder.
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes `bytes` to `name` inside the folder and returns its path.
  std::string file(const std::string& name, const std::vector<uint8_t>& bytes) const {
    write_file(path(name), bytes);
    return path(name);
  }
  std::string file_from_string(const std::string& name, const std::string& bytes) const {
    return write(name, bytes.data(), bytes.size());
  }

  std::filesystem::path dir_;

 private:
  std::string write(const std::string& name, const char* data, size_t size) const {
    const std::string p = path(name);
    std::ofstream out(p, std::ios::binary);
    out.write(data, static_cast<std::streamsize>(size));
    EXPECT_TRUE(out.good()) << p;
    return p;
  }
};

}  // namespace nmode::test
