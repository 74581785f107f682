// Atomic whole-file writes (temporary file + fsync + rename + fsync of the folder),
// and the removal of temporary files that killed writers left behind.
#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "nmode/error.hpp"
#include "nmode/text_file.hpp"

namespace nmode {
namespace {

namespace fs = std::filesystem;

fs::path folder_of(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

// The pid in "<name>.tmp.<pid>.<n>", or 0 when `file` is not such a name.
pid_t writer_pid(const std::string& file, const std::string& prefix) {
  if (file.compare(0, prefix.size(), prefix) != 0) return 0;
  const char* first = file.data() + prefix.size();
  const char* last = file.data() + file.size();
  pid_t pid = 0;
  const auto r = std::from_chars(first, last, pid);
  if (r.ec != std::errc() || r.ptr == last || *r.ptr != '.' || pid <= 0) return 0;
  unsigned n = 0;
  const auto rest = std::from_chars(r.ptr + 1, last, n);
  return rest.ec == std::errc() && rest.ptr == last ? pid : 0;
}

// A writer holds an exclusive flock on its temporary file from creation until it
// closes it, and the kernel drops the lock when the process dies.
bool writer_holds_lock(const fs::path& file, bool& lock_unsupported) {
  lock_unsupported = false;
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;  // gone already, or unreadable: leave it
  const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  if (held && errno != EWOULDBLOCK) lock_unsupported = true;
  ::close(fd);
  return held && !lock_unsupported;
}

// Temporary files of this path whose writer is gone (kill -9, a crash, a power
// loss): its pid names no process here and nobody holds the file's lock (a writer
// in another pid namespace sharing the folder looks dead but still holds it).
// Where the file system has no flock, a file unchanged for a minute counts as
// stale instead. Best effort: what cannot be read or removed stays.
void remove_stale_temporaries(const std::string& path) {
  const std::string prefix = fs::path(path).filename().string() + ".tmp.";
  const auto minute_ago = fs::file_time_type::clock::now() - std::chrono::minutes(1);
  std::error_code ec;
  for (fs::directory_iterator it(folder_of(path), ec), end; !ec && it != end; it.increment(ec)) {
    const pid_t pid = writer_pid(it->path().filename().string(), prefix);
    if (pid == 0 || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    bool lock_unsupported = false;
    if (writer_holds_lock(it->path(), lock_unsupported)) continue;
    std::error_code stat_ec;
    if (lock_unsupported) {
      const auto changed = fs::last_write_time(it->path(), stat_ec);
      if (stat_ec || changed >= minute_ago) continue;
    }
    fs::remove(it->path(), stat_ec);
  }
}

// After the rename, so that the new name itself survives a power loss. The data
// are already on disk; a folder that cannot be synced costs only that guarantee.
void sync_folder(const std::string& path) {
  const int fd = ::open(folder_of(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::vector<ByteRange>& pieces) {
  remove_stale_temporaries(path);
  static std::atomic<unsigned> counter{0};
  // pid and a counter: concurrent writers in one process or several never share a name.
  const std::string tmp = path + ".tmp." + std::to_string(static_cast<long>(getpid())) + "." +
                          std::to_string(counter.fetch_add(1));
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) throw IoError("cannot create " + tmp + ": " + std::strerror(errno));
  // Marks the file as in use for remove_stale_temporaries of other processes;
  // best effort (a file system without flock falls back to the file's age).
  (void)::flock(::fileno(f), LOCK_EX | LOCK_NB);
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
  sync_folder(path);
}

void write_text_file(const std::string& path, const std::string& text) {
  write_file_atomically(path, text.data(), text.size());
}

}  // namespace nmode
