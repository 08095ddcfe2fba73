// The runtime child, seen from the CLI; see child.hpp.
#include "runtime/child.hpp"

#include "core/errors.hpp"

extern char** environ;

namespace hearth::runtime {

namespace {

std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e)
    if (std::string_view(*e).rfind("HEARTH_INTERNAL_IPC=", 0) != 0) env.emplace_back(*e);
  env.emplace_back("HEARTH_INTERNAL_IPC=1");
  return env;
}

} // namespace

Child::Child(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/proc/self/exe", "runtime"};
  argv.insert(argv.end(), args.begin(), args.end());
  m_process = std::make_unique<process::Process>(
      process::SpawnOptions{.argv = argv, .env = child_environment(), .pipe_stderr = false});
  ipc::PeerOptions options;
  options.name = "the runtime";
  options.describe_eof = [this] {
    const auto status = m_process->wait_for(std::chrono::milliseconds(200));
    return status ? "it exited with " + status->describe() : std::string("it closed its output");
  };
  m_peer = std::make_unique<ipc::Peer>(m_process->stdout_fd(), m_process->stdin_fd(), options);
  m_peer->on_notification("ready", [this](const ipc::Notification& n) {
    std::lock_guard lock(m_ready_mutex);
    m_ready = true;
    m_ready_params = n.params;
    m_ready_cv.notify_all();
  });
  m_peer->on_notification("error", [this](const ipc::Notification& n) {
    std::lock_guard lock(m_ready_mutex);
    m_startup_error = n.params.value("message", std::string());
    m_ready_cv.notify_all();
  });
  m_peer->start();
}

Child::~Child() {
  try {
    if (m_peer && !m_peer->is_closed()) {
      ipc::CallOptions options;
      options.timeout = std::chrono::milliseconds(1000);
      m_peer->request("shutdown", nlohmann::json::object(), options);
      m_process->wait_for(std::chrono::milliseconds(1000)); // it exits on its own after replying
    }
  } catch (...) {
    // Already gone or unresponsive: stop() below ends it either way.
  }
  m_peer.reset();
  const auto status = m_process->stop();
  // Tools or scripts of a runtime that died (kill -9) were reparented to us: end them too. A
  // runtime that exited cleanly stopped its own children, so the /proc scan is skipped then.
  if (!(status.exited() && status.code == 0)) process::reap_orphans();
}

void Child::wait_ready(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(m_ready_mutex);
  while (!m_ready && m_startup_error.empty()) {
    if (m_peer->is_closed()) break;
    if (m_ready_cv.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() +
                                                           std::chrono::milliseconds(50))) ==
            std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline)
      break;
  }
  if (m_ready) return;
  lock.unlock();
  std::string reason = m_startup_error;
  if (reason.empty()) {
    const auto status = m_process->wait_for(std::chrono::milliseconds(m_peer->is_closed() ? 500 : 0));
    reason = status ? "it exited with " + status->describe()
                    : "it sent no `ready` within " +
                          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
                          " s";
  }
  m_process->stop();
  throw errors::runtime_not_ready(reason);
}

nlohmann::json Child::request(const std::string& method, const nlohmann::json& params,
                              const std::function<void(const nlohmann::json&)>& on_event) {
  ipc::CallOptions options;
  options.on_notification = [&on_event](const ipc::Notification& n) {
    if (n.method == "event" && on_event) on_event(n.params.value("event", nlohmann::json()));
  };
  return m_peer->request(method, params, options);
}

bool Child::notify(const std::string& method, const nlohmann::json& params) {
  return m_peer->notify(method, params);
}

void Child::kill() { m_process->stop(std::chrono::milliseconds(1000)); }

std::optional<process::ExitStatus> Child::exit_status() { return m_process->exit_status(); }

nlohmann::json Child::ready_params() const {
  std::lock_guard lock(m_ready_mutex);
  return m_ready_params;
}

process::ExitStatus Child::shutdown(std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  try {
    if (!m_peer->is_closed()) {
      ipc::CallOptions options;
      options.timeout = bound;
      m_peer->request("shutdown", nlohmann::json::object(), options);
    }
  } catch (...) {
    // Gone already, or it did not answer in time: the wait and stop below settle it.
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (const auto status = m_process->wait_for(std::max(left, std::chrono::milliseconds(0))))
    return *status;
  return m_process->stop();
}

std::optional<process::ExitStatus> Child::try_wait() { return m_process->try_wait(); }

} // namespace hearth::runtime
