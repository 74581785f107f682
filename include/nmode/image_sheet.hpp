// Image sheets: grids of grayscale images, so a person can look at clean,
// attacked and perturbed inputs side by side: a plain PNG grid, and a labelled
// sheet (row labels, each tile's predicted class) as PNG or SVG.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace nmode {

// images: each points to rows*cols floats (row-major, 0 = black, 1 = white;
// values are clamped to [0, 1] and NaN is drawn black). Tiles are laid out
// left to right, top to bottom, min(grid_cols, images.size()) per row, each
// pixel magnified to scale×scale, with a 1-pixel white gap between tiles
// (empty cells of the last row are white too). The file is written to a
// temporary name beside path and renamed, so readers never see half a PNG.
// Throws InvalidArgument for empty or null images and sizes < 1, IoError when
// the file cannot be written.
void write_png_grid(const std::string& path, const std::vector<const float*>& images, int64_t rows, int64_t cols,
                    int64_t grid_cols, int64_t scale);

enum class SheetFormat { Png, Svg };

// The format a sheet path asks for, from its extension in any case: ".png" or
// ".svg". Anything else, or no extension, throws InvalidArgument naming the path
// and the two accepted extensions; callers check it before any work.
SheetFormat sheet_format_for(const std::string& path);

// One row of a labelled sheet: its label and its tiles, each with the class
// the model predicted and the true class (drawn as correct when they are equal).
struct SheetRow {
  std::string label;
  std::vector<const float*> images;  // each image_rows*image_cols floats, as for write_png_grid
  std::vector<int> predicted;        // one per image
  std::vector<int> truth;            // one per image
};

// Writes rows as a labelled sheet, in the format of path's extension
// (sheet_format_for), atomically as write_png_grid does. The geometry, in PNG
// pixels and SVG user units alike (M = 2, the font's magnification):
//   - a 4-pixel white margin around everything, 4 pixels between rows;
//   - on the left, each row's label, left-aligned at x = 4, in the built-in 5×7
//     font drawn M× (12 pixels per character), black, its top at
//     max(0, (tile height - 14) / 2) below the row's top (centred on the tiles);
//   - then the row's tiles, image pixels magnified scale×, 2 pixels apart, the
//     first one at x = 4 + 12 × (longest label) + 4;
//   - under each tile a caption strip of 18 pixels, as wide as the tile: green
//     (#1a9850) when predicted == truth, red (#d73027) when not, showing the
//     predicted class in white at its left and, when wrong, a white "x" at its
//     right end (so the mark does not depend on telling colours apart).
// The PNG is 8-bit RGB. The SVG embeds each tile as a PNG of the image at its
// own resolution (a data: URI, base64), magnified by the viewer without
// smoothing, with a tooltip naming the predicted and true class; the labels and
// captions are <text>, XML-escaped. Throws InvalidArgument for a bad extension,
// no rows, sizes < 1, a null image, predicted or truth of another length than
// images, or a sheet too large for one PNG; IoError when the file cannot be written.
void write_labelled_sheet(const std::string& path, const std::vector<SheetRow>& rows, int64_t image_rows,
                          int64_t image_cols, int64_t scale);

// The built-in font of PNG labels (a sheet needs no font files). The characters
// with a glyph of their own: digits, lowercase letters, space, '.', '-', '=',
// '+'; uppercase letters are drawn with the lowercase glyphs.
std::string sheet_font_characters();

constexpr int kSheetGlyphWidth = 5, kSheetGlyphHeight = 7;
// c's glyph as kSheetGlyphHeight rows, top first, of kSheetGlyphWidth bits (bit 4
// is the leftmost pixel). Any character outside the font gets a hollow box, so a
// label never silently loses a character.
std::array<uint8_t, kSheetGlyphHeight> sheet_font_glyph(char c);

}  // namespace nmode
