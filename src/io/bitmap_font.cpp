// The sheets' 5×7 bitmap font: a constexpr table of the few characters labels
// and captions need, a box for any other, and drawing text with it on a Raster.
#include "io/bitmap_font.hpp"

#include <algorithm>

#include "nmode/image_sheet.hpp"

namespace nmode {
namespace {

using Glyph = std::array<uint8_t, kSheetGlyphHeight>;

struct FontEntry {
  char c;
  Glyph rows;
};

// Rows top to bottom, bit 4 = leftmost pixel; the lowercase shapes follow the
// HD44780 character ROM (descenders squeezed into the 7 rows).
constexpr FontEntry kFont[] = {
    {' ', {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000}},
    {'.', {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100}},
    {'-', {0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000}},
    {'=', {0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000}},
    {'+', {0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000}},
    {'0', {0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110}},
    {'1', {0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110}},
    {'2', {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111}},
    {'3', {0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110}},
    {'4', {0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010}},
    {'5', {0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110}},
    {'6', {0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110}},
    {'7', {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000}},
    {'8', {0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110}},
    {'9', {0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100}},
    {'a', {0b00000, 0b00000, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111}},
    {'b', {0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b11110}},
    {'c', {0b00000, 0b00000, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110}},
    {'d', {0b00001, 0b00001, 0b01101, 0b10011, 0b10001, 0b10001, 0b01111}},
    {'e', {0b00000, 0b00000, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110}},
    {'f', {0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000}},
    {'g', {0b00000, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110}},
    {'h', {0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001}},
    {'i', {0b00100, 0b00000, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110}},
    {'j', {0b00010, 0b00000, 0b00110, 0b00010, 0b00010, 0b10010, 0b01100}},
    {'k', {0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010}},
    {'l', {0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110}},
    {'m', {0b00000, 0b00000, 0b11010, 0b10101, 0b10101, 0b10001, 0b10001}},
    {'n', {0b00000, 0b00000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001}},
    {'o', {0b00000, 0b00000, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110}},
    {'p', {0b00000, 0b00000, 0b11110, 0b10001, 0b11110, 0b10000, 0b10000}},
    {'q', {0b00000, 0b00000, 0b01101, 0b10011, 0b01111, 0b00001, 0b00001}},
    {'r', {0b00000, 0b00000, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000}},
    {'s', {0b00000, 0b00000, 0b01110, 0b10000, 0b01110, 0b00001, 0b11110}},
    {'t', {0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110}},
    {'u', {0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101}},
    {'v', {0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100}},
    {'w', {0b00000, 0b00000, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010}},
    {'x', {0b00000, 0b00000, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001}},
    {'y', {0b00000, 0b00000, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110}},
    {'z', {0b00000, 0b00000, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111}},
};

constexpr Glyph kBox = {0b11111, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11111};

}  // namespace

std::string sheet_font_characters() {
  std::string s;
  for (const FontEntry& e : kFont) s += e.c;
  return s;
}

std::array<uint8_t, kSheetGlyphHeight> sheet_font_glyph(char c) {
  if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  for (const FontEntry& e : kFont)
    if (e.c == c) return e.rows;
  return kBox;
}

void draw_text(Raster& r, int64_t x, int64_t y, const std::string& text, int64_t mag,
               const std::array<uint8_t, 3>& colour, const Clip& clip) {
  const int64_t x0 = std::max<int64_t>(clip.x0, 0), x1 = std::min(clip.x1, r.width());
  const int64_t y0 = std::max<int64_t>(clip.y0, 0), y1 = std::min(clip.y1, r.height());
  const int channels = r.channels();
  for (size_t i = 0; i < text.size(); ++i) {
    const Glyph g = sheet_font_glyph(text[i]);
    const int64_t gx = x + static_cast<int64_t>(i) * (kSheetGlyphWidth + 1) * mag;
    for (int64_t py = 0; py < kSheetGlyphHeight * mag; ++py) {
      const int64_t yy = y + py;
      if (yy < y0 || yy >= y1) continue;
      for (int64_t px = 0; px < kSheetGlyphWidth * mag; ++px) {
        const int64_t xx = gx + px;
        const bool ink = (g[static_cast<size_t>(py / mag)] >> (kSheetGlyphWidth - 1 - px / mag)) & 1;
        if (xx < x0 || xx >= x1 || !ink) continue;
        uint8_t* p = r.at(xx, yy);
        for (int ch = 0; ch < channels; ++ch) p[ch] = colour[static_cast<size_t>(ch)];
      }
    }
  }
}

}  // namespace nmode
