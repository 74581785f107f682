// Typed exceptions thrown by the library. The CLI maps InvalidArgument to exit
// code 2 (usage) and every other nmode::Error to exit code 1 (runtime).
#pragma once

#include <stdexcept>
#include <string>

namespace nmode {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An option or argument outside its valid range (names the option and value).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A file is missing, unreadable or malformed.
class IoError : public Error {
 public:
  using Error::Error;
};

// A CUDA runtime or library call failed.
class CudaError : public Error {
 public:
  using Error::Error;
};

}  // namespace nmode
