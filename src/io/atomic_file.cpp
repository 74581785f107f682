// Atomic whole-file writes (temporary file + fsync + rename).
#include "io/atomic_file.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "nmode/error.hpp"

namespace nmode {

void write_file_atomically(const std::string& path, const std::vector<ByteRange>& pieces) {
  static std::atomic<unsigned> counter{0};
  // pid and a counter: concurrent writers in one process or several never share a name.
  const std::string tmp = path + ".tmp." + std::to_string(static_cast<long>(getpid())) + "." +
                          std::to_string(counter.fetch_add(1));
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) throw IoError("cannot create " + tmp + ": " + std::strerror(errno));
  // Every failure removes the temporary file before it reports.
  auto fail = [&](const std::string& what) {
    const int e = errno;
    if (f != nullptr) std::fclose(f);
    std::remove(tmp.c_str());
    return IoError(what + ": " + std::strerror(e));
  };
  for (const ByteRange& piece : pieces)
    if (piece.size != 0 && std::fwrite(piece.data, 1, piece.size, f) != piece.size) throw fail("cannot write " + tmp);
  // fsync before rename: otherwise a power loss can leave the renamed file empty.
  if (std::fflush(f) != 0 || ::fsync(::fileno(f)) != 0) throw fail("cannot flush " + tmp + " to disk");
  const int closed = std::fclose(f);
  f = nullptr;
  if (closed != 0) throw fail("cannot close " + tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw fail("cannot rename " + tmp + " to " + path);
}

}  // namespace nmode
