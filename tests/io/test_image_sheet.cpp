// Tests for the PNG image sheet: the file is parsed back here chunk by chunk
// (signature, IHDR fields, CRC of every chunk, inflated IDAT) and its pixels
// are compared with a grid laid out independently in the test.
#include "nmode/image_sheet.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "nmode/error.hpp"

namespace {

struct Png {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> ihdr;
  std::vector<std::string> chunk_types;
  std::vector<uint8_t> pixels;  // (height, width), filter bytes removed
};

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// A strict reader for what write_png_grid promises: 8-bit grayscale, filter 0.
Png read_png(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  Png png;
  const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  EXPECT_GE(b.size(), 8u);
  if (b.size() < 8) return png;
  for (int i = 0; i < 8; ++i) EXPECT_EQ(b[static_cast<size_t>(i)], sig[i]) << "signature byte " << i;
  std::vector<uint8_t> idat;
  size_t at = 8;
  while (at + 12 <= b.size()) {
    const uint32_t len = be32(&b[at]);
    if (at + 12 + len > b.size()) {
      ADD_FAILURE() << "chunk at " << at << " runs past the end";
      return png;
    }
    const std::string type(b.begin() + static_cast<long>(at + 4), b.begin() + static_cast<long>(at + 8));
    const uint8_t* data = &b[at + 8];
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), &b[at + 4], 4 + len);
    EXPECT_EQ(be32(&b[at + 8 + len]), static_cast<uint32_t>(crc)) << "CRC of chunk " << type;
    png.chunk_types.push_back(type);
    if (type == "IHDR") png.ihdr.assign(data, data + len);
    if (type == "IDAT") idat.insert(idat.end(), data, data + len);
    at += 12 + len;
  }
  EXPECT_EQ(at, b.size()) << "trailing bytes after the last chunk";
  EXPECT_EQ(png.ihdr.size(), 13u);
  if (png.ihdr.size() != 13) return png;
  png.width = be32(&png.ihdr[0]);
  png.height = be32(&png.ihdr[4]);
  const size_t stride = png.width + 1;
  std::vector<uint8_t> raw(stride * png.height + 1);  // one spare byte: a longer stream must show up
  uLongf raw_len = static_cast<uLongf>(raw.size());
  EXPECT_EQ(uncompress(raw.data(), &raw_len, idat.data(), static_cast<uLong>(idat.size())), Z_OK);
  EXPECT_EQ(raw_len, stride * png.height);
  for (uint32_t y = 0; y < png.height; ++y) {
    EXPECT_EQ(raw[y * stride], 0) << "filter byte of row " << y;
    png.pixels.insert(png.pixels.end(), raw.begin() + static_cast<long>(y * stride + 1),
                      raw.begin() + static_cast<long>((y + 1) * stride));
  }
  return png;
}

std::string temp_dir() {
  char tmpl[] = "/tmp/nmode-sheet-XXXXXX";
  const char* d = mkdtemp(tmpl);
  EXPECT_NE(d, nullptr);
  return d ? d : "/tmp";
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") names.push_back(e->d_name);
    closedir(d);
  }
  return names;
}

TEST(ImageSheet, WritesTheExpectedGrid) {
  // Three 2×3 images, 2 per row, scale 2: tiles 4×6, 1-pixel white gaps.
  // width = 2·6 + 1 = 13, height = 2·4 + 1 = 9; the 4th cell is white.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> a = {0.0f, 1.0f, 0.5f, 0.2f, -0.3f, 1.7f};  // bytes 0 255 128 51 0 255
  const std::vector<float> b = {nan, 0.25f, 0.75f, 0.6f, 0.4f, 0.002f};  // bytes 0 64 191 153 102 1
  const std::vector<float> c = {1.0f, 1.0f, 1.0f, 0.0f, 0.0f, 0.0f};
  const std::vector<std::vector<uint8_t>> bytes = {{0, 255, 128, 51, 0, 255}, {0, 64, 191, 153, 102, 1},
                                                   {255, 255, 255, 0, 0, 0}};
  const std::string dir = temp_dir();
  const std::string path = dir + "/sheet.png";
  nmode::write_png_grid(path, {a.data(), b.data(), c.data()}, 2, 3, 2, 2);

  const Png png = read_png(path);
  ASSERT_EQ(png.width, 13u);
  ASSERT_EQ(png.height, 9u);
  EXPECT_EQ(png.ihdr[8], 8);   // bit depth
  EXPECT_EQ(png.ihdr[9], 0);   // colour type: grayscale
  EXPECT_EQ(png.ihdr[10], 0);  // compression: deflate
  EXPECT_EQ(png.ihdr[11], 0);  // filter method
  EXPECT_EQ(png.ihdr[12], 0);  // no interlace
  ASSERT_GE(png.chunk_types.size(), 3u);
  EXPECT_EQ(png.chunk_types.front(), "IHDR");
  EXPECT_EQ(png.chunk_types.back(), "IEND");

  std::vector<uint8_t> want(13 * 9, 255);
  for (int t = 0; t < 3; ++t) {
    const int x0 = (t % 2) * 7, y0 = (t / 2) * 5;  // tile width 6 + gap, tile height 4 + gap
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 6; ++x)
        want[static_cast<size_t>((y0 + y) * 13 + x0 + x)] = bytes[static_cast<size_t>(t)][static_cast<size_t>((y / 2) * 3 + x / 2)];
  }
  ASSERT_EQ(png.pixels.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_EQ(png.pixels[i], want[i]) << "pixel (" << i / 13 << ", " << i % 13 << ")";

  // Nothing but the PNG is left beside it (the temporary was renamed).
  EXPECT_EQ(list_dir(dir), std::vector<std::string>{"sheet.png"});

  // Overwriting replaces the file: one image, grid_cols larger than the count.
  nmode::write_png_grid(path, {c.data()}, 2, 3, 8, 1);
  const Png one = read_png(path);
  EXPECT_EQ(one.width, 3u);
  EXPECT_EQ(one.height, 2u);
  EXPECT_EQ(one.pixels, bytes[2]);
  std::remove(path.c_str());
  rmdir(dir.c_str());
}

TEST(ImageSheet, LargerSheetRoundTrips) {
  // 10 images of 28×28 in rows of 4, scale 3: 3 rows of tiles, exercises
  // multi-row layout and a buffer larger than zlib's small-input paths.
  std::vector<std::vector<float>> imgs(10, std::vector<float>(784));
  std::vector<const float*> ptrs;
  for (size_t t = 0; t < imgs.size(); ++t) {
    for (size_t p = 0; p < 784; ++p) imgs[t][p] = static_cast<float>((p * 7 + t * 13) % 256) / 255.0f;
    ptrs.push_back(imgs[t].data());
  }
  const std::string dir = temp_dir();
  const std::string path = dir + "/big.png";
  nmode::write_png_grid(path, ptrs, 28, 28, 4, 3);
  const Png png = read_png(path);
  const uint32_t w = 4 * 84 + 3, h = 3 * 84 + 2;
  ASSERT_EQ(png.width, w);
  ASSERT_EQ(png.height, h);
  ASSERT_EQ(png.pixels.size(), static_cast<size_t>(w) * h);
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x) {
      const uint32_t tr = y / 85, tc = x / 85, iy = y % 85, ix = x % 85;
      const size_t t = tr * 4 + tc;
      // values are k/255 exactly up to float rounding, so the byte is k
      const uint8_t expect = (iy == 84 || ix == 84 || t >= 10)
                                 ? uint8_t{255}
                                 : static_cast<uint8_t>((((iy / 3) * 28 + ix / 3) * 7 + t * 13) % 256);
      ASSERT_EQ(png.pixels[static_cast<size_t>(y) * w + x], expect) << "pixel (" << y << ", " << x << ")";
    }
  std::remove(path.c_str());
  rmdir(dir.c_str());
}

TEST(ImageSheet, Errors) {
  const std::vector<float> img(4, 0.5f);
  const std::string dir = temp_dir();
  EXPECT_THROW(nmode::write_png_grid(dir + "/no/such/dir/x.png", {img.data()}, 2, 2, 1, 1), nmode::IoError);
  EXPECT_THROW(nmode::write_png_grid(dir + "/x.png", {}, 2, 2, 1, 1), nmode::InvalidArgument);
  EXPECT_THROW(nmode::write_png_grid(dir + "/x.png", {nullptr}, 2, 2, 1, 1), nmode::InvalidArgument);
  EXPECT_THROW(nmode::write_png_grid(dir + "/x.png", {img.data()}, 2, 2, 1, 0), nmode::InvalidArgument);
  EXPECT_THROW(nmode::write_png_grid(dir + "/x.png", {img.data()}, 0, 2, 1, 1), nmode::InvalidArgument);
  EXPECT_THROW(nmode::write_png_grid(dir + "/x.png", {img.data()}, 2, 2, 0, 1), nmode::InvalidArgument);
  EXPECT_THROW(nmode::write_png_grid(dir + "/x.png", {img.data()}, 2, 2, 1, int64_t{1} << 20),
               nmode::InvalidArgument);  // 2^21 pixels a side: too large
  EXPECT_TRUE(list_dir(dir).empty());  // failures leave no temporary behind
  rmdir(dir.c_str());
}

}  // namespace
