// A minimal PNG writer (8-bit grayscale, no interlace, filter 0 on every row,
// zlib-compressed IDAT) for sheets of images, written atomically.
#include "nmode/image_sheet.hpp"

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include <unistd.h>

#include "core/numbers.hpp"
#include "io/atomic_file.hpp"
#include "nmode/error.hpp"

namespace nmode {
namespace {

constexpr uint8_t kGap = 255;

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

// A chunk is length, type, data, and the CRC-32 of type + data (PNG spec §5.3).
void put_chunk(std::vector<uint8_t>& out, const char type[4], const std::vector<uint8_t>& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const size_t type_at = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), out.data() + type_at, static_cast<uInt>(4 + data.size()));
  put_u32(out, static_cast<uint32_t>(crc));
}

uint8_t to_byte(float v) {
  if (!(v > 0.0f)) return 0;  // also NaN
  if (v >= 1.0f) return 255;
  return static_cast<uint8_t>(std::lround(static_cast<double>(v) * 255.0));
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
  const int64_t height = gr * tile_h + (gr - 1), width = gc * tile_w + (gc - 1);
  // PNG dimensions are 31-bit; the 1 GiB cap keeps the raw buffer sane.
  if (width > std::numeric_limits<int32_t>::max() || height > std::numeric_limits<int32_t>::max() ||
      (width + 1) * height > (int64_t{1} << 30))
    throw InvalidArgument("write_png_grid: sheet of " + std::to_string(width) + "x" + std::to_string(height) +
                          " pixels is too large; lower scale or split the images over several sheets");

  // Raw scanlines: one filter byte (0 = None) before each row of pixels.
  const int64_t stride = width + 1;
  std::vector<uint8_t> raw(static_cast<size_t>(stride * height), kGap);
  for (int64_t y = 0; y < height; ++y) raw[static_cast<size_t>(y * stride)] = 0;
  for (int64_t t = 0; t < count; ++t) {
    const int64_t x0 = (t % gc) * (tile_w + 1), y0 = (t / gc) * (tile_h + 1);
    const float* img = images[static_cast<size_t>(t)];
    for (int64_t y = 0; y < tile_h; ++y) {
      uint8_t* line = raw.data() + (y0 + y) * stride + 1 + x0;
      const float* src = img + (y / scale) * cols;
      for (int64_t x = 0; x < tile_w; ++x) line[x] = to_byte(src[x / scale]);
    }
  }

  uLongf zlen = compressBound(static_cast<uLong>(raw.size()));
  std::vector<uint8_t> z(static_cast<size_t>(zlen));
  if (compress2(z.data(), &zlen, raw.data(), static_cast<uLong>(raw.size()), Z_BEST_COMPRESSION) != Z_OK)
    throw IoError("write_png_grid: zlib compression failed for " + path);
  z.resize(static_cast<size_t>(zlen));

  std::vector<uint8_t> ihdr;
  put_u32(ihdr, static_cast<uint32_t>(width));
  put_u32(ihdr, static_cast<uint32_t>(height));
  ihdr.insert(ihdr.end(), {8, 0, 0, 0, 0});  // bit depth 8, grayscale, deflate, filter set 0, no interlace

  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  put_chunk(png, "IHDR", ihdr);
  put_chunk(png, "IDAT", z);
  put_chunk(png, "IEND", {});
  write_file_atomically(path, png.data(), png.size());
}

}  // namespace nmode
