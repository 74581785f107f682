// 8-bit images held as PNG scanlines, and their encoding as a PNG file in
// memory: the one PNG encoder of the sheets (grid, labelled, SVG tiles).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nmode {

// Pixels of `channels` bytes (1: gray, 3: RGB), stored with the filter byte (0,
// None) PNG puts before every row, so encoding compresses the buffer as it is.
class Raster {
 public:
  // Throws InvalidArgument, the message starting with `who`, when the image
  // would exceed PNG's 31-bit sides or 1 GiB of raw bytes (lower the scale).
  Raster(const char* who, int64_t width, int64_t height, int channels, uint8_t fill);

  int64_t width() const { return width_; }
  int64_t height() const { return height_; }
  int channels() const { return channels_; }
  // The first byte of pixel (x, y); the caller keeps 0 <= x < width, 0 <= y < height.
  uint8_t* at(int64_t x, int64_t y) { return &raw_[static_cast<size_t>(y * stride_ + 1 + x * channels_)]; }
  const std::vector<uint8_t>& scanlines() const { return raw_; }

 private:
  int64_t width_, height_, stride_;
  int channels_;
  std::vector<uint8_t> raw_;
};

// A complete PNG file (signature, IHDR, one zlib IDAT, IEND). Throws IoError
// naming path when zlib fails.
std::vector<uint8_t> encode_png(const Raster& image, const std::string& path);

// An image value as a byte: [0, 1] to 0..255, clamped, NaN as 0 (black).
uint8_t gray_byte(float v);

}  // namespace nmode
