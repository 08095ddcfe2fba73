// `.hearth/dev-process.pid` (seed page 19, "Dev server lifecycle"): one `hearth dev` per project.
// A second one exits with the first one's pid and how to stop it; a pid file whose process is
// gone (a crash, kill -9) is replaced.
#pragma once

#include <filesystem>
#include <optional>
#include <sys/types.h>

namespace hearth::watch {

/// The pid recorded in `path`, or nullopt when the file is missing or does not hold a pid.
std::optional<pid_t> read_pid(const std::filesystem::path& path);

/// True when a process with this pid exists (kill(pid, 0) succeeds or fails with EPERM).
bool process_alive(pid_t pid);

/// Ownership of a pid file while alive.
class PidFile {
public:
  /// Claims `path` (creating its directory) for `pid`. The file appears atomically (link of a
  /// complete temporary), so two racing claimants cannot both win. Throws
  /// errors::dev_already_running when the file names another live process, errors::io_error when
  /// it cannot be written.
  explicit PidFile(std::filesystem::path path, pid_t pid);
  /// Removes the file if it still names our pid.
  ~PidFile();
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

  const std::filesystem::path& path() const { return m_path; }

private:
  std::filesystem::path m_path;
  pid_t m_pid;
};

} // namespace hearth::watch
