// DevSupervisor; see dev_supervisor.hpp.
#include "cli/dev_supervisor.hpp"

#include "cli/compile_report.hpp"
#include "cli/runtime_setup.hpp"
#include "cli/terminal.hpp"
#include "config/env_file.hpp"
#include "core/errors.hpp"

#include <array>
#include <cstdlib>
#include <iostream>

namespace hearth::cli {
namespace {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* k_keep_watching = "fix the error; dev is still watching";

/// Delays before restarting a crashed server, by crashes in a row (the last one repeats).
constexpr std::array<std::chrono::milliseconds, 4> k_restart_backoff = {
    std::chrono::milliseconds(0), std::chrono::milliseconds(250), std::chrono::milliseconds(1000),
    std::chrono::milliseconds(5000)};
/// A server that served this long before crashing counts as a first crash again.
constexpr std::chrono::seconds k_crash_forgiven{30};

std::string describe_delay(std::chrono::milliseconds delay) {
  if (delay.count() == 0) return "now";
  if (delay.count() % 1000 == 0) return "in " + std::to_string(delay.count() / 1000) + "s";
  return "in " + std::to_string(delay.count()) + "ms";
}

std::string join_names(const json& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item.value("name", "");
  return out.empty() ? "(none)" : out;
}

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

} // namespace

std::vector<std::string> dev_banner(const json& manifest, const config::Project& project,
                                    const std::string& url) {
  std::vector<std::string> lines{"hearth dev: " + manifest.value("name", project.name),
                                 "  server     " + url,
                                 "  source     " + project.source_root.string(),
                                 "  agents     " + join_names(manifest.value("agents", json::array())),
                                 "  workflows  " + join_names(manifest.value("workflows", json::array()))};
  bool first = true;
  for (const auto& route : manifest.value("routes", json::array())) {
    if (route.value("method", "") == "HEAD") continue; // every GET answers HEAD too
    lines.push_back(std::string(first ? "  routes     " : "             ") +
                    route.value("method", "") + " " + route.value("path", ""));
    first = false;
  }
  const auto agents = manifest.value("agents", json::array());
  if (!agents.empty())
    lines.push_back("connect with: hearth connect " + agents.front().value("name", "") + " local");
  lines.push_back("a crashed server restarts at once (then after 250ms, 1s, 5s if it keeps crashing)");
  lines.push_back("watching for changes; Ctrl+C to stop");
  return lines;
}

DevSupervisor::DevSupervisor(Settings settings) : m_settings(std::move(settings)) {}

DevSupervisor::~DevSupervisor() { stop(std::chrono::seconds(2)); }

std::string DevSupervisor::url() const {
  const bool v6 = m_settings.host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + m_settings.host + "]" : m_settings.host) + ":" +
         std::to_string(m_settings.port);
}

std::optional<config::Project> DevSupervisor::load_project() {
  // Values an earlier load took from .env files are dropped first, so an edited .env wins on
  // reload (Eve refreshes them too); variables from the shell were never ours to drop.
  for (const auto& key : m_env_keys) ::unsetenv(key.c_str());
  m_env_keys.clear();
  try {
    auto project = config::resolve(m_settings.flags, m_settings.cwd);
    project.env_files = config::env_files(project.root, m_settings.flags.env, m_settings.cwd);
    for (const auto& [key, value] : config::apply_env_files(project.env_files))
      m_env_keys.push_back(key);
    return project;
  } catch (const Error& e) {
    terminal::print_error(e.info());
    return std::nullopt;
  }
}

std::unique_ptr<runtime::Child> DevSupervisor::start_child(const config::Project& project) {
  auto args = runtime_args(project, m_settings.flags);
  args.insert(args.end(), {"--listen", (m_settings.host.find(':') != std::string::npos
                                            ? "[" + m_settings.host + "]"
                                            : m_settings.host) +
                                           ":" + std::to_string(m_settings.port),
                           "--reuse-port", "--dev"});
  auto child = std::make_unique<runtime::Child>(args);
  {
    std::lock_guard lock(m_mutex);
    if (m_stopping) return nullptr; // the destructor shuts it down
    m_starting = child.get();
  }
  try {
    child->wait_ready();
  } catch (...) {
    std::lock_guard lock(m_mutex);
    m_starting = nullptr;
    throw;
  }
  std::lock_guard lock(m_mutex);
  m_starting = nullptr;
  if (m_stopping) return nullptr;
  return child;
}

void DevSupervisor::rebuild() {
  const auto start = Clock::now();
  {
    std::lock_guard lock(m_mutex);
    if (m_stopping) return;
  }
  try {
    const auto project = load_project();
    if (!project) {
      terminal::info(k_keep_watching);
      return;
    }
    const auto compiled = compile_reporting(*project, /*quiet=*/m_generation > 0);
    if (!compiled) {
      terminal::info(k_keep_watching);
      return;
    }
    if (m_generation == 0)
      for (const auto& line : dev_banner(compiled->manifest, *project, url())) terminal::info(line);
    auto next = start_child(*project);
    if (!next) return;
    std::unique_ptr<runtime::Child> old;
    {
      std::lock_guard lock(m_mutex);
      old = std::exchange(m_current, std::move(next));
    }
    bool restarted = false;
    {
      std::lock_guard lock(m_mutex);
      restarted = std::exchange(m_restarting, false);
      m_serving_since = Clock::now();
    }
    if (++m_generation == 1) {
      terminal::info("server listening at " + url());
    } else if (restarted) {
      terminal::info("server restarted in " + std::to_string(ms_since(start)) + "ms");
    } else {
      terminal::info("reloaded in " + std::to_string(ms_since(start)) + "ms");
    }
    if (old) retire(std::move(old));
  } catch (const Error& e) {
    std::lock_guard lock(m_mutex);
    if (m_stopping) return; // a child killed because we are stopping is no news
    terminal::print_error(e.info());
    terminal::info(m_current ? "the previous server keeps serving; dev is still watching"
                             : k_keep_watching);
  } catch (const std::exception& e) {
    terminal::print_error(errors::internal_error(e.what()).info());
  }
}

void DevSupervisor::retire(std::unique_ptr<runtime::Child> old) {
  std::lock_guard lock(m_mutex);
  // Drop retirements that finished, so a long session does not pile up threads.
  std::erase_if(m_retiring, [](std::future<void>& f) {
    return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  });
  std::shared_ptr<runtime::Child> child(std::move(old));
  m_retiring.push_back(std::async(std::launch::async, [child] { child->shutdown(k_dev_drain_bound); }));
}

bool DevSupervisor::check_child() {
  std::unique_ptr<runtime::Child> dead;
  std::optional<process::ExitStatus> status;
  std::chrono::milliseconds delay{0};
  int crashes = 0;
  {
    std::lock_guard lock(m_mutex);
    if (!m_current || m_stopping) return false;
    status = m_current->try_wait();
    if (!status) return false;
    dead = std::move(m_current);
    if (Clock::now() - m_serving_since >= k_crash_forgiven) m_crashes = 0;
    delay = k_restart_backoff[static_cast<std::size_t>(
        std::min<int>(m_crashes, static_cast<int>(k_restart_backoff.size()) - 1))];
    crashes = ++m_crashes;
    m_restarting = true;
    m_restart_at = Clock::now() + delay;
  }
  terminal::warn("the server exited unexpectedly (" + status->describe() + "); restarting " +
                 describe_delay(delay) +
                 (crashes > 1 ? " (" + std::to_string(crashes) + " crashes in a row)" : ""));
  return true;
}

bool DevSupervisor::restart_due() {
  std::lock_guard lock(m_mutex);
  if (!m_restart_at || Clock::now() < *m_restart_at || m_stopping) return false;
  m_restart_at.reset();
  return true;
}

void DevSupervisor::stop(std::chrono::milliseconds drain) {
  std::unique_ptr<runtime::Child> current;
  std::vector<std::future<void>> retiring;
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
    if (m_starting) m_starting->kill(); // its wait_ready throws; the rebuild thread cleans up
    current = std::move(m_current);
    retiring = std::move(m_retiring);
  }
  if (current) current->shutdown(drain);
  for (auto& f : retiring) f.wait();
}

} // namespace hearth::cli
