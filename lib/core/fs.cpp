// File helpers; see fs.hpp.
#include "core/fs.hpp"

#include "core/errors.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace hearth::fs {
namespace stdfs = std::filesystem;

std::string read_file(const stdfs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw errors::io_error("read", path.string(), std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw errors::io_error("read", path.string(), std::strerror(errno));
  return buffer.str();
}

void write_file_atomic(const stdfs::path& path, std::string_view data, stdfs::perms mode) {
  std::error_code ec;
  if (path.has_parent_path()) stdfs::create_directories(path.parent_path(), ec);
  if (ec) throw errors::io_error("create directory", path.parent_path().string(), ec.message());
  static thread_local std::mt19937_64 rng{std::random_device{}()};
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
