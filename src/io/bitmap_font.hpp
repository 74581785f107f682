// Text on a Raster in the sheets' built-in 5×7 font (glyphs: sheet_font_glyph in
// nmode/image_sheet.hpp), so PNG labels need neither font files nor a library.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "io/png_encode.hpp"

namespace nmode {

// The rectangle [x0, x1) × [y0, y1) that drawing may touch.
struct Clip {
  int64_t x0, y0, x1, y1;
};

// Draws text with its top-left corner at (x, y), each font pixel as mag×mag
// raster pixels, (6 × mag) pixels per character, in colour (one byte per
// channel; the raster's channel count is used). Pixels outside clip (and the
// raster) are left alone, so a caption never spills into its neighbour.
void draw_text(Raster& r, int64_t x, int64_t y, const std::string& text, int64_t mag,
               const std::array<uint8_t, 3>& colour, const Clip& clip);

}  // namespace nmode
