// NumPy .npy reader and writer. The reader parses the header's Python-literal
// dict with a small hand-written parser and checks dtype, shape and the file's
// length against each other before it allocates the data, so a corrupt or
// hostile file is an IoError, never a huge allocation or a crash.
#include "nmode/npy.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "io/atomic_file.hpp"
#include "nmode/error.hpp"

// .npy data written here is '<' (little-endian) and is kept in memory as it is.
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "nmode's .npy reader and writer assume a little-endian host"
#endif
static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559, "F32 must be IEEE-754 binary32");
static_assert(sizeof(double) == 8 && std::numeric_limits<double>::is_iec559, "F64 must be IEEE-754 binary64");

namespace nmode {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// NumPy writes about 128 header bytes; the cap stops a corrupt length from
// becoming a large allocation while leaving room for hand-written headers.
constexpr uint64_t kMaxHeaderBytes = uint64_t{1} << 20;
// Same cap as the IDX reader: far above MNIST, and a float copy stays addressable.
constexpr uint64_t kMaxElements = uint64_t{1} << 31;
// The element cap is what also keeps the data within 16 GiB.
static_assert(kMaxElements * 8 <= (uint64_t{16} << 30), "2^31 elements of at most 8 bytes fit in 16 GiB");
constexpr size_t kMaxRank = 8;
constexpr size_t kArrayAlign = 64;
// np.save leaves room for the first dimension to grow to 21 digits in place.
constexpr size_t kGrowthAxisMaxDigits = 21;
// Doubles from here on round to float infinity (the midpoint above FLT_MAX
// rounds to even, which is infinity).
constexpr double kFloatOverflow = 0x1.ffffffp127;
constexpr const char* kSupported =
    "nmode reads '<u1' (uint8), '<i4' (int32), '<i8' (int64), '<f4' (float32) and '<f8' (float64), "
    "also in big-endian '>' order";

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw IoError("NPY file '" + path + "': " + what);
}

std::string errno_text() { return std::strerror(errno); }

// File bytes shown in a message: unprintable bytes escaped and long text cut,
// so that a binary file cannot garble the terminal or flood the log.
std::string printable(const std::string& s, size_t limit = 100) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < limit; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(c));
      out += buf;
    }
  }
  return s.size() > limit ? out + "..." : out;
}

// Python's repr of the shape tuple, as NumPy writes it: (), (5,) or (2, 3).
std::string shape_repr(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// Shortest text that reads back as the same value.
template <typename T>
std::string number_text(T v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

struct Dtype {
  NpyType type = NpyType::F32;
  bool swap = false;  // big-endian in the file
};

// A simple dtype's descr is a byte-order mark ('<' little, '>' big, '=' native,
// '|' not applicable, for one-byte types) followed by a kind letter and the size.
bool parse_descr(const std::string& descr, Dtype& out) {
  static const struct {
    const char* code;
    NpyType type;
  } kTypes[] = {{"u1", NpyType::U8}, {"i4", NpyType::I32}, {"i8", NpyType::I64},
                {"f4", NpyType::F32}, {"f8", NpyType::F64}};
  if (descr.size() != 3) return false;
  const char order = descr[0];
  for (const auto& t : kTypes) {
    if (descr.compare(1, 2, t.code) != 0) continue;
    const bool one_byte = npy_element_size(t.type) == 1;
    if (order != '<' && order != '>' && order != '=' && !(order == '|' && one_byte)) return false;
    out.type = t.type;
    out.swap = order == '>' && !one_byte;
    return true;
  }
  return false;
}

// The kind of an unsupported dtype in words, so that the message says what the
// file holds ("'<c8' (complex)") and not only its code.
std::string descr_kind(const std::string& descr) {
  const size_t k = descr.find_first_not_of("<>=|");
  if (k == std::string::npos) return "";
  switch (descr[k]) {
    case 'b': return " (boolean)";
    case 'i': return " (signed integer)";
    case 'u': return " (unsigned integer)";
    case 'f': return " (floating point)";
    case 'c': return " (complex)";
    case 'O': return " (Python objects, stored pickled; nmode never unpickles)";
    case 'U': return " (unicode strings)";
    case 'S':
    case 'a': return " (byte strings)";
    case 'V': return " (raw bytes or a structured record)";
    case 'M': return " (datetime)";
    case 'm': return " (timedelta)";
    default: return "";
  }
}

Dtype check_dtype(const std::string& path, const std::string& descr) {
  Dtype d;
  if (parse_descr(descr, d)) return d;
  std::string hint;
  if (descr.size() == 3 && descr[0] == '|') hint = " ('|' is the byte order of one-byte types only)";
  fail(path, "unsupported dtype '" + printable(descr) + "'" + descr_kind(descr) + hint + "; " + kSupported);
}

// What the header dict says, before any of it is checked against nmode's limits.
struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// A recursive-descent parser for the one Python literal a .npy header holds: a
// dict of 'descr' (a string), 'fortran_order' (True or False) and 'shape' (a
// tuple of ints), in any order, with any spacing and optional trailing commas.
// Other Python syntax is refused: NumPy never writes it.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}
  Header parse();

 private:
  [[noreturn]] void bad(const std::string& what) const;
  [[noreturn]] void bad_keys(const std::string& what) const;
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  std::string next_text() const;
  void skip_space();
  bool accept(char c);
  void expect(char c, const std::string& where);
  std::string string_literal(const std::string& what);
  bool bool_literal();
  int64_t integer();
  std::vector<int64_t> shape_tuple();
  void value(const std::string& key, Header& h);

  const std::string& path_;
  const std::string& text_;
  size_t pos_ = 0;
};

// The header is quoted without NumPy's padding, which would only hide the dict.
void HeaderParser::bad(const std::string& what) const {
  const size_t end = text_.find_last_not_of(" \n");
  const std::string shown = end == std::string::npos ? std::string() : text_.substr(0, end + 1);
  fail(path_, "header is not the dict NumPy writes ({'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }): " +
                  what + " at header offset " + std::to_string(pos_) + " (header: '" + printable(shown) + "')");
}

void HeaderParser::bad_keys(const std::string& what) const {
  fail(path_, "header is not the dict NumPy writes: " + what +
                  " (a .npy header holds exactly the keys 'descr', 'fortran_order' and 'shape')");
}

std::string HeaderParser::next_text() const {
  return at_end() ? std::string("the end of the header") : "'" + printable(text_.substr(pos_, 1)) + "'";
}

void HeaderParser::skip_space() {
  while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r' ||
                       text_[pos_] == '\f')) {
    ++pos_;
  }
}

bool HeaderParser::accept(char c) {
  skip_space();
  if (at_end() || text_[pos_] != c) return false;
  ++pos_;
  return true;
}

void HeaderParser::expect(char c, const std::string& where) {
  if (!accept(c)) bad(std::string("expected '") + c + "' " + where + ", got " + next_text());
}

std::string HeaderParser::string_literal(const std::string& what) {
  skip_space();
  const char quote = peek();
  if (quote != '\'' && quote != '"') bad("expected " + what + " in quotes, got " + next_text());
  const size_t start = ++pos_;
  while (!at_end() && text_[pos_] != quote) {
    if (text_[pos_] == '\\') bad("backslash escapes in strings are not supported");
    if (text_[pos_] == '\n' || text_[pos_] == '\r') bad("unterminated string");
    ++pos_;
  }
  if (at_end()) bad("unterminated string");
  const std::string s = text_.substr(start, pos_ - start);
  ++pos_;
  return s;
}

bool HeaderParser::bool_literal() {
  skip_space();
  const size_t start = pos_;
  while (!at_end() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) ++pos_;
  const std::string word = text_.substr(start, pos_ - start);
  if (word == "True") return true;
  if (word == "False") return false;
  pos_ = start;
  bad("fortran_order must be True or False, got " + (word.empty() ? next_text() : "'" + printable(word) + "'"));
}

int64_t HeaderParser::integer() {
  skip_space();
  const bool negative = peek() == '-';
  if (negative) ++pos_;
  const size_t start = pos_;
  while (!at_end() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  const std::string digits = text_.substr(start, pos_ - start);
  if (digits.empty()) bad("expected an integer in the shape, got " + next_text());
  if (digits.size() > 1 && digits[0] == '0') bad("leading zeros are not a Python integer");
  if (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_' || peek() == '.') {
    bad("expected a plain integer in the shape, got " + next_text() + " after " + printable(digits, 40));
  }
  int64_t v = 0;
  const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (r.ec != std::errc()) {
    fail(path_, "shape dimension " + std::string(negative ? "-" : "") + printable(digits, 40) +
                    " does not fit in 64 bits (corrupt header?)");
  }
  return negative ? -v : v;
}

std::vector<int64_t> HeaderParser::shape_tuple() {
  expect('(', "to open the shape tuple");
  std::vector<int64_t> shape;
  if (accept(')')) return shape;
  while (true) {
    if (shape.size() == kMaxRank) fail(path_, "shape has more than 8 dimensions; nmode reads rank 0 to 8");
    shape.push_back(integer());
    if (accept(')')) {
      if (shape.size() == 1) bad("a shape '(n)' is the integer n in Python, not a tuple; a 1-D shape is '(n,)'");
      return shape;
    }
    expect(',', "or ')' after a shape dimension");
    if (accept(')')) return shape;
  }
}

void HeaderParser::value(const std::string& key, Header& h) {
  if (key == "descr") {
    skip_space();
    if (peek() == '[') fail(path_, "the dtype is structured (descr is a list of fields); " + std::string(kSupported));
    h.descr = string_literal("the descr string");
  } else if (key == "fortran_order") {
    h.fortran_order = bool_literal();
  } else if (key == "shape") {
    h.shape = shape_tuple();
  } else {
    bad_keys("unknown key '" + printable(key) + "'");
  }
}

Header HeaderParser::parse() {
  Header h;
  std::vector<std::string> seen;
  expect('{', "at the start of the header");
  while (!accept('}')) {
    const std::string key = string_literal("a key");
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) bad_keys("duplicate key '" + printable(key) + "'");
    seen.push_back(key);
    expect(':', "after the key '" + printable(key) + "'");
    value(key, h);
    if (accept(',')) continue;
    expect('}', "or ',' after the value of '" + key + "'");
    break;
  }
  skip_space();
  if (!at_end()) bad("unexpected " + next_text() + " after the closing '}'");
  for (const char* key : {"descr", "fortran_order", "shape"}) {
    if (std::find(seen.begin(), seen.end(), key) == seen.end()) bad_keys(std::string("missing key '") + key + "'");
  }
  return h;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// The size comes from the open file, so it is the size of what is then read.
FilePtr open_npy(const std::string& path, uint64_t& file_size) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not a file");
  errno = 0;
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) fail(path, "cannot open: " + errno_text());
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) != 0) fail(path, "cannot determine the file size: " + errno_text());
  if (!S_ISREG(st.st_mode)) fail(path, "is not a regular file");
  file_size = static_cast<uint64_t>(st.st_size);
  return f;
}

size_t read_bytes(std::FILE* f, const std::string& path, void* dst, size_t n) {
  const size_t got = n == 0 ? 0 : std::fread(dst, 1, n, f);
  if (got < n && std::ferror(f)) fail(path, "read error: " + errno_text());
  return got;
}

// The magic string, version and header length that precede the header dict.
struct Preamble {
  size_t size = 0;  // 10 bytes for version 1.0, 12 for 2.0 and 3.0
  uint64_t header_len = 0;
};

void check_magic(const std::string& path, const uint8_t* b, size_t got) {
  if (got == 0) fail(path, "file is empty (0 bytes); expected a .npy header");
  if (std::memcmp(b, kMagic, std::min(got, kMagicLen)) == 0) return;
  const std::string start(reinterpret_cast<const char*>(b), std::min(got, kMagicLen));
  const bool zip = start.compare(0, 4, "PK\x03\x04") == 0;
  fail(path, "bad magic: a .npy file starts with \\x93NUMPY, got '" + printable(start) + "'" +
                 (zip ? " (a zip archive: an .npz file holds .npy files; extract one)" : " (not a .npy file?)"));
}

Preamble read_preamble(std::FILE* f, const std::string& path, uint64_t file_size) {
  uint8_t b[12] = {};
  size_t got = read_bytes(f, path, b, 10);
  check_magic(path, b, got);
  if (got < 10) fail(path, "truncated header: expected at least 10 bytes, got " + std::to_string(got));
  if (b[6] < 1 || b[6] > 3 || b[7] != 0) {
    fail(path, "unsupported format version " + std::to_string(b[6]) + "." + std::to_string(b[7]) +
                   "; nmode reads versions 1.0, 2.0 and 3.0");
  }
  Preamble p;
  p.size = b[6] == 1 ? 10 : 12;
  if (p.size == 12) got += read_bytes(f, path, b + 10, 2);
  if (got < p.size) {
    fail(path, "truncated header: expected at least 12 bytes for version " + std::to_string(b[6]) + ".0, got " +
                   std::to_string(got));
  }
  for (size_t i = p.size; i-- > 8;) p.header_len = (p.header_len << 8) | b[i];
  const uint64_t after = file_size > p.size ? file_size - p.size : 0;
  if (p.header_len > after) {
    fail(path, "header length " + std::to_string(p.header_len) + " exceeds the " + std::to_string(after) +
                   " bytes after the " + std::to_string(p.size) + "-byte preamble (truncated file?)");
  }
  if (p.header_len > kMaxHeaderBytes) {
    fail(path, "header length " + std::to_string(p.header_len) + " exceeds the limit of 1 MiB (" +
                   std::to_string(kMaxHeaderBytes) + " bytes; NumPy writes about 128)");
  }
  return p;
}

std::string read_header_text(std::FILE* f, const std::string& path, const Preamble& p) {
  std::string text(static_cast<size_t>(p.header_len), '\0');
  const size_t got = read_bytes(f, path, text.data(), text.size());
  if (got < text.size()) {
    fail(path, "truncated header: expected " + std::to_string(text.size()) + " header bytes, got " +
                   std::to_string(got));
  }
  return text;
}

// Every dimension is checked before the product, so a negative one is named
// as such; with each factor at most 2^31 the product cannot overflow.
uint64_t check_shape(const std::string& path, const std::vector<int64_t>& shape) {
  for (int64_t d : shape) {
    if (d < 0) fail(path, "shape " + shape_repr(shape) + " has a negative dimension");
  }
  uint64_t elements = 1;
  for (int64_t d : shape) {
    const uint64_t dim = static_cast<uint64_t>(d);
    if (dim > kMaxElements || (elements *= dim) > kMaxElements) {
      fail(path, "shape " + shape_repr(shape) + " exceeds the limit of 2^31 elements (corrupt header?)");
    }
  }
  return elements;
}

// The data is the rest of the file; a file that grew or shrank since its size
// was taken is caught by the reads themselves.
void read_data(std::FILE* f, const std::string& path, uint64_t have, const std::string& what, NpyArray& a) {
  const uint64_t need = static_cast<uint64_t>(a.numel()) * npy_element_size(a.type);
  if (have != need) {
    fail(path, std::string(have < need ? "truncated" : "has trailing bytes") + ": expected " +
                   std::to_string(need) + " data bytes (" + what + "), got " + std::to_string(have));
  }
  a.bytes.resize(static_cast<size_t>(need));
  const size_t got = read_bytes(f, path, a.bytes.data(), a.bytes.size());
  if (got < a.bytes.size()) {
    fail(path, "truncated: expected " + std::to_string(need) + " data bytes (" + what + "), got " +
                   std::to_string(got));
  }
  if (std::fgetc(f) != EOF) fail(path, "has trailing bytes after the " + std::to_string(need) + " data bytes");
}

void swap_bytes(std::vector<uint8_t>& bytes, size_t width) {
  for (size_t i = 0; i + width <= bytes.size(); i += width) std::reverse(bytes.data() + i, bytes.data() + i + width);
}

// The element count of an array built by the caller, which may be inconsistent.
size_t checked_count(const NpyArray& a, const char* function) {
  const size_t width = npy_element_size(a.type);
  const bool negative = std::any_of(a.shape.begin(), a.shape.end(), [](int64_t d) { return d < 0; });
  const uint64_t n = static_cast<uint64_t>(a.numel());
  if (width == 0 || negative || a.bytes.size() % width != 0 || a.bytes.size() / width != n) {
    throw InvalidArgument(std::string(function) + ": the array's " + std::to_string(a.bytes.size()) +
                          " bytes do not match its shape " + shape_repr(a.shape) + " of " + to_string(a.type));
  }
  return static_cast<size_t>(n);
}

template <typename T>
T element(const NpyArray& a, size_t i) {
  T v;
  std::memcpy(&v, a.bytes.data() + i * sizeof(T), sizeof(T));
  return v;
}

template <typename T, typename Out>
void convert_all(const NpyArray& a, std::vector<Out>& out) {
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<Out>(element<T>(a, i));
}

// Range-checked before the cast, since a double beyond float's range has no
// float value to round to.
float double_to_float(double v, size_t index) {
  if (std::isfinite(v) && std::fabs(v) >= kFloatOverflow) {
    throw InvalidArgument("npy_to_floats: float64 value " + number_text(v) + " at index " + std::to_string(index) +
                          " is outside the range of float32 (about +-3.4e38)");
  }
  return static_cast<float>(v);
}

// Integral and within [-2^63, 2^63), so the cast to int64 is exact.
template <typename T>
int64_t float_to_integer(T v, size_t index) {
  const double d = static_cast<double>(v);
  if (!std::isfinite(d) || d != std::trunc(d)) {
    throw InvalidArgument("npy_to_integers: value " + number_text(v) + " at index " + std::to_string(index) +
                          " is not an integer");
  }
  if (d < -0x1p63 || d >= 0x1p63) {
    throw InvalidArgument("npy_to_integers: value " + number_text(v) + " at index " + std::to_string(index) +
                          " does not fit int64");
  }
  return static_cast<int64_t>(d);
}

// The header np.save writes: the dict with its keys in sorted order, spaces for
// the first dimension to grow to 21 digits, then spaces and '\n' up to a
// multiple of 64 bytes (a whole extra 64 when already aligned, as NumPy does).
std::string npy_header(const char* descr, const std::vector<int64_t>& shape) {
  std::string dict =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
  if (!shape.empty()) dict.append(kGrowthAxisMaxDigits - std::to_string(shape[0]).size(), ' ');
  const size_t preamble = kMagicLen + 4;  // magic, version 1.0, 2-byte length
  dict.append(kArrayAlign - (preamble + dict.size() + 1) % kArrayAlign, ' ');
  dict += '\n';
  const size_t len = dict.size();  // below 65536: at most 8 dimensions of 19 digits
  std::string out(kMagic, kMagicLen);
  out += {'\x01', '\x00', static_cast<char>(len & 0xFF), static_cast<char>(len >> 8)};
  return out + dict;
}

void check_write_shape(const std::string& path, const std::vector<int64_t>& shape, size_t values) {
  auto refuse = [&](const std::string& what) {
    return InvalidArgument("cannot write NPY file '" + path + "': " + what);
  };
  if (shape.size() > kMaxRank) throw refuse("shape " + shape_repr(shape) + " has more than 8 dimensions");
  for (int64_t d : shape) {
    if (d < 0) throw refuse("shape " + shape_repr(shape) + " has a negative dimension");
  }
  const bool zero = std::find(shape.begin(), shape.end(), 0) != shape.end();
  uint64_t need = zero ? 0 : 1;
  bool overflow = false;
  for (int64_t d : shape) {
    const uint64_t dim = static_cast<uint64_t>(d);
    if (!zero && need > std::numeric_limits<uint64_t>::max() / dim) overflow = true;
    if (!overflow) need *= dim;
  }
  if (overflow || need != values) {
    throw refuse("data holds " + std::to_string(values) + " values but shape " + shape_repr(shape) + " needs " +
                 (overflow ? "more than 2^64" : std::to_string(need)));
  }
}

void write_npy_data(const std::string& path, const std::vector<int64_t>& shape, const char* descr,
                    const void* data, size_t values, size_t width) {
  check_write_shape(path, shape, values);  // before anything touches the disk
  const std::string header = npy_header(descr, shape);
  try {
    write_file_atomically(path, {ByteRange{header.data(), header.size()}, ByteRange{data, values * width}});
  } catch (const IoError& e) {
    throw IoError("cannot write NPY file '" + path + "': " + e.what());
  }
}

}  // namespace

size_t npy_element_size(NpyType t) {
  switch (t) {
    case NpyType::U8: return 1;
    case NpyType::I32:
    case NpyType::F32: return 4;
    case NpyType::I64:
    case NpyType::F64: return 8;
  }
  return 0;
}

const char* to_string(NpyType t) {
  switch (t) {
    case NpyType::U8: return "uint8";
    case NpyType::I32: return "int32";
    case NpyType::I64: return "int64";
    case NpyType::F32: return "float32";
    case NpyType::F64: return "float64";
  }
  return "unknown";
}

// Unsigned arithmetic: a caller's nonsensical shape wraps instead of overflowing.
int64_t NpyArray::numel() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return static_cast<int64_t>(n);
}

NpyArray read_npy(const std::string& path) {
  uint64_t file_size = 0;
  const FilePtr f = open_npy(path, file_size);
  const Preamble p = read_preamble(f.get(), path, file_size);
  const std::string text = read_header_text(f.get(), path, p);
  const Header h = HeaderParser(path, text).parse();
  if (h.fortran_order) {
    fail(path, "is in Fortran order (fortran_order: True); nmode reads C-order arrays only: "
               "save it with np.save(path, np.ascontiguousarray(a))");
  }
  const Dtype dtype = check_dtype(path, h.descr);
  NpyArray a;
  a.type = dtype.type;
  a.shape = h.shape;
  check_shape(path, a.shape);
  const std::string what = "shape " + shape_repr(a.shape) + " of " + to_string(a.type) + " after a " +
                           std::to_string(p.size + p.header_len) + "-byte header";
  read_data(f.get(), path, file_size - (p.size + p.header_len), what, a);
  if (dtype.swap) swap_bytes(a.bytes, npy_element_size(a.type));
  return a;
}

std::vector<float> npy_to_floats(const NpyArray& a) {
  std::vector<float> out(checked_count(a, "npy_to_floats"));
  switch (a.type) {
    case NpyType::U8: convert_all<uint8_t>(a, out); break;
    case NpyType::I32: convert_all<int32_t>(a, out); break;
    case NpyType::I64: convert_all<int64_t>(a, out); break;
    case NpyType::F32: convert_all<float>(a, out); break;
    case NpyType::F64:
      for (size_t i = 0; i < out.size(); ++i) out[i] = double_to_float(element<double>(a, i), i);
      break;
  }
  return out;
}

std::vector<int64_t> npy_to_integers(const NpyArray& a) {
  std::vector<int64_t> out(checked_count(a, "npy_to_integers"));
  switch (a.type) {
    case NpyType::U8: convert_all<uint8_t>(a, out); break;
    case NpyType::I32: convert_all<int32_t>(a, out); break;
    case NpyType::I64: convert_all<int64_t>(a, out); break;
    case NpyType::F32:
      for (size_t i = 0; i < out.size(); ++i) out[i] = float_to_integer(element<float>(a, i), i);
      break;
    case NpyType::F64:
      for (size_t i = 0; i < out.size(); ++i) out[i] = float_to_integer(element<double>(a, i), i);
      break;
  }
  return out;
}

void write_npy(const std::string& path, const std::vector<int64_t>& shape, const std::vector<float>& data) {
  write_npy_data(path, shape, "<f4", data.data(), data.size(), sizeof(float));
}

void write_npy(const std::string& path, const std::vector<int64_t>& shape, const std::vector<int64_t>& data) {
  write_npy_data(path, shape, "<i8", data.data(), data.size(), sizeof(int64_t));
}

}  // namespace nmode
