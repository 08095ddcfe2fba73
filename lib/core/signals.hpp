// Signals without async-signal-unsafe work: a self-pipe the session's poll() loop watches
// (STYLE.md §4, "Signals"), plus a guard that keeps a write to a dead pipe from killing us.
#pragma once

#include <csignal>
#include <initializer_list>
#include <optional>
#include <vector>

namespace hearth::signals {

/// While alive, SIGINT and SIGTERM (or the given signals) no longer kill the process: the handler
/// only writes the signal number as one byte to a non-blocking CLOEXEC pipe whose read end is
/// fd(). The destructor restores the previous dispositions. One instance per process at a time;
/// a second throws errors::signal_pipe_in_use. Exit codes 128+signo are the caller's business.
class SignalPipe {
public:
  explicit SignalPipe(std::initializer_list<int> signals = {SIGINT, SIGTERM});
  /// As above; the handler also shuts `shutdown_socket` down (shutdown(2), SHUT_RDWR, which is
  /// async-signal-safe), so a thread blocked on that socket sees its end without another thread
  /// watching fd(). The socket must stay open while this lives.
  SignalPipe(std::initializer_list<int> signals, int shutdown_socket);
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  /// The read end to poll for POLLIN.
  int fd() const noexcept { return m_read_fd; }

  /// The next signal received, without blocking; nullopt when none is pending.
  std::optional<int> take() noexcept;

private:
  int m_read_fd = -1;
  int m_write_fd = -1;
  std::vector<int> m_signals{};
  std::vector<struct sigaction> m_previous{};
};

/// Resets `signals` to SIG_DFL (e.g. before re-raising a signal to exit with its status).
void restore_defaults(std::initializer_list<int> signals = {SIGINT, SIGTERM});

/// Blocks SIGPIPE in the calling thread for its lifetime, so a write to a pipe whose reader is gone
/// fails with EPIPE instead of killing the process; a SIGPIPE raised meanwhile is discarded.
/// Libraries use it around writes rather than changing the process-wide disposition.
class SigpipeGuard {
public:
  SigpipeGuard() noexcept;
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

private:
  sigset_t m_old_mask{};
  bool m_was_pending = false;
};

} // namespace hearth::signals
