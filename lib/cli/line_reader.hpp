// Reading prompts for `connect`: libedit (line editing and history) on a terminal, plain lines
// from a pipe or file.
#pragma once

#include <optional>
#include <string>

namespace hearth::cli {

class LineReader {
public:
  /// `prompt` is shown only on a terminal.
  explicit LineReader(std::string prompt);

  /// The next line without its newline, or nullopt at EOF (Ctrl-D).
  std::optional<std::string> next();

private:
  std::string m_prompt;
  bool m_interactive;
};

} // namespace hearth::cli
