// PidFile; see pid_file.hpp.
#include "watch/pid_file.hpp"

#include "core/errors.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <string>
#include <unistd.h>

namespace hearth::watch {

std::optional<pid_t> read_pid(const std::filesystem::path& path) {
  std::ifstream in(path);
  long long pid = 0;
  if (!(in >> pid) || pid <= 0 || pid > 0x7fffffff) return std::nullopt;
  return static_cast<pid_t>(pid);
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

PidFile::PidFile(std::filesystem::path path, pid_t pid) : m_path(std::move(path)), m_pid(pid) {
  std::error_code ec;
  std::filesystem::create_directories(m_path.parent_path(), ec);
  const auto temp = m_path.string() + ".tmp." + std::to_string(pid);
  {
    std::ofstream out(temp, std::ios::trunc);
    out << pid << '\n';
    if (!out.flush()) throw errors::io_error("write", temp, std::strerror(errno));
  }
  // A few rounds: a stale file we remove may be re-created by a racing claimant meanwhile.
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (::link(temp.c_str(), m_path.c_str()) == 0) {
      ::unlink(temp.c_str());
      return;
    }
    if (errno != EEXIST) {
      const int err = errno;
      ::unlink(temp.c_str());
      throw errors::io_error("create", m_path.string(), std::strerror(err));
    }
    const auto owner = read_pid(m_path);
    if (owner && *owner != pid && process_alive(*owner)) {
      ::unlink(temp.c_str());
      throw errors::dev_already_running(*owner, m_path.string());
    }
    ::unlink(m_path.c_str()); // stale (or unreadable, or ours from a reused pid): replace it
  }
  ::unlink(temp.c_str());
  throw errors::io_error("create", m_path.string(), "it keeps being re-created");
}

PidFile::~PidFile() {
  if (read_pid(m_path) == m_pid) ::unlink(m_path.c_str());
}

} // namespace hearth::watch
