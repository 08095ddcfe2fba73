// Server-sent events parsing (WHATWG HTML "event stream interpretation"), used by every streamed
// model API: bytes arrive in arbitrary pieces; complete events come out through a callback.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace hearth::providers {

/// One dispatched event. `event` is empty for the default ("message") type; `data` joins the
/// event's `data:` lines with '\n'.
struct SseEvent {
  std::string event{};
  std::string data{};
  std::string id{};
};

/// Incremental SSE parser. Accepts `\n`, `\r\n` and `\r` line ends (also split across feed()
/// calls), `:` comments, fields without a value, and ignores unknown fields. Never crashes on
/// garbage: a line or event larger than `max_bytes` throws hearth::Error provider_stream_invalid.
class SseParser {
public:
  using Handler = std::function<void(const SseEvent&)>;

  explicit SseParser(Handler on_event, std::size_t max_bytes = k_default_max_bytes);

  /// Parses `bytes`, calling the handler for each event completed by a blank line. Exceptions from
  /// the handler propagate; the parser then stays usable but the partial event is dropped.
  void feed(std::string_view bytes);

  /// End of stream: a final line without its line end is processed, and an event not yet ended
  /// by a blank line is dispatched (servers often omit the last blank line).
  void finish();

  static constexpr std::size_t k_default_max_bytes = 16u << 20;

  /// The last valid `retry:` field (reconnection time in ms, at most 9 digits), or -1 when none
  /// came (MCP Streamable HTTP resumption).
  long long retry_ms() const noexcept { return m_retry_ms; }

private:
  void process_line(std::string_view line);
  void dispatch();

  Handler m_on_event;
  std::size_t m_max_bytes;
  std::string m_line{};
  bool m_after_cr = false; // the last byte was '\r': a leading '\n' of the next piece is its pair
  SseEvent m_pending{};
  bool m_has_data = false;
  long long m_retry_ms = -1;
};

} // namespace hearth::providers
