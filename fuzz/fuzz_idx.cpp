// Fuzz target: the IDX reader on arbitrary bytes (raw IDX, and gzip streams,
// which the reader recognises by their magic). Any outcome but an IdxArray that
// matches its header or an nmode::IoError is a defect.
#include <cstdlib>

#include "nmode/error.hpp"
#include "nmode/idx.hpp"
#include "scratch_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nmode::fuzz::ScratchFile file(".idx");
  try {
    const nmode::IdxArray a = nmode::read_idx(file.write(data, size));
    size_t count = 1;
    for (int64_t d : a.dims) count *= static_cast<size_t>(d);
    if (a.type_code != 0x08 || a.dims.empty() || a.dims.size() > 4 || a.data.size() != count) std::abort();
  } catch (const nmode::IoError&) {
  }
  return 0;
}
