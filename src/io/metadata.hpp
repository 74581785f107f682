// Reading and writing the string-to-string metadata of a checkpoint (the model
// spec, the training options, the optimizer state): one set of rules, so every
// key is written the same way and every bad or missing key is an IoError that
// names it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace nmode {

using Metadata = std::map<std::string, std::string>;

// Values as metadata text: numbers that read back exactly, booleans as "true"/"false".
std::string metadata_text(double v);
std::string metadata_text(int64_t v);
std::string metadata_text(bool v);

class MetadataReader {
 public:
  // `what` starts every message, e.g. "model metadata" or "optimizer state".
  MetadataReader(const Metadata& metadata, std::string what) : metadata_(metadata), what_(std::move(what)) {}

  bool has(const std::string& key) const { return metadata_.count(key) != 0; }
  const std::string& text(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  int64_t integer_in(const std::string& key, int64_t lowest, int64_t highest) const;  // inclusive
  uint64_t unsigned_integer(const std::string& key) const;
  double number(const std::string& key) const;
  bool boolean(const std::string& key) const;  // "true"/"false" (and "1"/"0" of older checkpoints)

 private:
  [[noreturn]] void bad_value(const std::string& key, const std::string& expected) const;

  const Metadata& metadata_;
  std::string what_;
};

}  // namespace nmode
