// Fuzz target: the gzip path of the IDX reader. The input is compressed before
// it is written, so the fuzzer explores the IDX layout behind a valid gzip
// stream (fuzz_idx.cpp covers broken streams). A successful read must give
// back exactly the uncompressed bytes after the header.
#include <zlib.h>

#include <cstdlib>
#include <cstring>

#include "nmode/error.hpp"
#include "nmode/idx.hpp"
#include "scratch_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nmode::fuzz::ScratchFile file(".idx.gz");
  gzFile gz = gzopen(file.path().c_str(), "wb1");
  if (!gz || (size > 0 && gzwrite(gz, data, static_cast<unsigned>(size)) != static_cast<int>(size)) ||
      gzclose(gz) != Z_OK)
    std::abort();
  try {
    const nmode::IdxArray a = nmode::read_idx(file.path());
    const size_t header = 4 + 4 * a.dims.size();
    if (header + a.data.size() != size ||
        (!a.data.empty() && std::memcmp(a.data.data(), data + header, a.data.size()) != 0))
      std::abort();
  } catch (const nmode::IoError&) {
  }
  return 0;
}
