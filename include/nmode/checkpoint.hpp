// Checkpoints in the safetensors format (https://github.com/huggingface/safetensors),
// so saved weights load directly in NumPy, PyTorch and JAX. Writes are atomic
// (temporary file + rename); reads validate every header field before allocating.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nmode/tensor.hpp"

namespace nmode {

struct Checkpoint {
  std::map<std::string, Tensor> tensors;        // name -> tensor, stored as dtype F32
  std::map<std::string, std::string> metadata;  // "__metadata__": hyper-parameters, architecture, ...
};

// Writes `ckpt` to `path + ".tmp.<pid>"` in the same directory, flushes it to
// disk and renames it over `path`, so `path` holds either the old or the new
// checkpoint, never a partial one. Tensors are laid out in name order.
// Throws InvalidArgument for a tensor name that is empty or "__metadata__", or
// for names/metadata that are not valid UTF-8 (nothing is written then), and
// IoError when writing fails (the temporary file is removed).
// NaN and Inf values are saved as they are.
void save_checkpoint(const std::string& path, const Checkpoint& ckpt);

// Reads a safetensors file whose tensors are all F32. Throws IoError naming the
// path and the problem for any malformed, truncated or unsupported file.
Checkpoint load_checkpoint(const std::string& path);

// The tensor `name`, checked to have `expected_shape`. Throws IoError naming the
// tensor and both shapes on a mismatch, or listing the stored names when absent.
const Tensor& checkpoint_tensor(const Checkpoint& ckpt, const std::string& name,
                                const std::vector<int64_t>& expected_shape);

// Metadata value for `key`; throws IoError when the checkpoint lacks it.
std::string checkpoint_meta(const Checkpoint& ckpt, const std::string& key);

}  // namespace nmode
