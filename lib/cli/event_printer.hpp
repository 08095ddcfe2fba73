// Human-readable rendering of run and agent events on stderr, shared by `run`, `connect` and
// `logs` (the layout of Flue 0.11's pretty logger: tool:start/tool:done lines, level-prefixed
// logs, assistant text line-buffered and indented by two spaces).
#pragma once

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <vector>

namespace hearth::cli {

class EventPrinter {
public:
  /// `lifecycle` adds run:start/run:end and op:start/op:done lines (logs shows them; run and
  /// connect print their own header instead). Colour follows terminal::color_enabled(2).
  explicit EventPrinter(std::ostream& out, bool lifecycle = false);

  /// Renders one event (Flue wire shape). Types not in types() are ignored.
  void print(const nlohmann::json& event);

  /// The event types print() renders: what `run` and `connect` ask the runtime to stream (the
  /// `eventTypes` of docs/ipc.md), so that it encodes nothing they would skip.
  std::vector<std::string> types() const;

  /// Writes any buffered partial line of assistant text.
  void flush();

private:
  void line(const std::string& text);
  void text(const std::string& delta);

  std::ostream& m_out;
  bool m_lifecycle;
  std::string m_pending{}; // assistant text not yet ended by a newline
};

/// "1.54s" or "12ms".
std::string format_duration(long long ms);

} // namespace hearth::cli
