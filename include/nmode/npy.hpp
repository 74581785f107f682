// Reading and writing NumPy .npy files (format versions 1.0, 2.0 and 3.0,
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html), so
// data prepared in Python can be fed to nmode and results read back with np.load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nmode {

// The element types nmode reads: enough for images, labels and model values.
enum class NpyType { U8, I32, I64, F32, F64 };

// "uint8", "int32", "int64", "float32" or "float64" (NumPy's dtype names).
const char* to_string(NpyType t);
// Bytes per element: 1, 4 or 8.
size_t npy_element_size(NpyType t);

// One array, always C order and little-endian in memory.
struct NpyArray {
  NpyType type = NpyType::F32;
  std::vector<int64_t> shape;  // C order; rank 0..8 (rank 0 = a scalar, 1 element)
  std::vector<uint8_t> bytes;  // numel() * element size, little-endian (swapped on read from a '>' file)
  int64_t numel() const;
};

// Reads a .npy file. Accepted dtypes: '<u1' '|u1' '<i4' '<i8' '<f4' '<f8', with
// '>' (byte-swapped on read) and '=' spellings too, '|' for one-byte types only;
// fortran_order must be False. Throws IoError naming the path and the problem for
// a missing or unreadable file, a directory, bad magic, an unsupported version, a
// header length beyond the file or over 1 MiB, a header that is not the dict
// NumPy writes (missing, duplicate or unknown keys, bad literal syntax), an
// unsupported dtype, a negative or oversized shape (over 2^31 elements or 16 GiB),
// truncated data and trailing bytes. Nothing is allocated for the data before
// the file is known to hold exactly what the header says.
NpyArray read_npy(const std::string& path);

// The values as float: F64 rounded to nearest, integers converted as they are
// (scaling, e.g. uint8 pixels / 255, is the caller's choice). Throws
// InvalidArgument, naming the index, for an F64 value beyond float's range.
std::vector<float> npy_to_floats(const NpyArray& a);

// The values as integers (e.g. labels): U8, I32 and I64 as they are; F32 and F64
// only when every value is integral and fits int64, else InvalidArgument naming
// the first bad index and value.
std::vector<int64_t> npy_to_integers(const NpyArray& a);

// Writes a version-1.0 .npy file as np.save does ('<f4' or '<i8', C order, data
// 64-byte aligned), atomically: a failure leaves any previous file untouched.
// Throws InvalidArgument when a dimension is negative or data.size() is not the
// shape's product (a scalar has shape {}), IoError when writing fails.
void write_npy(const std::string& path, const std::vector<int64_t>& shape, const std::vector<float>& data);
void write_npy(const std::string& path, const std::vector<int64_t>& shape, const std::vector<int64_t>& data);

}  // namespace nmode
