// A labelled sheet as an RGB PNG: grayscale tiles, row labels and per-tile
// prediction captions drawn with the built-in bitmap font.
#include <array>

#include "io/bitmap_font.hpp"
#include "io/labelled_sheet.hpp"
#include "io/png_encode.hpp"

namespace nmode {
namespace {

constexpr std::array<uint8_t, 3> kBlack = {0, 0, 0}, kWhite = {255, 255, 255};

void fill(Raster& r, const Clip& box, const std::array<uint8_t, 3>& colour) {
  for (int64_t y = box.y0; y < box.y1; ++y)
    for (int64_t x = box.x0; x < box.x1; ++x) {
      uint8_t* p = r.at(x, y);
      p[0] = colour[0], p[1] = colour[1], p[2] = colour[2];
    }
}

void draw_tile(Raster& r, const SheetLayout& l, int64_t x0, int64_t y0, const float* img) {
  for (int64_t y = 0; y < l.tile_h; ++y) {
    const float* src = img + (y / l.scale) * l.image_cols;
    for (int64_t x = 0; x < l.tile_w; ++x) {
      uint8_t* p = r.at(x0 + x, y0 + y);
      p[0] = p[1] = p[2] = gray_byte(src[x / l.scale]);
    }
  }
}

// The strip under a tile: green or red, the predicted class at the left and,
// when wrong, an "x" at the right end.
void draw_caption(Raster& r, const SheetLayout& l, int64_t x0, int64_t y0, int predicted, bool right) {
  const Clip strip{x0, y0, x0 + l.tile_w, y0 + kSheetCaptionHeight};
  fill(r, strip, right ? kSheetRight : kSheetWrong);
  const int64_t ty = y0 + kSheetCaptionPad;
  draw_text(r, x0 + kSheetCaptionPad, ty, sheet_caption(predicted), kSheetTextMag, kWhite, strip);
  if (!right)
    draw_text(r, strip.x1 - kSheetCaptionPad - kSheetGlyphWidth * kSheetTextMag, ty, "x", kSheetTextMag, kWhite, strip);
}

}  // namespace

std::vector<uint8_t> render_sheet_png(const std::vector<SheetRow>& rows, const SheetLayout& l,
                                      const std::string& path) {
  Raster r("write_labelled_sheet", l.width, l.height, 3, 255);
  const Clip labels{0, 0, l.label_w - kSheetMargin, l.height};
  for (size_t i = 0; i < rows.size(); ++i) {
    const SheetRow& row = rows[i];
    draw_text(r, kSheetMargin, l.label_top(i), row.label, kSheetTextMag, kBlack, labels);
    for (size_t t = 0; t < row.images.size(); ++t) {
      const int64_t x0 = l.tile_left(t), y0 = l.row_top(i);
      draw_tile(r, l, x0, y0, row.images[t]);
      draw_caption(r, l, x0, y0 + l.tile_h, row.predicted[t], row.predicted[t] == row.truth[t]);
    }
  }
  return encode_png(r, path);
}

}  // namespace nmode
