// Prompt input; see line_reader.hpp. Piped input is read with poll() beside an eventfd, so an
// interrupt wakes it at once; readline() is woken with SIGUSR2 (a handler without SA_RESTART, so
// its read fails with EINTR and readline returns NULL).
#include "cli/line_reader.hpp"

#include <editline/readline.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <poll.h>
#include <sys/eventfd.h>
#include <thread>
#include <unistd.h>

namespace hearth::cli {
namespace {

extern "C" void wake_reader(int) {} // only interrupts a blocking read

struct sigaction g_previous_usr2 {};

} // namespace

LineReader::LineReader(std::string prompt)
    : m_prompt(std::move(prompt)), m_interactive(::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO)),
      m_wake_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!m_interactive) return;
  rl_outstream = stderr; // stdout carries results only
  struct sigaction action {};
  action.sa_handler = wake_reader;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0; // no SA_RESTART: readline's read must see EINTR
  ::sigaction(SIGUSR2, &action, &g_previous_usr2);
}

LineReader::~LineReader() {
  if (m_interactive) ::sigaction(SIGUSR2, &g_previous_usr2, nullptr);
  if (m_wake_fd >= 0) ::close(m_wake_fd);
}

std::optional<std::string> LineReader::next() {
  if (m_interrupted) return std::nullopt;
  auto line = m_interactive ? next_interactive() : next_piped();
  if (m_interrupted) return std::nullopt;
  return line;
}

std::optional<std::string> LineReader::next_piped() {
  for (;;) {
    if (const auto nl = m_buffer.find('\n'); nl != std::string::npos) {
      std::string line = m_buffer.substr(0, nl);
      m_buffer.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (m_eof) {
      if (m_buffer.empty()) return std::nullopt;
      std::string line = std::move(m_buffer); // a last line without a newline
      m_buffer.clear();
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {m_wake_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno != EINTR) m_eof = true;
      continue;
    }
    if (fds[1].revents != 0 || m_interrupted) return std::nullopt;
    char chunk[4096];
    const auto got = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (got > 0) m_buffer.append(chunk, static_cast<std::size_t>(got));
    else if (got == 0 || (errno != EINTR && errno != EAGAIN)) m_eof = true;
  }
}

std::optional<std::string> LineReader::next_interactive() {
  m_reader = ::pthread_self();
  m_reading = true;
  char* raw = m_interrupted ? nullptr : ::readline(m_prompt.c_str());
  m_reading = false;
  if (raw == nullptr) return std::nullopt;
  std::string line(raw);
  std::free(raw);
  if (!line.empty()) ::add_history(line.c_str());
  return line;
}

void LineReader::interrupt() {
  m_interrupted = true;
  const std::uint64_t one = 1;
  if (m_wake_fd >= 0) {
    [[maybe_unused]] const auto n = ::write(m_wake_fd, &one, sizeof one);
  }
  // readline() may be entering its read when the first signal lands: repeat until it is out.
  for (int i = 0; i < 50 && m_reading; ++i) {
    ::pthread_kill(m_reader, SIGUSR2);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

} // namespace hearth::cli
