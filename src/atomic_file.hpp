// Writing a whole file atomically: the bytes go to a temporary file beside the
// target, which is renamed over it only when complete, so a failure or crash never
// leaves a half-written file. Throws IoError naming the file and the cause.
#pragma once

#include <cstddef>
#include <string>

namespace nmode {

void write_file_atomically(const std::string& path, const void* data, size_t size);

}  // namespace nmode
