// The one error type every layer throws. The CLI renders it as `Error: <message>` plus hint lines;
// the HTTP server renders the same object as Flue's envelope (STYLE.md §3).
#pragma once

#include <stdexcept>
#include <string>

namespace hearth {

/// Process exit codes (seed 003 page 15, "Exit code reference").
enum class ExitCode : int { ok = 0, failure = 1, run_failed = 2, interrupted = 130, terminated = 143 };

/// Returns the integer a process exits with for `code`.
constexpr int exit_code(ExitCode code) noexcept { return static_cast<int>(code); }

/// Everything a caller needs to show an error. Every member has a default so designated
/// initializers may skip any of them (GCC 12 -Wextra).
struct ErrorInfo {
  std::string type{};    // stable snake_case id, e.g. "agent_not_found"
  std::string message{}; // one sentence, safe for any caller
  std::string details{}; // what to do next; the CLI prints it as the first hint line
  std::string dev{};     // developer-only context (paths, siblings); CLI and dev mode only
  int http_status = 500;
  ExitCode exit_code = ExitCode::failure;
};

/// An error the user must see. Build these through the catalogue in core/errors.hpp.
class Error : public std::runtime_error {
public:
  explicit Error(ErrorInfo info) : std::runtime_error(info.message), m_info(std::move(info)) {}
  const ErrorInfo& info() const noexcept { return m_info; }

private:
  ErrorInfo m_info;
};

} // namespace hearth
