// Ctrl-C and SIGTERM for commands that block on a child (run, connect, dev): a thread watches the
// signal self-pipe, calls `on_signal` (which stops the child), and the command then exits 128+signo.
// A command that only has a socket to shut down needs no thread: the signal handler does that.
#pragma once

#include "core/signals.hpp"

#include <atomic>
#include <functional>
#include <optional>
#include <thread>

namespace hearth::cli {

class InterruptWatcher {
public:
  /// Starts watching SIGINT and SIGTERM; `on_signal` runs on the watcher thread, once. When
  /// `intercept` is given, each signal goes to it first (on the watcher thread); when it returns
  /// true the signal was handled (e.g. `connect`'s first Ctrl-C cancels the running turn), is not
  /// recorded, and watching goes on.
  explicit InterruptWatcher(std::function<void(int signo)> on_signal,
                            std::function<bool(int signo)> intercept = {});
  /// Without a thread: the signal handler itself shuts `socket` down (see signals::SignalPipe),
  /// for a command whose only reaction is to end the conversation on that socket, e.g. `hearth
  /// run` over a warm runtime (runtime::Link::interrupt_socket). The socket must outlive this.
  explicit InterruptWatcher(int socket);
  /// Stops watching and restores the previous signal dispositions.
  ~InterruptWatcher();
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  /// The signal received, if any.
  std::optional<int> signal() const;

  /// 128 + the signal received (130 for SIGINT, 143 for SIGTERM), if any.
  std::optional<int> exit_code() const;

private:
  mutable signals::SignalPipe m_pipe; // signal() may take from it
  int m_stop_fd = -1;          // -1 without a thread
  mutable std::atomic<int> m_signal{0}; // without a thread, signal() takes it from the pipe
  std::thread m_thread;
};

} // namespace hearth::cli
