// Newline-delimited JSON framing: see json_lines.hpp.
#include "ipc/json_lines.hpp"
#include "core/json.hpp"

#include "core/errors.hpp"

namespace hearth::ipc {

std::string encode_line(const nlohmann::json& message) {
  auto line = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  return line;
}

nlohmann::json decode_line(std::string_view line, std::string_view peer) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  nlohmann::json parsed;
  try {
    parsed = hearth::parse_json(line);
  } catch (const nlohmann::json::parse_error& e) {
    throw errors::ipc_protocol(peer, "the line is not valid JSON (" + std::string(e.what()) + ")",
                               line);
  }
  if (!parsed.is_object())
    throw errors::ipc_protocol(
        peer, "expected a JSON object, got " + std::string(parsed.type_name()), line);
  return parsed;
}

LineSplitter::LineSplitter(std::string peer, std::size_t max_line)
    : m_peer(std::move(peer)), m_max_line(max_line) {}

void LineSplitter::feed(std::string_view bytes) {
  // Drop consumed lines once they are most of the buffer, so feeding stays linear.
  if (m_start > 0 && m_start * 2 >= m_buffer.size()) {
    m_buffer.erase(0, m_start);
    m_scan -= m_start;
    m_start = 0;
  }
  m_buffer.append(bytes);
}

std::optional<std::string> LineSplitter::next() {
  const auto newline = m_buffer.find('\n', m_scan);
  const auto end = newline == std::string::npos ? m_buffer.size() : newline;
  if (end - m_start > m_max_line)
    throw errors::ipc_protocol(m_peer,
                               "a line is longer than the limit of " + std::to_string(m_max_line) +
                                   " bytes",
                               std::string_view(m_buffer).substr(m_start, 200));
  if (newline == std::string::npos) {
    m_scan = m_buffer.size();
    return std::nullopt;
  }
  std::string line = m_buffer.substr(m_start, newline - m_start);
  m_start = m_scan = newline + 1;
  return line;
}

std::string_view LineSplitter::partial() const {
  return std::string_view(m_buffer).substr(m_start);
}

} // namespace hearth::ipc
