// Safetensors reader and writer. The reader checks the header completely
// (types, dtype, shape vs byte size, contiguous non-overlapping layout covering
// the data exactly) before it allocates tensors, so a corrupt file is an IoError.
#include "nmode/checkpoint.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <tuple>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "io/atomic_file.hpp"
#include "nmode/error.hpp"

// Safetensors data is little-endian; with a little-endian host the float
// buffers are written and read as they are, with no per-element conversion.
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "nmode checkpoints assume a little-endian host"
#endif
static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559, "F32 must be IEEE-754 binary32");

namespace nmode {
namespace {

using json = nlohmann::json;

// Same cap as the reference implementation (safetensors MAX_HEADER_SIZE): a
// corrupt length field must not turn into a huge allocation.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// A valid header nests three levels (root, tensor entry, shape); the cap keeps a
// hostile "[[[[..." header from building millions of nested JSON values.
constexpr int kMaxJsonDepth = 64;
constexpr uint64_t kF32Bytes = 4;

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

std::string errno_text() { return std::strerror(errno); }

// Finds which name or metadata string nlohmann refuses to serialise, so the
// message can point at it rather than at the whole checkpoint.
std::string first_invalid_utf8(const Checkpoint& ckpt) {
  auto bad = [](const std::string& s) {
    try {
      (void)json(s).dump();
      return false;
    } catch (const json::exception&) {
      return true;
    }
  };
  for (const auto& kv : ckpt.tensors)
    if (bad(kv.first)) return "tensor name " + json(kv.first).dump(-1, ' ', true, json::error_handler_t::replace);
  for (const auto& kv : ckpt.metadata) {
    if (bad(kv.first)) return "metadata key " + json(kv.first).dump(-1, ' ', true, json::error_handler_t::replace);
    if (bad(kv.second))
      return "metadata value for key " + json(kv.first).dump(-1, ' ', true, json::error_handler_t::replace);
  }
  return "a name or metadata string";
}

// JSON header padded with spaces so the data buffer starts 8-byte aligned.
// Offsets follow std::map order, i.e. tensors are laid out in name order.
std::string build_header(const Checkpoint& ckpt) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, tensor] : ckpt.tensors) {
    if (name.empty()) throw InvalidArgument("checkpoint tensor names must be non-empty");
    if (name == "__metadata__")
      throw InvalidArgument("checkpoint tensor name '__metadata__' is reserved for metadata; rename the tensor");
    if (tensor.size() != shape_elements(tensor.shape()))
      throw InvalidArgument("checkpoint tensor " + in_quotes(name) + " holds " + std::to_string(tensor.size()) +
                            " values but its shape " + tensor.shape_string() + " needs " +
                            std::to_string(shape_elements(tensor.shape())));
    const uint64_t bytes = static_cast<uint64_t>(tensor.size()) * kF32Bytes;
    header[name] = {{"dtype", "F32"}, {"shape", tensor.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!ckpt.metadata.empty()) header["__metadata__"] = ckpt.metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception&) {
    throw InvalidArgument("checkpoint " + first_invalid_utf8(ckpt) +
                          " is not valid UTF-8; safetensors headers are UTF-8 JSON");
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

// A tensor entry of a parsed header; offsets are relative to the data buffer.
struct Entry {
  std::string name;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Validates one header while it is interpreted; every message names the path.
class HeaderReader {
 public:
  HeaderReader(const std::string& path, uint64_t buffer_bytes) : path_(path), buffer_bytes_(buffer_bytes) {}

  IoError fail(const std::string& what) const { return IoError("checkpoint '" + path_ + "': " + what); }

  void read_metadata(const json& value, std::map<std::string, std::string>& out) const {
    if (!value.is_object())
      throw fail("__metadata__ must be a JSON object of string values, got " + std::string(value.type_name()));
    for (const auto& [key, v] : value.items()) {
      if (!v.is_string())
        throw fail("__metadata__ value for key " + in_quotes(key) + " must be a string, got " + v.type_name());
      out[key] = v.get<std::string>();
    }
  }

  Entry read_entry(const std::string& name, const json& value) const {
    const std::string tensor = "tensor " + in_quotes(name);
    if (!value.is_object())
      throw fail(tensor + ": entry must be a JSON object with dtype, shape and data_offsets, got " +
                 value.type_name());
    auto field = [&](const char* key) -> const json& {
      const auto it = value.find(key);
      if (it == value.end()) throw fail(tensor + ": missing \"" + key + "\" field");
      return *it;
    };
    const json& dtype = field("dtype");
    const json& shape = field("shape");
    const json& offsets = field("data_offsets");

    if (!dtype.is_string()) throw fail(tensor + ": dtype must be a string, got " + dtype.type_name());
    if (dtype.get<std::string>() != "F32")
      throw fail("unsupported dtype " + in_quotes(dtype.get<std::string>()) + " for " + tensor + " (nmode reads F32)");

    Entry e;
    e.name = name;
    if (!shape.is_array())
      throw fail(tensor + ": shape must be an array of non-negative integers, got " + shape.type_name());
    // Product of the non-zero dimensions, so no prefix product computed later by
    // Tensor can overflow even when a zero dimension makes the tensor empty.
    uint64_t nonzero_product = 1;
    bool has_zero = false;
    for (const json& d : shape) {
      const uint64_t dim = count(d, tensor + ": shape entry");
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw fail(tensor + ": shape entry " + std::to_string(dim) + " is too large");
      if (dim == 0) {
        has_zero = true;
      } else {
        if (nonzero_product > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / dim)
          throw fail(tensor + ": shape " + shape.dump() + " has more elements than fit in 64 bits");
        nonzero_product *= dim;
      }
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    const uint64_t elements = has_zero ? 0 : nonzero_product;

    if (!offsets.is_array() || offsets.size() != 2)
      throw fail(tensor + ": data_offsets must be [begin, end], got " + offsets.dump());
    e.begin = count(offsets[0], tensor + ": data_offsets begin");
    e.end = count(offsets[1], tensor + ": data_offsets end");
    const std::string span = "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
    if (e.begin > e.end) throw fail(tensor + ": " + span + " has begin > end");
    const uint64_t bytes = e.end - e.begin;
    if (elements > std::numeric_limits<uint64_t>::max() / kF32Bytes || elements * kF32Bytes != bytes)
      throw fail(tensor + ": shape " + shape_to_string(e.shape) + " needs " + std::to_string(elements) +
                 " F32 values but " + span + " span " + std::to_string(bytes) + " bytes (shape/size mismatch)");
    if (e.end > buffer_bytes_)
      throw fail(tensor + ": " + span + " out of range of the " + std::to_string(buffer_bytes_) +
                 "-byte data buffer (file truncated?)");
    return e;
  }

  // The spec requires the tensors to tile the data buffer: sorted by offset,
  // each begins where the previous ended and the last ends at the buffer end.
  void check_layout(std::vector<Entry>& entries) const {
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
    });
    uint64_t pos = 0;
    const Entry* prev = nullptr;
    for (const Entry& e : entries) {
      if (e.begin < pos)
        throw fail("tensors " + in_quotes(prev->name) + " and " + in_quotes(e.name) + " overlap in the data buffer (" +
                   in_quotes(prev->name) + " ends at byte " + std::to_string(pos) + ", " + in_quotes(e.name) +
                   " begins at byte " + std::to_string(e.begin) + ")");
      if (e.begin > pos)
        throw fail("hole in the data buffer: bytes [" + std::to_string(pos) + ", " + std::to_string(e.begin) +
                   ") before tensor " + in_quotes(e.name) + " belong to no tensor");
      pos = e.end;
      prev = &e;
    }
    if (pos != buffer_bytes_)
      throw fail(std::to_string(buffer_bytes_ - pos) + " trailing bytes after the tensor data (tensors cover " +
                 std::to_string(pos) + " of the " + std::to_string(buffer_bytes_) + " data bytes)");
  }

 private:
  // A JSON non-negative integer, as shape entries and offsets must be.
  uint64_t count(const json& v, const std::string& what) const {
    if (v.is_number_unsigned()) return v.get<uint64_t>();
    if (v.is_number_integer()) throw fail(what + " is negative: " + v.dump());
    throw fail(what + " must be a non-negative integer, got " + v.dump());
  }

  const std::string& path_;
  uint64_t buffer_bytes_;
};

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  // Validation and serialisation come first: invalid input creates no file.
  const std::string header = build_header(ckpt);
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(static_cast<uint64_t>(header.size()) >> (8 * i));
  std::vector<ByteRange> pieces = {{length, sizeof length}, {header.data(), header.size()}};
  for (const auto& [name, tensor] : ckpt.tensors)
    pieces.push_back({tensor.data(), static_cast<size_t>(tensor.size()) * sizeof(float)});
  try {
    write_file_atomically(path, pieces);
  } catch (const IoError& e) {
    throw IoError("cannot write checkpoint '" + path + "': " + e.what());
  }
}

Checkpoint load_checkpoint(const std::string& path) {
  auto fail = [&](const std::string& what) { return IoError("checkpoint '" + path + "': " + what); };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw fail("is a directory, not a safetensors file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw fail("cannot open for reading (" + errno_text() + ")");
  in.seekg(0, std::ios::end);
  const std::streamoff file_size = in.tellg();
  if (file_size < 0) throw fail("cannot determine the file size");
  const uint64_t size = static_cast<uint64_t>(file_size);
  in.seekg(0, std::ios::beg);
  if (size < 8)
    throw fail("file is " + std::to_string(size) +
               " bytes, shorter than the 8-byte header length (truncated, or not a safetensors file)");

  unsigned char length[8];
  if (!in.read(reinterpret_cast<char*>(length), 8)) throw fail("reading the header length failed (truncated?)");
  uint64_t header_bytes = 0;
  for (int i = 0; i < 8; ++i) header_bytes |= static_cast<uint64_t>(length[i]) << (8 * i);
  if (header_bytes == 0) throw fail("header length is 0; even an empty safetensors header holds '{}'");
  if (header_bytes > kMaxHeaderBytes)
    throw fail("header length " + std::to_string(header_bytes) + " bytes exceeds the limit of " +
               std::to_string(kMaxHeaderBytes) + " (corrupt length field, or not a safetensors file)");
  if (header_bytes > size - 8)
    throw fail("header length " + std::to_string(header_bytes) + " exceeds the " + std::to_string(size - 8) +
               " bytes that follow it (file truncated?)");

  std::string text(static_cast<size_t>(header_bytes), '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(header_bytes)))
    throw fail("reading the header failed (file truncated?)");
  // nlohmann stops at a NUL byte as if the input ended, which would accept
  // "{}\0garbage"; JSON allows no raw NUL anywhere, so reject it here.
  if (const size_t nul = text.find('\0'); nul != std::string::npos)
    throw fail("header is not valid JSON: NUL byte at header offset " + std::to_string(nul));
  json header;
  // The keys of each open object, to refuse duplicates as safetensors does
  // (nlohmann would keep the last one silently).
  std::vector<std::set<std::string>> open_objects;
  try {
    header = json::parse(text, [&](int depth, json::parse_event_t event, json& parsed) {
      if (depth > kMaxJsonDepth)
        throw fail("header JSON is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
      if (event == json::parse_event_t::object_start) open_objects.emplace_back();
      if (event == json::parse_event_t::object_end) open_objects.pop_back();
      if (event == json::parse_event_t::key && !open_objects.back().insert(parsed.get<std::string>()).second)
        throw fail("header has the duplicate key " + in_quotes(parsed.get<std::string>()));
      return true;
    });
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
    throw fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) throw fail(std::string("header is not a JSON object, got ") + header.type_name());

  HeaderReader reader(path, size - 8 - header_bytes);
  Checkpoint ckpt;
  std::vector<Entry> entries;
  try {
    for (const auto& [name, value] : header.items()) {
      if (name == "__metadata__")
        reader.read_metadata(value, ckpt.metadata);
      else if (name.empty())
        throw fail("a tensor name is empty");
      else
        entries.push_back(reader.read_entry(name, value));
    }
  } catch (const json::exception& e) {
    // The checks above test every type before use; this is a backstop.
    throw fail(std::string("malformed header: ") + e.what());
  }
  reader.check_layout(entries);

  // Tiled layout: one sequential read from the start of the data buffer.
  for (Entry& e : entries) {
    Tensor t(std::move(e.shape));
    const std::streamsize bytes = static_cast<std::streamsize>(e.end - e.begin);
    if (bytes != 0 && !in.read(reinterpret_cast<char*>(t.data()), bytes))
      throw fail("reading tensor " + in_quotes(e.name) + " failed (file truncated while reading?)");
    ckpt.tensors.emplace(e.name, std::move(t));
  }
  return ckpt;
}

const Tensor& checkpoint_tensor(const Checkpoint& ckpt, const std::string& name,
                                const std::vector<int64_t>& expected_shape) {
  const auto it = ckpt.tensors.find(name);
  if (it == ckpt.tensors.end()) {
    std::string names;
    int listed = 0;
    for (const auto& kv : ckpt.tensors) {
      if (listed == 10) {
        names += ", ...";
        break;
      }
      names += (listed++ ? ", " : "") + in_quotes(kv.first);
    }
    throw IoError("checkpoint has no tensor " + in_quotes(name) + " (expected shape " +
                  shape_to_string(expected_shape) + "); it holds " + (names.empty() ? "no tensors" : names));
  }
  if (it->second.shape() != expected_shape)
    throw IoError("checkpoint tensor " + in_quotes(name) + " has shape " + it->second.shape_string() + ", expected " +
                  shape_to_string(expected_shape));
  return it->second;
}

std::string checkpoint_meta(const Checkpoint& ckpt, const std::string& key) {
  const auto it = ckpt.metadata.find(key);
  if (it == ckpt.metadata.end()) throw IoError("checkpoint metadata has no key " + in_quotes(key));
  return it->second;
}

}  // namespace nmode
