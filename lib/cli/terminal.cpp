// Terminal output; see terminal.hpp.
#include "cli/terminal.hpp"

#include <cstdlib>
#include <iostream>
#include <unistd.h>

namespace hearth::cli::terminal {

bool color_enabled(int fd) {
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return false;
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::string_view(term) == "dumb") return false;
  return ::isatty(fd) == 1;
}

std::string style(std::string_view code, std::string_view text, int fd) {
  if (!color_enabled(fd)) return std::string(text);
  return "\x1b[" + std::string(code) + "m" + std::string(text) + "\x1b[0m";
}

void print_error(const ErrorInfo& info) {
  std::string out = style("1;31", "Error") + ": " + info.message + "\n";
  for (const std::string* hint : {&info.details, &info.dev}) {
    if (hint->empty()) continue;
    std::string_view rest = *hint;
    while (!rest.empty()) { // indent every line of a multi-line hint
      const auto nl = rest.find('\n');
      out += "    " + style("2", rest.substr(0, nl)) + "\n";
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    }
  }
  std::cerr << out << std::flush;
}

void info(std::string_view line) { std::cerr << line << '\n' << std::flush; }

void warn(std::string_view line) {
  std::cerr << style("33", "warning") << ": " << line << '\n' << std::flush;
}

void success(std::string_view line) { std::cerr << style("32", line) << '\n' << std::flush; }

} // namespace hearth::cli::terminal
