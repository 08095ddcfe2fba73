// Prompt input; see line_reader.hpp. Both reads wait in poll() beside an eventfd, so interrupt()
// wakes them at once: piped input directly, readline() through its getc hook (libedit retries a
// read that fails with EINTR, so a signal alone would not wake it).
#include "cli/line_reader.hpp"

#include <editline/readline.h>

#include <atomic>
#include <cerrno>
#include <clocale>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <langinfo.h>
#include <poll.h>
#include <string_view>
#include <sys/eventfd.h>
#include <unistd.h>

namespace hearth::cli {
namespace {

// State of the getc hook (a plain function pointer): the reader's wake fd and whether input is
// UTF-8. One interactive reader per process.
std::atomic<int> g_wake_fd{-1};
bool g_utf8 = false;

/// The next byte of `fd`, or EOF at end of input, on an error or once the wake fd is readable.
int next_byte(int fd) {
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {g_wake_fd.load(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return EOF;
    }
    if (fds[1].revents != 0) return EOF; // interrupted
    unsigned char c = 0;
    const auto got = ::read(fd, &c, 1);
    if (got == 1) return c;
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    return EOF;
  }
}

/// libedit's getc hook: one character as a code point (it stores the int as a wchar_t, so a
/// UTF-8 sequence is decoded here; a malformed one reads as U+FFFD), EOF when interrupted.
extern "C" int interruptible_getc(FILE* stream) {
  const int fd = ::fileno(stream);
  const int lead = next_byte(fd);
  if (lead == EOF || lead < 0x80 || !g_utf8) return lead;
  const int more = lead >= 0xF8 ? -1 : lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : -1;
  if (more < 0) return 0xFFFD;
  int code = lead & (0x3F >> more);
  for (int i = 0; i < more; ++i) {
    const int next = next_byte(fd);
    if (next == EOF) return EOF;
    if ((next & 0xC0) != 0x80) return 0xFFFD;
    code = (code << 6) | (next & 0x3F);
  }
  return code;
}

} // namespace

LineReader::LineReader(std::string prompt)
    : m_prompt(std::move(prompt)), m_interactive(::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO)),
      m_wake_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!m_interactive) return;
  // libedit decodes the prompt by the locale: in the C locale a non-ASCII prompt crashes el_gets
  // (SIGSEGV), so take the user's character set and fall back to ASCII when it is not UTF-8.
  std::setlocale(LC_CTYPE, "");
  g_utf8 = std::string_view(::nl_langinfo(CODESET)) == "UTF-8";
  if (!g_utf8) m_prompt = "> ";
  g_wake_fd = m_wake_fd;
  rl_getc_function = interruptible_getc;
  rl_outstream = stderr; // stdout carries results only
}

LineReader::~LineReader() {
  if (m_interactive) g_wake_fd = -1;
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
  char* raw = ::readline(m_prompt.c_str());
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
}

} // namespace hearth::cli
