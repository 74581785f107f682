// IDX reader: parses and validates the header, then reads the unsigned-byte
// payload. Gzip files are inflated as a stream, so a header that lies about its
// size cannot make the reader allocate more than the file really holds.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "nmode/error.hpp"
#include "nmode/idx.hpp"

namespace nmode {
namespace {

// Far above MNIST (47 M) and small enough that a float copy stays addressable.
constexpr uint64_t kMaxElements = uint64_t{1} << 31;
constexpr size_t kInputChunk = size_t{1} << 16;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw IoError("IDX file '" + path + "': " + what);
}

std::string hex_byte(unsigned value) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", value & 0xFFu);
  return buf;
}

std::string dims_string(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + std::to_string(dims[i]);
  return s;
}

const char* idx_type_name(unsigned code) {
  switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "not an IDX type";
  }
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// The file's bytes, decompressed when it is gzip.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes; returns fewer only at the end of the data.
  virtual size_t read(uint8_t* dst, size_t n) = 0;
};

class RawSource : public ByteSource {
 public:
  RawSource(std::FILE* file, const std::string& path) : file_(file), path_(path) {}

  size_t read(uint8_t* dst, size_t n) override {
    const size_t got = std::fread(dst, 1, n, file_);
    if (got < n && std::ferror(file_)) fail(path_, std::string("read error: ") + std::strerror(errno));
    return got;
  }

 private:
  std::FILE* file_;
  const std::string& path_;
};

class GzipSource : public ByteSource {
 public:
  GzipSource(std::FILE* file, const std::string& path) : file_(file), path_(path), in_(kInputChunk) {
    // 16 + MAX_WBITS: gzip wrapper only, with its CRC-32 and length checked.
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) fail(path_, "cannot initialise zlib");
  }
  ~GzipSource() override { inflateEnd(&zs_); }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  size_t read(uint8_t* dst, size_t n) override {
    size_t total = 0;
    while (total < n) {  // avail_out is 32-bit
      const size_t want = std::min(n - total, size_t{1} << 30);
      const size_t got = read_some(dst + total, want);
      total += got;
      if (got < want) break;
    }
    return total;
  }

 private:
  bool refill() {
    const size_t got = std::fread(in_.data(), 1, in_.size(), file_);
    if (got < in_.size() && std::ferror(file_)) {
      fail(path_, std::string("read error: ") + std::strerror(errno));
    }
    zs_.next_in = in_.data();
    zs_.avail_in = static_cast<uInt>(got);
    return got > 0;
  }

  size_t read_some(uint8_t* dst, size_t n) {
    zs_.next_out = dst;
    zs_.avail_out = static_cast<uInt>(n);
    while (zs_.avail_out > 0) {
      if (zs_.avail_in == 0 && !refill()) {
        if (member_ended_) break;
        fail(path_, "gzip stream is truncated: the file ends inside the compressed data, after " +
                        std::to_string(produced_ + (n - zs_.avail_out)) + " decompressed bytes");
      }
      if (member_ended_) {
        // More input after a complete member: concatenated members are valid gzip.
        if (inflateReset(&zs_) != Z_OK) fail(path_, "cannot reset zlib");
        member_ended_ = false;
        after_member_ = true;
      }
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        member_ended_ = true;
      } else if (rc != Z_OK) {
        // With input and output space both available, zlib either progresses or
        // reports an error, so treating every other code as fatal cannot spin.
        const std::string detail = zs_.msg ? zs_.msg : ("zlib error " + std::to_string(rc));
        if (after_member_ && zs_.total_out == 0) {
          fail(path_, "unexpected bytes after the end of the gzip stream (" + detail + ")");
        }
        fail(path_, "corrupt gzip stream (" + detail + ")");
      }
    }
    produced_ += n - zs_.avail_out;
    return n - zs_.avail_out;
  }

  std::FILE* file_;
  const std::string& path_;
  std::vector<Bytef> in_;
  z_stream zs_{};
  bool member_ended_ = false;
  bool after_member_ = false;
  uint64_t produced_ = 0;  // decompressed bytes returned so far, for messages
};

uint32_t big_endian_u32(const uint8_t* b) {
  return (static_cast<uint32_t>(b[0]) << 24) | (static_cast<uint32_t>(b[1]) << 16) |
         (static_cast<uint32_t>(b[2]) << 8) | static_cast<uint32_t>(b[3]);
}

// An IDX file opened as raw or gzip bytes, by its first two bytes.
struct OpenedIdx {
  FilePtr file;
  std::unique_ptr<ByteSource> source;
  bool gzip = false;
  std::string unit;  // " bytes" or " decompressed bytes", for messages
};

OpenedIdx open_idx(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not a file");
  errno = 0;
  OpenedIdx o;
  o.file.reset(std::fopen(path.c_str(), "rb"));
  if (!o.file) fail(path, std::string("cannot open: ") + std::strerror(errno));
  uint8_t signature[2];
  const size_t signature_len = std::fread(signature, 1, 2, o.file.get());
  if (std::ferror(o.file.get())) fail(path, std::string("read error: ") + std::strerror(errno));
  if (signature_len == 0) fail(path, "file is empty (0 bytes); expected an IDX header");
  std::rewind(o.file.get());
  o.gzip = signature_len == 2 && signature[0] == 0x1f && signature[1] == 0x8b;
  if (o.gzip) {
    o.source = std::make_unique<GzipSource>(o.file.get(), path);
  } else {
    o.source = std::make_unique<RawSource>(o.file.get(), path);
  }
  o.unit = o.gzip ? " decompressed bytes" : " bytes";
  return o;
}

// The magic number and the dimensions, checked; returns the element count.
uint64_t read_header(OpenedIdx& o, const std::string& path, IdxArray& array, size_t& header_bytes) {
  uint8_t magic[4];
  size_t got = o.source->read(magic, 4);
  if (got < 4) {
    fail(path, "truncated header: expected at least 4" + o.unit + ", got " + std::to_string(got));
  }
  if (magic[0] != 0 || magic[1] != 0) {
    fail(path, "bad magic: an IDX file starts with two zero bytes, got " + hex_byte(magic[0]) + " " +
                   hex_byte(magic[1]) + " (not an IDX file?)");
  }
  array.type_code = magic[2];
  if (array.type_code != 0x08) {
    fail(path, "unsupported IDX type " + hex_byte(array.type_code) + " (" + idx_type_name(array.type_code) +
                   "); only 0x08 (unsigned byte) is supported");
  }
  const unsigned rank = magic[3];
  if (rank < 1 || rank > 4) fail(path, "IDX rank " + std::to_string(rank) + " is outside 1..4");

  uint8_t dim_bytes[16];
  header_bytes = 4 + 4 * static_cast<size_t>(rank);
  got = o.source->read(dim_bytes, 4 * rank);
  if (got < 4 * rank) {
    fail(path, "truncated header: expected " + std::to_string(header_bytes) + o.unit + " for rank " +
                   std::to_string(rank) + ", got " + std::to_string(4 + got));
  }
  uint64_t elements = 1;
  for (unsigned i = 0; i < rank; ++i) {
    const uint32_t dim = big_endian_u32(dim_bytes + 4 * i);
    array.dims.push_back(static_cast<int64_t>(dim));
    // elements <= 2^31 and dim < 2^32 before this product, so it cannot overflow.
    elements *= dim;
    if (elements > kMaxElements) {
      fail(path, "dimensions " + dims_string(array.dims) + (i + 1 < rank ? "x..." : "") +
                     " exceed the limit of 2^31 elements (corrupt header?)");
    }
  }
  return elements;
}

// The payload, growing geometrically rather than trusting the header with one
// big allocation; then nothing may follow it.
void read_payload(OpenedIdx& o, const std::string& path, size_t n, uint64_t expected_total, size_t header_bytes,
                  const std::string& layout, IdxArray& array) {
  size_t have = 0;
  while (have < n) {
    const size_t step = std::min(n - have, std::max(kInputChunk, have));
    array.data.resize(have + step);
    const size_t got = o.source->read(array.data.data() + have, step);
    have += got;
    if (got < step) {
      fail(path, "truncated: expected " + layout + ", got " + std::to_string(header_bytes + have));
    }
  }
  // Reading past the payload also makes zlib verify the gzip trailer's CRC.
  std::vector<uint8_t> extra(kInputChunk);
  const size_t trailing = o.source->read(extra.data(), extra.size());
  if (trailing > 0) {
    fail(path, "has trailing bytes: expected " + layout + ", got " +
                   (trailing == extra.size() ? "at least " : "") + std::to_string(expected_total + trailing));
  }
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  OpenedIdx o = open_idx(path);
  IdxArray array;
  size_t header_bytes = 0;
  const uint64_t elements = read_header(o, path, array, header_bytes);
  const uint64_t expected_total = header_bytes + elements;
  const std::string layout = std::to_string(expected_total) + o.unit + " (" + std::to_string(header_bytes) +
                             "-byte header + " + std::to_string(elements) + " data bytes for dims " +
                             dims_string(array.dims) + ")";
  if (!o.gzip) {
    // The length is known up front, so a lying header is caught before allocating.
    std::error_code ec;
    const uintmax_t actual = std::filesystem::file_size(path, ec);
    if (!ec && actual != expected_total) {
      fail(path, std::string(actual < expected_total ? "truncated" : "has trailing bytes") + ": expected " +
                     layout + ", got " + std::to_string(actual));
    }
  }
  read_payload(o, path, static_cast<size_t>(elements), expected_total, header_bytes, layout, array);
  return array;
}

}  // namespace nmode
