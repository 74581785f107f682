// Atomic whole-file writes (temporary file + rename).
#include "atomic_file.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "nmode/error.hpp"

namespace nmode {

void write_file_atomically(const std::string& path, const void* data, size_t size) {
  static std::atomic<unsigned> counter{0};
  // pid and a counter: concurrent writers in one process or several never share a name.
  const std::string tmp = path + ".tmp-" + std::to_string(static_cast<long>(getpid())) + "-" +
                          std::to_string(counter.fetch_add(1));
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) throw IoError("cannot create " + tmp + ": " + std::strerror(errno));
  const bool wrote = size == 0 || std::fwrite(data, 1, size, f) == size;
  const int write_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (!wrote || !closed) {
    std::remove(tmp.c_str());
    throw IoError("cannot write " + tmp + ": " + std::strerror(wrote ? errno : write_errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    throw IoError("cannot rename " + tmp + " to " + path + ": " + std::strerror(e));
  }
}

}  // namespace nmode
