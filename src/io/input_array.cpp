// Inputs and labels from .npy or IDX files (see nmode/input_array.hpp).
#include "nmode/input_array.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

#include "nmode/error.hpp"
#include "nmode/idx.hpp"
#include "nmode/npy.hpp"

namespace nmode {
namespace {

// NumPy's magic: "\x93NUMPY"; everything else is read as IDX, whose reader
// names the problem if it is not one either.
bool is_npy(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;  // the IDX reader reports why it cannot be opened
  unsigned char magic[6] = {};
  const size_t got = std::fread(magic, 1, sizeof magic, f);
  std::fclose(f);
  return got == 6 && magic[0] == 0x93 && magic[1] == 'N' && magic[2] == 'U' && magic[3] == 'M' &&
         magic[4] == 'P' && magic[5] == 'Y';
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// Either file kind as one array; an IDX file is an array of uint8.
NpyArray read_array(const std::string& path) {
  if (is_npy(path)) return read_npy(path);
  IdxArray idx = read_idx(path);
  NpyArray a;
  a.type = NpyType::U8;
  a.shape = idx.dims;
  a.bytes = std::move(idx.data);
  return a;
}

}  // namespace

InputArray read_input_array(const std::string& path) {
  const NpyArray a = read_array(path);
  if (a.shape.size() != 2 && a.shape.size() != 3)
    throw IoError("'" + path + "': inputs must be an array of shape (n, d) or (n, h, w), got " + shape_text(a.shape));
  if (a.type == NpyType::I32 || a.type == NpyType::I64)
    throw IoError("'" + path + "': integer inputs of type " + std::string(to_string(a.type)) +
                  " are ambiguous (scaled or not?); save them as float32, or as uint8 pixels to be divided by 255");
  std::vector<float> values;
  try {
    values = npy_to_floats(a);
  } catch (const InvalidArgument& e) {
    throw IoError("'" + path + "': " + e.what());
  }
  InputArray in;
  in.rows = a.shape.size() == 3 ? a.shape[1] : 1;
  in.cols = a.shape.size() == 3 ? a.shape[2] : a.shape[1];
  in.values = Tensor({a.shape[0], in.rows * in.cols});
  const float scale = a.type == NpyType::U8 ? 1.0f / 255.0f : 1.0f;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i]))
      throw IoError("'" + path + "': input value " + std::to_string(i) + " is not finite (" +
                    std::to_string(values[i]) + ")");
    in.values[int64_t(i)] = values[i] * scale;
  }
  return in;
}

std::vector<int32_t> read_label_array(const std::string& path) {
  const NpyArray a = read_array(path);
  if (a.shape.size() != 1)
    throw IoError("'" + path + "': labels must be an array of shape (n,), got " + shape_text(a.shape));
  std::vector<int64_t> values;
  try {
    values = npy_to_integers(a);
  } catch (const InvalidArgument& e) {
    throw IoError("'" + path + "': labels must be integers: " + e.what());
  }
  std::vector<int32_t> labels(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < 0 || values[i] > std::numeric_limits<int32_t>::max())
      throw IoError("'" + path + "': label " + std::to_string(i) + " is " + std::to_string(values[i]) +
                    "; labels are class indices >= 0");
    labels[i] = static_cast<int32_t>(values[i]);
  }
  return labels;
}

}  // namespace nmode
