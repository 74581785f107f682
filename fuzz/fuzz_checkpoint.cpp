// Fuzz target: the safetensors checkpoint reader. Whatever it accepts must be
// saved again by the writer (the two sides agree on what a checkpoint is) and
// load back bitwise equal; whatever it refuses must be an nmode::IoError.
#include <cstdlib>
#include <cstring>

#include "nmode/checkpoint.hpp"
#include "nmode/error.hpp"
#include "scratch_file.hpp"

namespace {

bool same_bits(const nmode::Tensor& a, const nmode::Tensor& b) {
  return a.shape() == b.shape() &&
         (a.empty() || std::memcmp(a.data(), b.data(), sizeof(float) * size_t(a.size())) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nmode::fuzz::ScratchFile file(".safetensors");
  static const nmode::fuzz::ScratchFile copy(".again.safetensors");
  nmode::Checkpoint loaded;
  try {
    loaded = nmode::load_checkpoint(file.write(data, size));
  } catch (const nmode::IoError&) {
    return 0;
  }
  nmode::save_checkpoint(copy.path(), loaded);  // anything thrown here is a defect
  const nmode::Checkpoint again = nmode::load_checkpoint(copy.path());
  if (again.metadata != loaded.metadata || again.tensors.size() != loaded.tensors.size()) std::abort();
  for (const auto& [name, tensor] : loaded.tensors) {
    const auto it = again.tensors.find(name);
    if (it == again.tensors.end() || !same_bits(it->second, tensor)) std::abort();
  }
  return 0;
}
