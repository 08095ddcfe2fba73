// Signal watching for blocking commands; see interrupts.hpp.
#include "cli/interrupts.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace hearth::cli {

InterruptWatcher::InterruptWatcher(std::function<void(int signo)> on_signal,
                                   std::function<bool(int signo)> intercept)
    : m_stop_fd(::eventfd(0, EFD_CLOEXEC)) {
  m_thread = std::thread([this, on_signal = std::move(on_signal),
                          intercept = std::move(intercept)] {
    while (true) {
      pollfd fds[2] = {{m_pipe.fd(), POLLIN, 0}, {m_stop_fd, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue; // EINTR
      if (fds[1].revents != 0) return;
      if (const auto signo = m_pipe.take()) {
        if (intercept && intercept(*signo)) continue; // handled; keep watching
        m_signal = *signo;
        if (on_signal) on_signal(*signo);
        return;
      }
    }
  });
}

InterruptWatcher::InterruptWatcher(int socket) : m_pipe({SIGINT, SIGTERM}, socket) {}

InterruptWatcher::~InterruptWatcher() {
  if (m_stop_fd < 0) return; // no thread
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(m_stop_fd, &one, sizeof one);
  if (m_thread.joinable()) m_thread.join();
  ::close(m_stop_fd);
}

std::optional<int> InterruptWatcher::signal() const {
  if (m_stop_fd < 0 && m_signal.load() == 0)
    if (const auto signo = m_pipe.take()) m_signal = *signo;
  const int s = m_signal.load();
  return s == 0 ? std::nullopt : std::optional<int>(s);
}

std::optional<int> InterruptWatcher::exit_code() const {
  const auto s = signal();
  return s ? std::optional<int>(128 + *s) : std::nullopt;
}

} // namespace hearth::cli
