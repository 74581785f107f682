#include "io/metadata.hpp"

#include <charconv>

#include "core/numbers.hpp"
#include "nmode/error.hpp"

namespace nmode {
namespace {

// The whole of `text` as a T, or false.
template <class T>
bool parse_whole(const std::string& text, T& out) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && r.ec == std::errc() && r.ptr == text.data() + text.size();
}

}  // namespace

std::string metadata_text(double v) { return exact_decimal(v); }
std::string metadata_text(int64_t v) { return std::to_string(v); }
std::string metadata_text(bool v) { return v ? "true" : "false"; }

const std::string& MetadataReader::text(const std::string& key) const {
  const auto it = metadata_.find(key);
  if (it == metadata_.end()) throw IoError(what_ + " lacks the key \"" + key + "\"");
  return it->second;
}

void MetadataReader::bad_value(const std::string& key, const std::string& expected) const {
  throw IoError(what_ + " \"" + key + "\" = \"" + text(key) + "\" is not " + expected);
}

int64_t MetadataReader::integer(const std::string& key) const {
  int64_t out = 0;
  if (!parse_whole(text(key), out)) bad_value(key, "an integer");
  return out;
}

int64_t MetadataReader::integer_in(const std::string& key, int64_t lowest, int64_t highest) const {
  const int64_t v = integer(key);
  if (v < lowest || v > highest)
    bad_value(key, "an integer in [" + std::to_string(lowest) + ", " + std::to_string(highest) + "]");
  return v;
}

uint64_t MetadataReader::unsigned_integer(const std::string& key) const {
  uint64_t out = 0;
  if (!parse_whole(text(key), out)) bad_value(key, "a non-negative integer");
  return out;
}

double MetadataReader::number(const std::string& key) const {
  double out = 0;
  if (!parse_whole(text(key), out)) bad_value(key, "a number");
  return out;
}

bool MetadataReader::boolean(const std::string& key) const {
  const std::string& v = text(key);
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  bad_value(key, "\"true\" or \"false\"");
}

}  // namespace nmode
