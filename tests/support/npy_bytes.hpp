// .npy files built byte by byte from the format's spec (version 1.0, data
// 64-byte aligned), for tests that must not trust nmode's own writer.
#pragma once

#include <string>
#include <vector>

namespace nmode::test {

// descr e.g. "<f4" or "|u1", shape e.g. "(2, 3)" or "(5,)", data the raw bytes.
inline std::string npy_bytes(const std::string& descr, const std::string& shape, const std::string& data) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string b = "\x93NUMPY";
  b += '\x01';
  b += '\x00';
  b += static_cast<char>(header.size() & 0xFF);
  b += static_cast<char>(header.size() >> 8);
  return b + header + data;
}

template <class T>
std::string raw_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

}  // namespace nmode::test
