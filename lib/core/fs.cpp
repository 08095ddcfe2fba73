// File helpers; see fs.hpp.
#include "core/fs.hpp"

#include "core/errors.hpp"
#include "core/ids.hpp"

#include <cerrno>
#include <cstring>
#include <chrono>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace hearth::fs {
namespace {

/// 64 bits from getrandom(2): a seed without std::random_device, which opens /dev/urandom per
/// construction (once per thread here, so once per run under `hearth start`; issue 17 §3). Temp
/// names need to differ, not to be secret: without getrandom, the clock and the pid.
std::uint64_t getrandom_seed() {
  std::uint64_t seed = 0;
  try {
    ids::random_bytes(&seed, sizeof seed);
  } catch (const Error&) {
    seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
           (static_cast<std::uint64_t>(::getpid()) << 32);
  }
  return seed;
}

} // namespace

namespace stdfs = std::filesystem;

std::string read_file(const stdfs::path& path) {
  // read(2) into one buffer sized by fstat: no stream buffers and no copy of the contents (a
  // compiled manifest is ~400 KB on a large project and `info` reads it every call).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw errors::io_error("read", path.string(), std::strerror(errno));
  struct stat st {};
  std::string data;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
    data.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  char more[4096]; // past the expected size (a file that grew, /proc): appended as it comes
  for (;;) {
    const bool full = got == data.size();
    const ssize_t n = full ? ::read(fd, more, sizeof more) : ::read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw errors::io_error("read", path.string(), std::strerror(err));
    }
    if (n == 0) break;
    if (full) data.append(more, static_cast<std::size_t>(n));
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  data.resize(got);
  return data;
}

void write_file_atomic(const stdfs::path& path, std::string_view data, stdfs::perms mode) {
  std::error_code ec;
  if (path.has_parent_path()) stdfs::create_directories(path.parent_path(), ec);
  if (ec) throw errors::io_error("create directory", path.parent_path().string(), ec.message());
  static thread_local std::mt19937_64 rng{getrandom_seed()};
  const stdfs::path tmp = path.string() + ".tmp-" + std::to_string(rng() % 1000000000);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                        static_cast<mode_t>(mode));
  if (fd < 0) throw errors::io_error("write", tmp.string(), std::strerror(errno));
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw errors::io_error("write", tmp.string(), std::strerror(err));
    }
    written += static_cast<std::size_t>(n);
  }
  ::fchmod(fd, static_cast<mode_t>(mode)); // the umask narrowed the mode passed to open()
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw errors::io_error("write", path.string(), std::strerror(err));
  }
}

stdfs::path absolute_from(const stdfs::path& base, const stdfs::path& path) {
  stdfs::path p = path.is_absolute() ? path : base / path;
  p = p.lexically_normal();
  std::string s = p.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::string display_path(const stdfs::path& path, const stdfs::path& base) {
  const stdfs::path rel = path.lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..") return path.generic_string();
  return rel.generic_string();
}

} // namespace hearth::fs
