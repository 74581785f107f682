// Reading IDX files, the container format of MNIST and Fashion-MNIST
// (http://yann.lecun.com/exdb/mnist/), raw or gzip-compressed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nmode {

// One IDX array. Only unsigned-byte data (type 0x08) is supported.
struct IdxArray {
  uint8_t type_code = 0;       // 0x08 = unsigned byte
  std::vector<int64_t> dims;   // rank 1..4, e.g. (60000, 28, 28)
  std::vector<uint8_t> data;   // product(dims) values, row-major
};

// Reads an IDX file; gzip is recognised by its 1f 8b magic, not by the file
// name. Throws IoError, naming the path, for a missing, truncated, oversized
// or malformed file (bad magic, unsupported type, rank outside 1..4, more than
// 2^31 elements, corrupt gzip stream, trailing bytes).
IdxArray read_idx(const std::string& path);

}  // namespace nmode
