// The runtime child's serving mode; see child.hpp.
#include "server/child.hpp"

#include "core/errors.hpp"
#include "core/process.hpp"
#include "core/signals.hpp"
#include "ipc/peer.hpp"
#include "runtime/runtime.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <iostream>

namespace hearth::server {

void parse_listen(const std::string& text, ServerOptions& options) {
  const auto colon = text.rfind(':');
  auto bad = [&](const char* problem) {
    return errors::invalid_flag("--listen", "\"" + text + "\": " + problem,
                                "Use HOST:PORT, e.g. 127.0.0.1:3583 (port 0 picks a free one).");
  };
  if (colon == std::string::npos || colon == 0) throw bad("expected HOST:PORT");
  std::string host = text.substr(0, colon);
  const auto port = text.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535)
    throw bad("the port must be 0..65535");
  options.host = host;
  options.port = std::stoi(port);
}

void apply_limits(const config::ServerLimits& limits, ServerOptions& options) {
  if (limits.max_body_bytes) options.max_body_bytes = *limits.max_body_bytes;
  if (limits.max_streams) options.max_streams = *limits.max_streams;
  if (limits.max_connections) options.max_connections = *limits.max_connections;
  if (limits.max_header_bytes) options.max_header_bytes = *limits.max_header_bytes;
  if (limits.max_url_bytes) options.max_url_bytes = *limits.max_url_bytes;
  if (limits.max_param_bytes) options.max_param_bytes = *limits.max_param_bytes;
}

int serve_child(runtime::Runtime& runtime, ServerOptions options, runtime::WarmServer* warm) {
  signals::SignalPipe signal_pipe;
  Server server(runtime, std::move(options));
  server.start(); // throws server_bind_failed before anything is announced
  if (warm) warm->start(); // throws io_error before anything is announced
  // Every way out below removes the socket first (if it is still ours), _exit included.
  const auto warm_stop_accepting = [warm] {
    if (warm) warm->stop_accepting();
  };
  if (const auto resumed = server.resume_abandoned_runs(); resumed > 0)
    std::cerr << "hearth: resuming " << resumed << " run(s) whose runtime stopped" << std::endl;
  std::atomic<bool> stop{false};
  ipc::PeerOptions peer_options;
  peer_options.name = "the supervisor";
  // The protocol gets a private copy of stdout; fd 1 then points at stderr, so a stray write to
  // stdout lands in the log instead of corrupting the protocol (as serve_stdio does).
  // CLOEXEC: tools and scripts must not inherit it, or the supervisor would miss our EOF.
  const int protocol_out = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  ipc::Peer peer(STDIN_FILENO, protocol_out, peer_options);
  peer.on_request("shutdown", [&](const ipc::Request&) {
    stop = true;
    return nlohmann::json::object();
  });
  peer.start();
  peer.notify("ready", {{"pid", ::getpid()}, {"version", HEARTH_VERSION}, {"url", server.url()},
                        {"port", server.port()}});
  std::cerr << "hearth: serving on " << server.url() << std::endl;
  int code = 0;
  while (!peer.is_closed() && !stop) {
    pollfd fds[1] = {{signal_pipe.fd(), POLLIN, 0}};
    if (::poll(fds, 1, 100) > 0) {
      if (const auto signo = signal_pipe.take()) {
        code = 128 + *signo;
        break;
      }
    }
  }
  if (peer.is_closed() && !stop && code == 0) {
    // EOF without `shutdown`: the supervisor is gone (kill -9). Nobody waits for a drain; the
    // runs in flight end cancelled before their tools are stopped (docs/runtime.md).
    std::cerr << "hearth: the supervisor is gone; stopping" << std::endl;
    warm_stop_accepting();
    runtime.cancel_active_runs("The hearth dev supervisor exited.");
    process::stop_all_groups();
    std::cerr << std::flush;
    ::_exit(0);
  }
  warm_stop_accepting(); // new `hearth run`s go to the next generation or start their own
  // Drain on a helper thread so a signal meanwhile (the supervisor's stop() sends SIGTERM when
  // its own bound passes) still ends the runs cancelled before anything is killed.
  auto drain = std::async(std::launch::async, [&server, warm] {
    const auto deadline = std::chrono::steady_clock::now() + k_drain_bound;
    const bool served = server.shutdown(k_drain_bound);
    return (!warm || warm->drain(deadline)) && served; // warm `hearth run`s finish too
  });
  while (drain.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (const auto signo = signal_pipe.take()) {
      runtime.cancel_active_runs("The runtime received signal " + std::to_string(*signo) + ".");
      process::stop_all_groups();
      std::cerr << std::flush;
      ::_exit(128 + *signo);
    }
  }
  bool drained = drain.get();
  if (warm) warm->stop(); // warm runs the drain did not see end: cancel them, close connections
  if (!drained) std::cerr << "hearth: stopped before every request finished" << std::endl;
  peer.close();
  // Runs still executing (requests not drained, or admitted with 202) end cancelled before
  // their tools are stopped, never `completed` on a killed tool's error result.
  if (runtime.active_run_count() > 0) {
    runtime.cancel_active_runs(code != 0 ? "The runtime received signal " +
                                               std::to_string(code - 128) + "."
                                         : "The server was stopped.");
    drained = false;
  }
  if (!drained) {
    process::stop_all_groups(); // tools and scripts of the requests still running
    std::cerr << std::flush;
    ::_exit(code); // workers still run; runs they own are recovered by the next runtime
  }
  return code;
}

} // namespace hearth::server
