// Writing a whole file atomically: the bytes go to a temporary file beside the
// target, flushed to disk, which is renamed over it only when complete, so a
// failure or crash never leaves a half-written file (and an error leaves no
// temporary file). The temporary files of writers that were killed are removed by
// the next write to the same path. Throws IoError naming the file and the cause.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace nmode {

struct ByteRange {
  const void* data;
  size_t size;
};

// The file's contents are the ranges one after another.
void write_file_atomically(const std::string& path, const std::vector<ByteRange>& pieces);

inline void write_file_atomically(const std::string& path, const void* data, size_t size) {
  write_file_atomically(path, {ByteRange{data, size}});
}

}  // namespace nmode
