// Arrays a user prepared for a model: inputs and labels from a NumPy .npy file
// or an IDX file (told apart by their magic bytes, not by the file name).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nmode/tensor.hpp"

namespace nmode {

struct InputArray {
  Tensor values;               // (n, rows * cols)
  int64_t rows = 1, cols = 0;  // (n, d) arrays: 1 x d; (n, h, w) arrays: h x w
};

// Inputs of shape (n, d) or (n, h, w). uint8 values are scaled by 1/255, as the
// MNIST loader does; float32/float64 values are taken as they are and must be
// finite (and fit float). Throws IoError naming the path and the problem (an
// unreadable or malformed file, another rank, integer types other than uint8,
// a non-finite value with its index).
InputArray read_input_array(const std::string& path);

// Class labels of shape (n): integer values (or integral floats) in [0, 2^31).
// Throws IoError naming the path, the index and the value otherwise.
std::vector<int32_t> read_label_array(const std::string& path);

}  // namespace nmode
