// Reading prompts for `connect`: libedit (line editing and history) on a terminal, plain lines
// from a pipe or file. Either read can be interrupted from another thread (Ctrl-C at the prompt).
// On a terminal the locale's character set is taken (LC_CTYPE), as libedit needs it.
#pragma once

#include <atomic>
#include <optional>
#include <string>

namespace hearth::cli {

class LineReader {
public:
  /// `prompt` is shown only on a terminal.
  explicit LineReader(std::string prompt);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  /// The next line without its newline, or nullopt at EOF (Ctrl-D) or once interrupted.
  std::optional<std::string> next();

  /// Makes a next() blocked on another thread return nullopt at once, and every later call too.
  /// Safe from any thread (e.g. a signal watcher); never blocks.
  void interrupt();

private:
  std::optional<std::string> next_piped();
  std::optional<std::string> next_interactive();

  std::string m_prompt;
  bool m_interactive;
  int m_wake_fd = -1;         // eventfd: readable once interrupted (piped reads poll it)
  std::string m_buffer{};     // piped input read ahead of the current line
  bool m_eof = false;
  std::atomic<bool> m_interrupted{false};
};

} // namespace hearth::cli
