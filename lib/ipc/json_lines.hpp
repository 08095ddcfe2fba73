// Newline-delimited JSON framing (the stdio framing MCP uses; docs/ipc.md): one compact JSON
// object per line, each line capped in length. A bad line is a protocol error quoting 200 bytes.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace hearth::ipc {

/// Default cap on one line (16 MiB): generous for tool results, small enough to bound memory.
inline constexpr std::size_t k_max_line_bytes = 16 * 1024 * 1024;

/// `message` as one compact line ending in '\n'. JSON escapes every newline inside strings, so a
/// message never spans lines. Invalid UTF-8 in strings is replaced (U+FFFD) rather than thrown.
std::string encode_line(const nlohmann::json& message);

/// Parses one line (without or with its '\n' / "\r\n") into a JSON object. Throws
/// errors::ipc_protocol naming `peer` when it is not JSON or not an object.
nlohmann::json decode_line(std::string_view line, std::string_view peer = "the other side");

/// Splits a byte stream (read in arbitrary chunks) into lines. Not thread-safe.
class LineSplitter {
public:
  explicit LineSplitter(std::string peer = "the other side",
                        std::size_t max_line = k_max_line_bytes);

  /// Appends bytes as read from the stream.
  void feed(std::string_view bytes);

  /// The next complete line without its '\n', or nullopt until more bytes arrive. Throws
  /// errors::ipc_protocol when a line (complete or still growing) exceeds the cap.
  std::optional<std::string> next();

  /// Bytes of an unfinished line held back (e.g. to report a truncated last message at EOF).
  std::string_view partial() const;

private:
  std::string m_peer;
  std::size_t m_max_line;
  std::string m_buffer{};
  std::size_t m_start = 0; // first byte of the current line
  std::size_t m_scan = 0;  // where the search for '\n' resumes
};

} // namespace hearth::ipc
