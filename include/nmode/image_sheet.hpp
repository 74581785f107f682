// Image sheets: a grid of grayscale images written as one 8-bit PNG, so a
// person can look at clean, attacked and perturbed inputs side by side.
#pragma once

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

}  // namespace nmode
