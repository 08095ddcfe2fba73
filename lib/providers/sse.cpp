// SSE parsing: see sse.hpp. Follows the WHATWG algorithm so every server's framing parses alike.
#include "providers/sse.hpp"

#include "core/errors.hpp"

namespace hearth::providers {

SseParser::SseParser(Handler on_event, std::size_t max_bytes)
    : m_on_event(std::move(on_event)), m_max_bytes(max_bytes) {}

void SseParser::feed(std::string_view bytes) {
  std::size_t start = 0;
  if (m_after_cr && !bytes.empty() && bytes.front() == '\n')
    start = 1;
  m_after_cr = false;
  while (start < bytes.size()) {
    const auto end = bytes.find_first_of("\r\n", start);
    if (end == std::string_view::npos) {
      m_line.append(bytes.substr(start));
      if (m_line.size() > m_max_bytes) {
        m_line.clear();
        throw errors::provider_stream_invalid("an SSE line exceeds " + std::to_string(m_max_bytes) +
                                              " bytes");
      }
      return;
    }
    m_line.append(bytes.substr(start, end - start));
    std::string line;
    line.swap(m_line);
    std::size_t next = end + 1;
    if (bytes[end] == '\r') {
      if (next < bytes.size()) {
        if (bytes[next] == '\n')
          ++next;
      } else {
        m_after_cr = true;
      }
    }
    start = next;
    process_line(line);
  }
}

void SseParser::finish() {
  m_after_cr = false;
  if (!m_line.empty()) {
    std::string line;
    line.swap(m_line);
    process_line(line);
  }
  dispatch();
}

void SseParser::process_line(std::string_view line) {
  if (line.empty()) {
    dispatch();
    return;
  }
  if (line.front() == ':')
    return; // comment (keep-alive)
  const auto colon = line.find(':');
  const auto field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
  }
  if (field == "data") {
    if (m_pending.data.size() + value.size() > m_max_bytes) {
      m_pending = {};
      m_has_data = false;
      throw errors::provider_stream_invalid("an SSE event exceeds " + std::to_string(m_max_bytes) +
                                            " bytes");
    }
    if (m_has_data)
      m_pending.data += '\n';
    m_pending.data.append(value);
    m_has_data = true;
  } else if (field == "event") {
    m_pending.event.assign(value);
  } else if (field == "retry") { // reconnection time: ASCII digits only, else ignored
    if (!value.empty() && value.size() <= 9 &&
        value.find_first_not_of("0123456789") == std::string_view::npos)
      m_retry_ms = std::stoll(std::string(value));
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos)
      m_pending.id.assign(value);
  } // "retry" and unknown fields are ignored: we never reconnect a model stream.
}

void SseParser::dispatch() {
  if (!m_has_data) {
    m_pending.event.clear(); // an event with no data is dropped, its type reset (WHATWG)
    return;
  }
  SseEvent event;
  event.event.swap(m_pending.event);
  event.data.swap(m_pending.data);
  event.id = m_pending.id; // the last event id persists across events
  m_has_data = false;
  m_on_event(event);
}

} // namespace hearth::providers
