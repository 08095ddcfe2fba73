// The runtime child's stdio server; see stdio_server.hpp.
#include "runtime/stdio_server.hpp"

#include "core/errors.hpp"
#include "core/signals.hpp"
#include "ipc/peer.hpp"
#include "runtime/rpc_methods.hpp"
#include "store/store.hpp"

#include "core/process.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <thread>

namespace hearth::runtime {
using nlohmann::json;

int serve_stdio(Runtime& runtime) {
  signals::SignalPipe signal_pipe;
  ipc::PeerOptions options;
  options.name = "the CLI";
  // The protocol gets a private copy of stdout; fd 1 then points at stderr, so a stray write to
  // stdout from anywhere in the process lands in the log instead of corrupting the protocol.
  // CLOEXEC: a tool or script must not inherit the pipe, or the CLI would miss our EOF.
  const int protocol_out = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  ipc::Peer peer(STDIN_FILENO, protocol_out, options);

  register_runtime_methods(peer, runtime); // the same methods the warm socket serves
  // Written by `shutdown` so the loop below wakes at once instead of at its next poll.
  const int shutdown_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  peer.on_request("shutdown", [&](const ipc::Request&) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(shutdown_fd, &one, sizeof one);
    return json::object();
  });
  peer.start();
  peer.notify("ready", {{"pid", ::getpid()}, {"version", HEARTH_VERSION}});

  while (!peer.is_closed()) {
    pollfd fds[2] = {{signal_pipe.fd(), POLLIN, 0}, {shutdown_fd, POLLIN, 0}};
    if (::poll(fds, 2, 100) > 0) {
      if (fds[1].revents != 0) break; // the reply is flushed by ~Peer
      if (const auto signo = signal_pipe.take()) {
        // Runs end cancelled before their tools are stopped, so none ends `completed` on the
        // error result of a killed tool. Tools and workflow scripts run in their own process
        // groups: stop them with us (a script gets SIGTERM first, then what is left is killed).
        runtime.cancel_active_runs("The runtime received signal " + std::to_string(*signo) + ".");
        process::stop_all_groups();
        std::cerr << std::flush;
        ::_exit(128 + *signo); // workers may be mid-turn; the store is consistent
      }
    }
  }
  ::close(shutdown_fd);
  if (peer.is_closed() && runtime.active_run_count() > 0) {
    // stdin closed while runs were executing: the CLI that asked for them is gone (killed).
    runtime.cancel_active_runs("The CLI that started the run exited.");
    process::stop_all_groups();
    std::cerr << std::flush;
    ::_exit(0);
  }
  // Run ends the store refused (disk full) get a last try, so they are not left to be
  // recovered as runtime_crashed; any run still executing here ends cancelled.
  runtime.cancel_active_runs("The runtime was shut down.");
  return 0;
}

} // namespace hearth::runtime
