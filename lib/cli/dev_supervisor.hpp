// The `hearth dev` supervisor (ARCHITECTURE.md §1): each rebuild compiles the project and starts a
// runtime child in serving mode on the same port (SO_REUSEPORT); once the new child reports ready,
// the old one gets `shutdown` and drains in the background. A failed compile or start leaves the
// serving child alone.
#pragma once

#include "config/config.hpp"
#include "runtime/child.hpp"

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hearth::cli {

/// How long an old generation may drain before it is stopped (the child bounds itself at 10 s).
inline constexpr std::chrono::seconds k_dev_drain_bound{12};

class DevSupervisor {
public:
  struct Settings {
    config::ProjectFlags flags{};   // as typed; re-resolved on every rebuild
    std::filesystem::path cwd{};    // where they were typed
    std::string host{};             // listen address of every generation
    int port = 0;                   // a real port (not 0): generations must share it
  };

  explicit DevSupervisor(Settings settings);
  /// Stops every child (see stop()).
  ~DevSupervisor();
  DevSupervisor(const DevSupervisor&) = delete;
  DevSupervisor& operator=(const DevSupervisor&) = delete;

  /// One rebuild: reload hearth.json and .env files, compile, start the next generation and
  /// retire the previous one. Prints progress and errors on stderr; never throws. Called on the
  /// Rebuilder's thread, one at a time.
  void rebuild();

  /// Reports a serving child that exited on its own, forgets it and schedules its restart: at
  /// once for a first crash, then after k_restart_backoff delays for crashes in a row (a child
  /// that served k_crash_forgiven resets the count). Returns true when it found one.
  bool check_child();

  /// True (once) when a restart scheduled by check_child() is due: the caller requests a rebuild.
  bool restart_due();

  /// Stops starting and serving children: `shutdown` with `drain`, then their process groups;
  /// waits for retiring generations too. Later rebuilds do nothing. Idempotent.
  void stop(std::chrono::milliseconds drain);

  /// http://host:port.
  std::string url() const;

private:
  std::optional<config::Project> load_project();
  std::unique_ptr<runtime::Child> start_child(const config::Project& project);
  void retire(std::unique_ptr<runtime::Child> old);

  Settings m_settings;
  mutable std::mutex m_mutex;
  std::unique_ptr<runtime::Child> m_current{}; // the generation that serves
  runtime::Child* m_starting = nullptr;        // the generation waiting for `ready`
  std::vector<std::future<void>> m_retiring{}; // old generations draining
  bool m_stopping = false;
  int m_generation = 0;                        // successful starts so far
  int m_crashes = 0;                           // crashes in a row (restart backoff)
  bool m_restarting = false;                   // the next successful start is a restart
  std::optional<std::chrono::steady_clock::time_point> m_restart_at{};
  std::chrono::steady_clock::time_point m_serving_since{};
  std::vector<std::string> m_env_keys{};       // variables the last env-file load set
};

/// The lines of the start-up banner for a compiled manifest (server URL, source root, agents,
/// workflows, routes, how to connect). Pure, for tests.
std::vector<std::string> dev_banner(const nlohmann::json& manifest, const config::Project& project,
                                    const std::string& url);

} // namespace hearth::cli
