// The image sheets' entry points: the plain PNG grid, the choice of format by
// extension, and the checks and layout of a labelled sheet before it is
// rendered (image_sheet_png.cpp, image_sheet_svg.cpp) and written atomically.
#include "nmode/image_sheet.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <limits>

#include "core/numbers.hpp"
#include "io/atomic_file.hpp"
#include "io/labelled_sheet.hpp"
#include "io/png_encode.hpp"
#include "nmode/error.hpp"

namespace nmode {
namespace {

constexpr uint8_t kGap = 255;

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void check_row(const char* who, const SheetRow& row, size_t r) {
  const std::string name = std::string(who) + ": rows[" + std::to_string(r) + "]";
  if (row.predicted.size() != row.images.size() || row.truth.size() != row.images.size())
    throw InvalidArgument(name + " has " + std::to_string(row.images.size()) + " images but " +
                          std::to_string(row.predicted.size()) + " predicted and " + std::to_string(row.truth.size()) +
                          " true classes; give one of each per image");
  for (size_t i = 0; i < row.images.size(); ++i)
    if (row.images[i] == nullptr) throw InvalidArgument(name + ".images[" + std::to_string(i) + "] is null");
}

}  // namespace

void write_png_grid(const std::string& path, const std::vector<const float*>& images, int64_t rows, int64_t cols,
                    int64_t grid_cols, int64_t scale) {
  if (images.empty()) throw InvalidArgument("write_png_grid: images is empty; pass at least one image");
  for (size_t i = 0; i < images.size(); ++i)
    if (images[i] == nullptr) throw InvalidArgument("write_png_grid: images[" + std::to_string(i) + "] is null");
  if (rows < 1 || cols < 1 || grid_cols < 1 || scale < 1)
    throw InvalidArgument("write_png_grid: rows, cols, grid_cols and scale must be >= 1, got rows = " +
                          std::to_string(rows) + ", cols = " + std::to_string(cols) + ", grid_cols = " +
                          std::to_string(grid_cols) + ", scale = " + std::to_string(scale));
  const int64_t count = static_cast<int64_t>(images.size());
  const int64_t gc = std::min(grid_cols, count);
  const int64_t gr = ceil_div(count, gc);
  const int64_t tile_h = rows * scale, tile_w = cols * scale;
  Raster sheet("write_png_grid", gc * tile_w + (gc - 1), gr * tile_h + (gr - 1), 1, kGap);
  for (int64_t t = 0; t < count; ++t) {
    const int64_t x0 = (t % gc) * (tile_w + 1), y0 = (t / gc) * (tile_h + 1);
    const float* img = images[static_cast<size_t>(t)];
    for (int64_t y = 0; y < tile_h; ++y) {
      uint8_t* line = sheet.at(x0, y0 + y);
      const float* src = img + (y / scale) * cols;
      for (int64_t x = 0; x < tile_w; ++x) line[x] = gray_byte(src[x / scale]);
    }
  }
  const std::vector<uint8_t> png = encode_png(sheet, path);
  write_file_atomically(path, png.data(), png.size());
}

SheetFormat sheet_format_for(const std::string& path) {
  const std::string ext = lowercase(std::filesystem::path(path).extension().string());
  if (ext == ".png") return SheetFormat::Png;
  if (ext == ".svg") return SheetFormat::Svg;
  const std::string what = ext.empty() ? "has no extension to pick the sheet format"
                                       : "has the extension '" + ext + "', which is no sheet format";
  throw InvalidArgument(path + " " + what +
                        "; end the name in .png (an image) or .svg (a vector sheet with embedded PNG tiles)");
}

SheetLayout layout_sheet(const char* who, const std::vector<SheetRow>& rows, int64_t image_rows, int64_t image_cols,
                         int64_t scale) {
  if (rows.empty()) throw InvalidArgument(std::string(who) + ": rows is empty; pass at least one row");
  if (image_rows < 1 || image_cols < 1 || scale < 1)
    throw InvalidArgument(std::string(who) + ": image_rows, image_cols and scale must be >= 1, got " +
                          std::to_string(image_rows) + ", " + std::to_string(image_cols) + ", " +
                          std::to_string(scale));
  size_t longest = 0, columns = 1;
  for (size_t r = 0; r < rows.size(); ++r) {
    check_row(who, rows[r], r);
    longest = std::max(longest, rows[r].label.size());
    columns = std::max(columns, rows[r].images.size());
  }
  // Bounded here, the sums and products below cannot overflow; Raster then
  // applies the real limit of a PNG.
  constexpr int64_t kSide = std::numeric_limits<int32_t>::max();
  if (image_rows > kSide / scale || image_cols > kSide / scale || longest > (size_t{1} << 20) ||
      columns > (size_t{1} << 20))
    throw InvalidArgument(std::string(who) + ": a sheet of " + std::to_string(columns) + " tiles of " +
                          std::to_string(image_rows) + "x" + std::to_string(image_cols) + " at scale " +
                          std::to_string(scale) + " is too large; lower scale or split the images over several sheets");
  SheetLayout l;
  l.image_rows = image_rows, l.image_cols = image_cols, l.scale = scale;
  l.tile_w = image_cols * scale, l.tile_h = image_rows * scale;
  l.label_w = 2 * kSheetMargin + static_cast<int64_t>(longest) * kSheetAdvance;
  l.columns = static_cast<int64_t>(columns);
  l.width = l.tile_left(columns) - kSheetTileGap + kSheetMargin;
  l.height = l.row_top(rows.size());
  return l;
}

void write_labelled_sheet(const std::string& path, const std::vector<SheetRow>& rows, int64_t image_rows,
                          int64_t image_cols, int64_t scale) {
  const SheetFormat format = sheet_format_for(path);
  const SheetLayout layout = layout_sheet("write_labelled_sheet", rows, image_rows, image_cols, scale);
  if (format == SheetFormat::Png) {
    const std::vector<uint8_t> png = render_sheet_png(rows, layout, path);
    write_file_atomically(path, png.data(), png.size());
  } else {
    const std::string svg = render_sheet_svg(rows, layout, path);
    write_file_atomically(path, svg.data(), svg.size());
  }
}

}  // namespace nmode
