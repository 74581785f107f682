// Writing a whole text file (a CSV table, a report) atomically, as the library
// writes checkpoints: readers see the old file or the complete new one.
#pragma once

#include <string>

namespace nmode {

// Throws IoError naming the file and the cause; nothing is left behind on failure.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace nmode
