// Small string helpers shared by every layer: quoting lists, edit distance for suggestions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::text {

/// `"a", "b", "c"`: each name in double quotes, comma separated (Flue's error wording).
std::string quote_list(const std::vector<std::string>& names);

/// Levenshtein distance between `a` and `b` (insert, delete, substitute; each costs 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word` within `max_distance` edits, or a candidate that `word` is a
/// prefix of; ties go to the first candidate. Used for "Did you mean …?" (ninja, Flue).
std::optional<std::string> nearest(std::string_view word, const std::vector<std::string>& candidates,
                                   std::size_t max_distance = 2);

/// True when `s` starts with `prefix`.
inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

/// `s` without leading and trailing ASCII whitespace.
std::string_view trim(std::string_view s);

/// 1-based line and column of byte `offset` in `text` (for syntax-error locations).
std::pair<int, int> line_column(std::string_view text, std::size_t offset);

/// `s` split on `sep`; empty pieces are kept.
std::vector<std::string> split(std::string_view s, char sep);

/// True when `s` is well-formed UTF-8 (RFC 3629: no overlongs, surrogates or code points past
/// U+10FFFF).
bool is_utf8(std::string_view s);

/// `s` with every ill-formed UTF-8 sequence replaced by U+FFFD (one per maximal ill-formed
/// subpart, as Unicode §3.9 and WHATWG decoders do). Bytes from tools, scripts, files and
/// providers pass through here before they become JSON strings. O(size), never throws but
/// std::bad_alloc.
std::string to_utf8(std::string_view s);

} // namespace hearth::text
