// A test fixture with a fresh temporary folder per test, removed afterwards, for
// the tests of file readers and writers.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <cstdint>
#include <string>
#include <vector>

namespace nmode::test {

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
    return write(name, reinterpret_cast<const char*>(bytes.data()), bytes.size());
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
