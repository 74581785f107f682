// The PNG encoder: raw scanlines compressed by zlib into one IDAT, each chunk
// with its CRC (PNG spec §5.3); no interlace, filter 0 on every row.
#include "io/png_encode.hpp"

#include <zlib.h>

#include <cmath>
#include <limits>

#include "nmode/error.hpp"

namespace nmode {
namespace {

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

// A chunk is length, type, data, and the CRC-32 of type + data.
void put_chunk(std::vector<uint8_t>& out, const char type[4], const std::vector<uint8_t>& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const size_t type_at = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), out.data() + type_at, static_cast<uInt>(4 + data.size()));
  put_u32(out, static_cast<uint32_t>(crc));
}

}  // namespace

Raster::Raster(const char* who, int64_t width, int64_t height, int channels, uint8_t fill)
    : width_(width), height_(height), stride_(0), channels_(channels) {
  // PNG dimensions are 31-bit; the 1 GiB cap keeps the raw buffer sane. The
  // sides are checked first so that the product cannot overflow.
  constexpr int64_t kSide = std::numeric_limits<int32_t>::max(), kBytes = int64_t{1} << 30;
  if (width > kSide || height > kSide || (width * channels + 1) > kBytes / height)
    throw InvalidArgument(std::string(who) + ": sheet of " + std::to_string(width) + "x" + std::to_string(height) +
                          " pixels is too large; lower scale or split the images over several sheets");
  stride_ = width * channels + 1;
  raw_.assign(static_cast<size_t>(stride_ * height), fill);
  for (int64_t y = 0; y < height; ++y) raw_[static_cast<size_t>(y * stride_)] = 0;
}

std::vector<uint8_t> encode_png(const Raster& image, const std::string& path) {
  const std::vector<uint8_t>& raw = image.scanlines();
  uLongf zlen = compressBound(static_cast<uLong>(raw.size()));
  std::vector<uint8_t> z(static_cast<size_t>(zlen));
  if (compress2(z.data(), &zlen, raw.data(), static_cast<uLong>(raw.size()), Z_BEST_COMPRESSION) != Z_OK)
    throw IoError("PNG encoding: zlib compression failed for " + path);
  z.resize(static_cast<size_t>(zlen));

  std::vector<uint8_t> ihdr;
  put_u32(ihdr, static_cast<uint32_t>(image.width()));
  put_u32(ihdr, static_cast<uint32_t>(image.height()));
  const uint8_t colour_type = image.channels() == 3 ? 2 : 0;  // RGB or grayscale
  ihdr.insert(ihdr.end(), {8, colour_type, 0, 0, 0});         // bit depth 8, deflate, filter set 0, no interlace

  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  put_chunk(png, "IHDR", ihdr);
  put_chunk(png, "IDAT", z);
  put_chunk(png, "IEND", {});
  return png;
}

uint8_t gray_byte(float v) {
  if (!(v > 0.0f)) return 0;  // also NaN
  if (v >= 1.0f) return 255;
  return static_cast<uint8_t>(std::lround(static_cast<double>(v) * 255.0));
}

}  // namespace nmode
