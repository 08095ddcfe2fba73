// `hearth dev`: the long-running sibling of `run`. A supervisor that compiles, serves the project
// through a runtime child in serving mode, watches the tree and reloads with zero downtime
// (ARCHITECTURE.md §1; seed pages 15 and 19). Headless only: `--no-ui` is accepted for Eve users.
#include "cli/commands/commands.hpp"
#include "cli/dev_supervisor.hpp"
#include "cli/terminal.hpp"
#include "core/errors.hpp"
#include "core/signals.hpp"
#include "watch/pid_file.hpp"
#include "watch/rebuilder.hpp"
#include "watch/watcher.hpp"

#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace hearth::cli {
namespace {
using Clock = std::chrono::steady_clock;

struct DevOptions {
  bool no_ui = false; // accepted; there is no terminal UI to turn off
  config::ProjectFlags project{};
};

/// Binds `host:port` without SO_REUSEPORT and returns the port bound (the kernel's choice for
/// 0). Generations share the port with SO_REUSEPORT, so a plain bind failing means someone else
/// holds it: better said now than as a child that cannot start. Throws errors::usage.
int claim_port(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found)
    throw errors::invalid_flag("--host", "cannot resolve \"" + host + "\"", "e.g. --host 127.0.0.1");
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); // TIME_WAIT is no conflict
  const bool bound = fd >= 0 && ::bind(fd, found->ai_addr, found->ai_addrlen) == 0;
  const int err = errno;
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (bound) ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (fd >= 0) ::close(fd);
  ::freeaddrinfo(found);
  if (!bound)
    throw errors::usage("Cannot listen on " + host + ":" + std::to_string(port) + ": " +
                            std::strerror(err) + ".",
                        "Pick another port with --port, or stop what holds this one.");
  return ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                          : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

/// "change: workflows/hello.md" lines, at most three per batch.
void report_changes(const std::vector<watch::Change>& changes, const std::filesystem::path& root) {
  std::size_t shown = 0;
  for (const auto& c : changes) {
    if (++shown > 3) {
      terminal::info("  and " + std::to_string(changes.size() - 3) + " more");
      break;
    }
    const auto rel = c.path.lexically_relative(root).string();
    terminal::info(c.kind == watch::ChangeKind::rescan ? std::string("change: events lost; rescanning")
                                                       : std::string("change: ") + (rel.empty() ? "." : rel) +
                                                             " (" + watch::to_string(c.kind) + ")");
  }
}

int run_dev(const DevOptions& opts) {
  const auto cwd = std::filesystem::current_path();
  const auto project = config::resolve(opts.project, cwd); // env files load per rebuild
  watch::PidFile pid_file(project.root / ".hearth" / "dev-process.pid", ::getpid());
  const int port = claim_port(project.host, project.port);

  signals::SignalPipe signals; // before any child, so Ctrl-C is ours to handle
  DevSupervisor supervisor({.flags = opts.project, .cwd = cwd, .host = project.host, .port = port});
  watch::Rebuilder rebuilder([&supervisor] { supervisor.rebuild(); });
  const auto watcher = watch::make_watcher(
      {.root = project.root,
       .ignored_dirs = {project.output, project.root / ".hearth", project.state_dir}});
  rebuilder.request(); // the initial build
  watch::Debouncer debounce;
  int signo = 0;
  auto last_scan = Clock::now();
  while (signo == 0) {
    const auto deadline = debounce.deadline();
    int timeout_ms = 100; // the cadence of child health checks (a crash restarts at once)
    if (deadline)
      timeout_ms = static_cast<int>(std::clamp<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count() + 1,
          0, 100));
    pollfd fds[2] = {{.fd = signals.fd(), .events = POLLIN, .revents = 0},
                     {.fd = watcher->fd(), .events = POLLIN, .revents = 0}};
    ::poll(fds, watcher->fd() >= 0 ? 2 : 1, timeout_ms);
    if (const auto taken = signals.take()) {
      signo = *taken;
      break;
    }
    // A polling watcher scans the tree on each take(): at most every 500 ms.
    if (watcher->fd() < 0 && Clock::now() - last_scan < std::chrono::milliseconds(500)) {
      if (debounce.fire(Clock::now())) rebuilder.request();
      supervisor.check_child();
      if (supervisor.restart_due()) rebuilder.request();
      continue;
    }
    last_scan = Clock::now();
    const auto changes = watcher->take();
    if (!changes.empty()) {
      report_changes(changes, project.root);
      debounce.note(Clock::now());
    }
    if (debounce.fire(Clock::now())) rebuilder.request();
    supervisor.check_child(); // a crashed server restarts at once, with backoff if repeated
    if (supervisor.restart_due()) rebuilder.request();
  }
  terminal::info(signo == SIGINT ? "interrupted; stopping" : "terminated; stopping");
  rebuilder.cancel_queued();
  supervisor.stop(std::chrono::seconds(2));
  return 128 + signo;
}

} // namespace

void register_dev(CLI::App& app, Dispatch& dispatch) {
  auto opts = std::make_shared<DevOptions>();
  auto* cmd = app.add_subcommand("dev", "Serve the project, rebuild on change, reload with zero downtime");
  cmd->add_flag("--no-ui", opts->no_ui, "Headless (the only mode; accepted for Eve users)");
  add_project_flags(*cmd, opts->project, /*with_server=*/true);
  add_target_flag(*cmd);
  cmd->footer("Exit codes: 130 on Ctrl+C, 143 on SIGTERM, 1 when another dev server runs here.");
  cmd->callback([&dispatch, opts] { dispatch.run = [opts] { return run_dev(*opts); }; });
}

} // namespace hearth::cli
