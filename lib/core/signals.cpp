// Self-pipe signal delivery and SIGPIPE suppression: see signals.hpp.
#include "core/signals.hpp"

#include "core/errors.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

namespace hearth::signals {
namespace {

// The handler's only state: -1 when no SignalPipe exists (or it shuts no socket down).
std::atomic<int> g_write_fd{-1};
std::atomic<int> g_shutdown_fd{-1};

extern "C" void on_signal(int signo) {
  const int saved_errno = errno; // the interrupted code may be inspecting errno
  const int fd = g_write_fd.load();
  if (fd >= 0) {
    const auto byte = static_cast<unsigned char>(signo);
    [[maybe_unused]] const auto ignored = ::write(fd, &byte, 1); // a full pipe: already pending
  }
  if (const int socket = g_shutdown_fd.load(); socket >= 0) ::shutdown(socket, SHUT_RDWR);
  errno = saved_errno;
}

} // namespace

SignalPipe::SignalPipe(std::initializer_list<int> signals) : SignalPipe(signals, -1) {}

SignalPipe::SignalPipe(std::initializer_list<int> signals, int shutdown_socket)
    : m_signals(signals) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
    throw errors::internal_error(std::string("pipe2: ") + std::strerror(errno));
  int expected = -1;
  if (!g_write_fd.compare_exchange_strong(expected, fds[1])) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw errors::signal_pipe_in_use();
  }
  m_read_fd = fds[0];
  m_write_fd = fds[1];
  g_shutdown_fd.store(shutdown_socket);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART; // other threads' blocking calls should not see EINTR
  m_previous.resize(m_signals.size());
  for (std::size_t i = 0; i < m_signals.size(); ++i)
    ::sigaction(m_signals[i], &action, &m_previous[i]);
}

SignalPipe::~SignalPipe() {
  for (std::size_t i = 0; i < m_signals.size(); ++i)
    ::sigaction(m_signals[i], &m_previous[i], nullptr);
  g_shutdown_fd.store(-1);
  g_write_fd.store(-1);
  ::close(m_read_fd);
  ::close(m_write_fd);
}

std::optional<int> SignalPipe::take() noexcept {
  unsigned char byte = 0;
  for (;;) {
    const auto got = ::read(m_read_fd, &byte, 1);
    if (got == 1) return static_cast<int>(byte);
    if (got < 0 && errno == EINTR) continue;
    return std::nullopt;
  }
}

void restore_defaults(std::initializer_list<int> signals) {
  for (const int signo : signals) ::signal(signo, SIG_DFL);
}

SigpipeGuard::SigpipeGuard() noexcept {
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  m_was_pending = sigismember(&pending, SIGPIPE) == 1;
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &m_old_mask);
}

SigpipeGuard::~SigpipeGuard() {
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  if (!m_was_pending) {
    // Swallow the SIGPIPE our own write raised, so unblocking does not deliver it.
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      const struct timespec zero {};
      while (::sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &m_old_mask, nullptr);
}

} // namespace hearth::signals
