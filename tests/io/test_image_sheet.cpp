// Tests for the image sheets: the PNG is parsed back here chunk by chunk
// (signature, IHDR fields, CRC of every chunk, inflated IDAT) and its pixels
// are compared with a layout computed independently in the test; the labelled
// SVG is checked for its tiles, escaped labels and ending; the font glyph by glyph.
#include "nmode/image_sheet.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "nmode/error.hpp"

namespace {

struct Png {
  uint32_t width = 0, height = 0;
  size_t channels = 1;
  std::vector<uint8_t> ihdr;
  std::vector<std::string> chunk_types;
  std::vector<uint8_t> pixels;  // (height, width), filter bytes removed
};

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// A strict reader for what the writers promise: 8-bit grayscale or RGB, filter 0.
Png parse_png(const std::vector<uint8_t>& b) {
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
  png.channels = png.ihdr[9] == 2 ? 3 : 1;
  const size_t stride = png.width * png.channels + 1;
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

Png read_png(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return parse_png(std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>()));
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
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

// ---- labelled sheets ----

using Rgb = std::array<uint8_t, 3>;
using Glyph = std::array<uint8_t, nmode::kSheetGlyphHeight>;
const Rgb kWhite = {255, 255, 255}, kBlack = {0, 0, 0};
const Rgb kGreen = {0x1a, 0x98, 0x50}, kRed = {0xd7, 0x30, 0x27};  // right, wrong

Rgb rgb_at(const Png& png, uint32_t x, uint32_t y) {
  const size_t at = (static_cast<size_t>(y) * png.width + x) * 3;
  return {png.pixels[at], png.pixels[at + 1], png.pixels[at + 2]};
}

uint8_t gray(float v) { return v <= 0 ? 0 : v >= 1 ? 255 : static_cast<uint8_t>(std::lround(v * 255.0f)); }

// The glyph of c drawn 2× with its top-left at (x, y): ink where a bit is set, bg elsewhere.
void expect_glyph(const Png& png, uint32_t x, uint32_t y, char c, const Rgb& ink, const Rgb& bg) {
  const auto g = nmode::sheet_font_glyph(c);
  for (uint32_t py = 0; py < 14; ++py)
    for (uint32_t px = 0; px < 10; ++px) {
      const bool on = (g[py / 2] >> (4 - px / 2)) & 1;
      ASSERT_EQ(rgb_at(png, x + px, y + py), on ? ink : bg)
          << "glyph '" << c << "' at (" << x << ", " << y << "), pixel (" << px << ", " << py << ")";
    }
}

std::vector<float> ramp(size_t n, size_t salt) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>((i * 5 + salt * 37) % 256) / 255.0f;
  return v;
}

TEST(LabelledSheet, FormatFollowsTheExtension) {
  EXPECT_EQ(nmode::sheet_format_for("out.png"), nmode::SheetFormat::Png);
  EXPECT_EQ(nmode::sheet_format_for("/tmp/a.b/OUT.PNG"), nmode::SheetFormat::Png);
  EXPECT_EQ(nmode::sheet_format_for("s.Svg"), nmode::SheetFormat::Svg);
  EXPECT_EQ(nmode::sheet_format_for("dir/S.SVG"), nmode::SheetFormat::Svg);
  for (const std::string bad : {"out.jpg", "out", "dir.png/out", "out.png.gz"}) {
    try {
      nmode::sheet_format_for(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const nmode::InvalidArgument& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(bad), std::string::npos) << m;
      EXPECT_NE(m.find(".png"), std::string::npos) << m;
      EXPECT_NE(m.find(".svg"), std::string::npos) << m;
    }
  }
  // The writer refuses before writing anything.
  const std::vector<float> img(4, 0.5f);
  const std::vector<nmode::SheetRow> rows = {{"clean", {img.data()}, {1}, {1}}};
  const std::string dir = temp_dir();
  EXPECT_THROW(nmode::write_labelled_sheet(dir + "/s.jpg", rows, 2, 2, 1), nmode::InvalidArgument);
  EXPECT_THROW(nmode::write_labelled_sheet(dir + "/sheet", rows, 2, 2, 1), nmode::InvalidArgument);
  EXPECT_TRUE(list_dir(dir).empty());
  rmdir(dir.c_str());
}

TEST(LabelledSheet, PngHasLabelsTilesAndCaptions) {
  // Images 7×14 at scale 2: tiles 28×14, as tall as the text, so labels sit at
  // the row top. Longest label 6 characters: tiles start at 4 + 6·12 + 4 = 80,
  // 30 apart; rows are 14 + 18 (caption) + 4 = 36 apart from y = 4.
  const auto a = ramp(98, 1), b = ramp(98, 2), c = ramp(98, 3);
  const std::vector<nmode::SheetRow> rows = {{"clean", {a.data(), b.data()}, {1, 2}, {1, 7}},
                                             {"blur 5", {c.data()}, {3}, {3}}};
  const std::string dir = temp_dir();
  const std::string path = dir + "/sheet.PNG";
  nmode::write_labelled_sheet(path, rows, 7, 14, 2);
  EXPECT_EQ(list_dir(dir), std::vector<std::string>{"sheet.PNG"});
  const Png png = read_png(path);
  ASSERT_EQ(png.ihdr.size(), 13u);
  EXPECT_EQ(png.ihdr[9], 2);  // RGB
  ASSERT_EQ(png.width, 80u + 2 * 30 - 2 + 4);
  ASSERT_EQ(png.height, 4u + 2 * 36);
  ASSERT_EQ(png.pixels.size(), size_t{png.width} * png.height * 3);

  // The row labels, glyph by glyph, black on white.
  for (size_t i = 0; i < 5; ++i) expect_glyph(png, 4 + 12 * static_cast<uint32_t>(i), 4, "clean"[i], kBlack, kWhite);
  for (size_t i = 0; i < 6; ++i) expect_glyph(png, 4 + 12 * static_cast<uint32_t>(i), 40, "blur 5"[i], kBlack, kWhite);
  // The tiles, magnified 2×, gray.
  const std::vector<std::pair<const std::vector<float>*, std::pair<uint32_t, uint32_t>>> tiles = {
      {&a, {80, 4}}, {&b, {110, 4}}, {&c, {80, 40}}};
  for (const auto& [img, at] : tiles)
    for (uint32_t y = 0; y < 14; ++y)
      for (uint32_t x = 0; x < 28; ++x) {
        const uint8_t v = gray((*img)[(y / 2) * 14 + x / 2]);
        ASSERT_EQ(rgb_at(png, at.first + x, at.second + y), (Rgb{v, v, v}))
            << "tile at " << at.first << ", " << at.second << ", pixel (" << x << ", " << y << ")";
      }
  // Captions: right ones green with the class and nothing at the right end;
  // wrong ones red with the class and an "x" at the right end.
  expect_glyph(png, 82, 20, '1', kWhite, kGreen);
  expect_glyph(png, 96, 20, ' ', kWhite, kGreen);
  expect_glyph(png, 112, 20, '2', kWhite, kRed);
  expect_glyph(png, 110 + 28 - 2 - 10, 20, 'x', kWhite, kRed);
  expect_glyph(png, 82, 56, '3', kWhite, kGreen);
  for (uint32_t x = 0; x < 28; ++x) {
    EXPECT_EQ(rgb_at(png, 80 + x, 18), kGreen);
    EXPECT_EQ(rgb_at(png, 110 + x, 35), kRed);
  }
  // The empty cell (row 1, column 1) and the gaps stay white.
  for (uint32_t y = 40; y < 72; ++y)
    for (uint32_t x = 108; x < png.width; ++x) ASSERT_EQ(rgb_at(png, x, y), kWhite) << x << ", " << y;
  for (uint32_t y = 0; y < png.height; ++y) {
    EXPECT_EQ(rgb_at(png, 108, y), kWhite);
    EXPECT_EQ(rgb_at(png, 109, y), kWhite);
  }
  std::remove(path.c_str());
  rmdir(dir.c_str());
}

TEST(LabelledSheet, TallTilesCentreTheirLabel) {
  // Tiles 28 high: the 14-pixel label starts (28 - 14) / 2 = 7 below the row top.
  const auto a = ramp(28 * 28, 4);
  const std::vector<nmode::SheetRow> rows = {{"7", {a.data()}, {7}, {7}}};
  const std::string dir = temp_dir();
  nmode::write_labelled_sheet(dir + "/t.png", rows, 28, 28, 1);
  const Png png = read_png(dir + "/t.png");
  ASSERT_EQ(png.width, 4u + 12 + 4 + 28 + 4);
  ASSERT_EQ(png.height, 4u + 28 + 18 + 4);
  expect_glyph(png, 4, 4 + 7, '7', kBlack, kWhite);
  std::remove((dir + "/t.png").c_str());
  rmdir(dir.c_str());
}

std::vector<uint8_t> unbase64(const std::string& s) {
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : s) {
    const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (ch == '=') break;
    const char* p = std::strchr(digits, ch);
    if (p == nullptr || ch == '\0') {
      ADD_FAILURE() << "not base64: '" << ch << "'";
      return out;
    }
    acc = (acc << 6) | static_cast<uint32_t>(p - digits);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  return out;
}

// Enough of XML to catch a broken file: tags nest and close, attribute values
// are quoted, and every '&' starts one of the five predefined entities.
void expect_well_formed(const std::string& x) {
  std::vector<std::string> open;
  for (size_t at = 0; at < x.size(); ++at) {
    if (x[at] == '&') {
      bool known = false;
      for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"})
        known |= x.compare(at, std::strlen(e), e) == 0;
      ASSERT_TRUE(known) << "bare & at " << at;
    }
    if (x[at] != '<') continue;
    if (x.compare(at, 2, "<?") == 0) {
      at = x.find("?>", at);
      ASSERT_NE(at, std::string::npos);
      continue;
    }
    size_t end = at + 1;
    for (char quote = 0; end < x.size() && (quote || x[end] != '>'); ++end)
      if (x[end] == '"') quote = quote ? 0 : '"';
    ASSERT_LT(end, x.size()) << "unclosed tag at " << at;
    const std::string tag = x.substr(at + 1, end - at - 1);
    const std::string name = tag.substr(tag[0] == '/', tag.find_first_of(" />", 1) - (tag[0] == '/'));
    ASSERT_FALSE(name.empty() || name.find('<') != std::string::npos) << "bad tag <" << tag << ">";
    if (tag[0] == '/') {
      ASSERT_FALSE(open.empty()) << "</" << name << "> closes nothing";
      ASSERT_EQ(open.back(), name);
      open.pop_back();
    } else if (tag.back() != '/') {
      open.push_back(name);
    }
    at = end;
  }
  EXPECT_TRUE(open.empty()) << open.size() << " elements left open";
}

TEST(LabelledSheet, SvgEmbedsPngTilesAndEscapesLabels) {
  const auto a = ramp(6, 1), b = ramp(6, 2), c = ramp(6, 3);
  const std::vector<nmode::SheetRow> rows = {{"a<b & \"c\"", {a.data(), b.data()}, {4, 5}, {4, 9}},
                                             {"noise 0.3", {c.data()}, {0}, {0}}};
  const std::string dir = temp_dir();
  const std::string path = dir + "/s.svg";
  nmode::write_labelled_sheet(path, rows, 2, 3, 4);
  EXPECT_EQ(list_dir(dir), std::vector<std::string>{"s.svg"});
  const std::string svg = read_text(path);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  ASSERT_GE(svg.size(), 7u);
  EXPECT_EQ(svg.substr(svg.find_last_not_of("\n") - 5, 6), "</svg>");
  expect_well_formed(svg);
  EXPECT_EQ(count_of(svg, "<image "), 3u);
  EXPECT_EQ(count_of(svg, "data:image/png;base64,"), 3u);
  EXPECT_NE(svg.find(">a&lt;b &amp; &quot;c&quot;</text>"), std::string::npos);
  EXPECT_EQ(svg.find("a<b"), std::string::npos);
  EXPECT_NE(svg.find(">noise 0.3</text>"), std::string::npos);
  EXPECT_EQ(count_of(svg, "fill=\"#d73027\""), 1u);  // the one wrong tile
  EXPECT_EQ(count_of(svg, "fill=\"#1a9850\""), 2u);
  EXPECT_NE(svg.find("<title>predicted 5, true 9</title>"), std::string::npos);

  // Each tile is a PNG of the image at its own size, in order.
  const std::vector<const std::vector<float>*> imgs = {&a, &b, &c};
  size_t at = 0;
  for (const auto* img : imgs) {
    at = svg.find("data:image/png;base64,", at);
    ASSERT_NE(at, std::string::npos);
    at += std::strlen("data:image/png;base64,");
    const Png tile = parse_png(unbase64(svg.substr(at, svg.find('"', at) - at)));
    ASSERT_EQ(tile.width, 3u);
    ASSERT_EQ(tile.height, 2u);
    EXPECT_EQ(tile.ihdr[9], 0);  // grayscale
    for (size_t i = 0; i < 6; ++i) EXPECT_EQ(tile.pixels[i], gray((*img)[i]));
  }
  std::remove(path.c_str());
  rmdir(dir.c_str());
}

TEST(LabelledSheet, Errors) {
  const std::vector<float> img(4, 0.5f);
  const std::string dir = temp_dir();
  const std::string png = dir + "/x.png";
  using Rows = std::vector<nmode::SheetRow>;
  EXPECT_THROW(nmode::write_labelled_sheet(dir + "/no/such/dir/x.svg", Rows{{"a", {img.data()}, {1}, {1}}}, 2, 2, 1),
               nmode::IoError);
  EXPECT_THROW(nmode::write_labelled_sheet(png, Rows{}, 2, 2, 1), nmode::InvalidArgument);
  EXPECT_THROW(nmode::write_labelled_sheet(png, Rows{{"a", {nullptr}, {1}, {1}}}, 2, 2, 1), nmode::InvalidArgument);
  EXPECT_THROW(nmode::write_labelled_sheet(png, Rows{{"a", {img.data()}, {}, {1}}}, 2, 2, 1), nmode::InvalidArgument);
  EXPECT_THROW(nmode::write_labelled_sheet(png, Rows{{"a", {img.data()}, {1}, {1, 2}}}, 2, 2, 1),
               nmode::InvalidArgument);
  EXPECT_THROW(nmode::write_labelled_sheet(png, Rows{{"a", {img.data()}, {1}, {1}}}, 2, 2, 0), nmode::InvalidArgument);
  EXPECT_THROW(nmode::write_labelled_sheet(png, Rows{{"a", {img.data()}, {1}, {1}}}, 0, 2, 1), nmode::InvalidArgument);
  EXPECT_THROW(nmode::write_labelled_sheet(png, Rows{{"a", {img.data()}, {1}, {1}}}, 2, 2, int64_t{1} << 20),
               nmode::InvalidArgument);  // too large for one PNG
  EXPECT_THROW(nmode::write_labelled_sheet(png, Rows{{"a", {img.data()}, {1}, {1}}}, 2, 2, int64_t{1} << 40),
               nmode::InvalidArgument);  // the sides alone overflow
  EXPECT_TRUE(list_dir(dir).empty());  // failures leave no temporary behind
  rmdir(dir.c_str());
}

TEST(SheetFont, EveryClaimedCharacterHasItsOwnGlyph) {
  const Glyph box = {0b11111, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11111};
  const std::string chars = nmode::sheet_font_characters();
  for (char c : std::string("0123456789abcdefghijklmnopqrstuvwxyz .-=+"))
    EXPECT_NE(chars.find(c), std::string::npos) << "'" << c << "' is missing";
  std::set<Glyph> seen;
  for (char c : chars) {
    const auto g = nmode::sheet_font_glyph(c);
    EXPECT_NE(g, box) << "'" << c << "' is drawn as the unknown-character box";
    for (uint8_t row : g) EXPECT_LT(row, 32) << "'" << c << "' is wider than 5 pixels";
    EXPECT_TRUE(seen.insert(g).second) << "'" << c << "' looks like another character";
    EXPECT_EQ(g == Glyph{}, c == ' ') << "'" << c << "': only space is blank";
  }
  EXPECT_EQ(nmode::sheet_font_glyph('A'), nmode::sheet_font_glyph('a'));
  EXPECT_EQ(nmode::sheet_font_glyph('Z'), nmode::sheet_font_glyph('z'));
  for (char c : {'#', '<', '&', '\0', '\n', static_cast<char>(0xE9)})
    EXPECT_EQ(nmode::sheet_font_glyph(c), box) << "character " << int(c);
}

TEST(SheetFont, UnknownCharactersShowAsABox) {
  const std::vector<float> img(4, 1.0f);
  const std::string dir = temp_dir();
  nmode::write_labelled_sheet(dir + "/box.png", {{"#", {img.data()}, {0}, {0}}}, 2, 2, 1);
  const Png png = read_png(dir + "/box.png");
  ASSERT_EQ(png.width, 4u + 12 + 4 + 2 + 4);
  ASSERT_EQ(png.height, 4u + 2 + 18 + 4);
  expect_glyph(png, 4, 4, '#', kBlack, kWhite);
  EXPECT_EQ(rgb_at(png, 4, 4), kBlack);     // the box's corners
  EXPECT_EQ(rgb_at(png, 13, 17), kBlack);
  EXPECT_EQ(rgb_at(png, 8, 10), kWhite);    // and its hollow middle
  std::remove((dir + "/box.png").c_str());
  rmdir(dir.c_str());
}

}  // namespace
