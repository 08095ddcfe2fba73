// Durable Streams offset formatting and parsing: see offsets.hpp.
#include "store/offsets.hpp"

#include "core/errors.hpp"

namespace hearth::store {
namespace {

constexpr std::size_t k_half = 16; // digits on each side of '_'

bool all_digits(std::string_view s) {
  for (const char c : s)
    if (c < '0' || c > '9') return false;
  return !s.empty();
}

} // namespace

std::string format_offset(std::int64_t seq) {
  if (seq < 0) return "-1";
  std::string digits = std::to_string(seq);
  return std::string(k_half, '0') + "_" + std::string(k_half - digits.size(), '0') + digits;
}

StreamOffset parse_offset(std::string_view text) {
  if (text == "-1") return {.kind = StreamOffset::Kind::start, .after_seq = -1};
  if (text == "now") return {.kind = StreamOffset::Kind::now, .after_seq = -1};
  if (text.size() != 2 * k_half + 1 || text[k_half] != '_' ||
      !all_digits(text.substr(0, k_half)) || !all_digits(text.substr(k_half + 1)))
    throw errors::invalid_offset(text);
  // 16 decimal digits always fit in int64 (max 9'999'999'999'999'999 < 9.2e18).
  std::int64_t seq = 0;
  for (const char c : text.substr(k_half + 1)) seq = seq * 10 + (c - '0');
  return {.kind = StreamOffset::Kind::after, .after_seq = seq};
}

} // namespace hearth::store
