// The geometry of a labelled sheet (documented at write_labelled_sheet), shared
// by its PNG and SVG renderers so both formats place everything alike.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "nmode/image_sheet.hpp"

namespace nmode {

constexpr int64_t kSheetTextMag = 2;                                   // font pixel -> sheet pixels
constexpr int64_t kSheetAdvance = (kSheetGlyphWidth + 1) * kSheetTextMag;  // per character
constexpr int64_t kSheetTextHeight = kSheetGlyphHeight * kSheetTextMag;
constexpr int64_t kSheetMargin = 4, kSheetTileGap = 2, kSheetCaptionPad = 2;
constexpr int64_t kSheetCaptionHeight = kSheetTextHeight + 2 * kSheetCaptionPad;

constexpr std::array<uint8_t, 3> kSheetRight = {0x1a, 0x98, 0x50}, kSheetWrong = {0xd7, 0x30, 0x27};
constexpr const char* kSheetRightHex = "#1a9850";
constexpr const char* kSheetWrongHex = "#d73027";

struct SheetLayout {
  int64_t image_rows = 0, image_cols = 0, scale = 0;
  int64_t tile_w = 0, tile_h = 0;  // an image magnified
  int64_t label_w = 0;             // the label column, margins included
  int64_t columns = 0;             // tiles in the longest row (at least 1)
  int64_t width = 0, height = 0;

  int64_t row_top(size_t r) const {
    return kSheetMargin + static_cast<int64_t>(r) * (tile_h + kSheetCaptionHeight + kSheetMargin);
  }
  int64_t tile_left(size_t c) const { return label_w + static_cast<int64_t>(c) * (tile_w + kSheetTileGap); }
  int64_t label_top(size_t r) const {
    return row_top(r) + (tile_h > kSheetTextHeight ? (tile_h - kSheetTextHeight) / 2 : 0);
  }
};

// Validates rows and sizes (InvalidArgument naming `who` and the fix) and lays them out.
SheetLayout layout_sheet(const char* who, const std::vector<SheetRow>& rows, int64_t image_rows, int64_t image_cols,
                         int64_t scale);

// The caption of a tile: its predicted class.
inline std::string sheet_caption(int predicted) { return std::to_string(predicted); }

// The complete files, in memory; path only names the file in errors.
std::vector<uint8_t> render_sheet_png(const std::vector<SheetRow>& rows, const SheetLayout& layout,
                                      const std::string& path);
std::string render_sheet_svg(const std::vector<SheetRow>& rows, const SheetLayout& layout, const std::string& path);

}  // namespace nmode
