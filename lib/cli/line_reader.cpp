// Prompt input; see line_reader.hpp.
#include "cli/line_reader.hpp"

#include <editline/readline.h>

#include <cstdlib>
#include <iostream>
#include <unistd.h>

namespace hearth::cli {

LineReader::LineReader(std::string prompt)
    : m_prompt(std::move(prompt)), m_interactive(::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO)) {
  if (m_interactive) rl_outstream = stderr; // stdout carries results only
}

std::optional<std::string> LineReader::next() {
  if (!m_interactive) {
    std::string line;
    if (!std::getline(std::cin, line)) return std::nullopt;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  char* raw = ::readline(m_prompt.c_str());
  if (raw == nullptr) return std::nullopt;
  std::string line(raw);
  std::free(raw);
  if (!line.empty()) ::add_history(line.c_str());
  return line;
}

} // namespace hearth::cli
