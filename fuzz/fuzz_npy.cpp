// Fuzz target: the .npy reader. Whatever it accepts must hold exactly the bytes
// its shape and dtype need, and a float32 array must be saved again by the
// writer and load back bitwise equal; whatever it refuses must be an nmode::IoError.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "nmode/error.hpp"
#include "nmode/npy.hpp"
#include "scratch_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nmode::fuzz::ScratchFile file(".npy");
  static const nmode::fuzz::ScratchFile copy(".again.npy");
  nmode::NpyArray loaded;
  try {
    loaded = nmode::read_npy(file.write(data, size));
  } catch (const nmode::IoError&) {
    return 0;
  }
  if (loaded.shape.size() > 8 || loaded.numel() < 0 ||
      static_cast<size_t>(loaded.numel()) * nmode::npy_element_size(loaded.type) != loaded.bytes.size())
    std::abort();
  if (loaded.type != nmode::NpyType::F32) return 0;
  std::vector<float> values(loaded.bytes.size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), loaded.bytes.data(), loaded.bytes.size());
  nmode::write_npy(copy.path(), loaded.shape, values);  // anything thrown here is a defect
  const nmode::NpyArray again = nmode::read_npy(copy.path());
  if (again.type != loaded.type || again.shape != loaded.shape || again.bytes != loaded.bytes) std::abort();
  return 0;
}
