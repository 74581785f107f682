#include "core/numbers.hpp"

#include <charconv>

namespace nmode {

std::string exact_decimal(double v) {
  char text[32];  // the longest shortest form of a double is 24 characters
  const auto r = std::to_chars(text, text + sizeof text, v);
  return std::string(text, r.ptr);
}

}  // namespace nmode
