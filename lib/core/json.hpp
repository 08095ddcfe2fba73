// Bounded JSON parsing: every byte of JSON that enters hearth (HTTP bodies, tool and script output,
// provider streams, MCP, the store, authored files) is parsed through here, so nesting depth is
// checked before nlohmann::json builds (and later dumps and destroys) a tree of that depth.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace hearth {

/// Deepest array/object nesting accepted from outside (RFC 8259 §9 lets parsers set a limit).
inline constexpr std::size_t k_max_json_depth = 512;

/// The deepest nesting of `[` / `{` in `text`, ignoring brackets inside strings; stops scanning
/// and returns `limit + 1` as soon as the nesting exceeds `limit`. Iterative, O(size), no
/// allocation; does not validate the text.
std::size_t json_nesting_depth(std::string_view text, std::size_t limit = k_max_json_depth);

/// Parses `text` as one JSON value. Throws nlohmann::json::parse_error for invalid JSON and
/// for nesting deeper than `max_depth` (message: "... JSON nesting is deeper than 512 levels"),
/// so callers that already catch parse errors treat both alike.
nlohmann::json parse_json(std::string_view text, std::size_t max_depth = k_max_json_depth);

/// As parse_json, but returns a discarded value (`is_discarded()`) instead of throwing.
nlohmann::json parse_json_or_discarded(std::string_view text,
                                       std::size_t max_depth = k_max_json_depth) noexcept;

/// `value` serialized (compact, or pretty with `indent` >= 0). Strings that are not valid UTF-8
/// (tool, script or file bytes that slipped past the edges) get U+FFFD instead of throwing
/// type_error.316, so serializing never fails on content. Use this, not json::dump, for anything
/// that may hold bytes from outside. The compact text is byte for byte what nlohmann writes, but
/// written without recursion and with ASCII strings copied eight bytes at a time (event bodies,
/// issue 17); throws only std::bad_alloc.
std::string dump_json(const nlohmann::json& value, int indent = -1);

/// `text` as a JSON string literal, quotes included: dump_json(nlohmann::json(text)) without the
/// DOM string.
std::string quote_json(std::string_view text);

/// A member for dump_json_with: `value` is a string, or with `raw`, the compact JSON text of any
/// value (written as is: it must come from dump_json, never from outside).
struct JsonMember {
  std::string key;
  std::string value;
  bool raw = false;
};

/// dump_json(object) (compact) as if each of `members` had been added to `object` with emplace
/// first: a key `object` already has keeps its own value, the others are written in key order,
/// byte for byte the text of that copy, without making it (the runtime adds its envelope, runId,
/// session, ..., to every event this way, and a step's request its tools' schemas, serialized
/// once; issue 17 §3). `members` must be sorted by key (std::string's order) without repeats.
/// Ignored when `object` is not an object. Throws only std::bad_alloc.
std::string dump_json_with(const nlohmann::json& object, std::span<const JsonMember> members);

/// True when `value`'s compact text would take at most about `budget` bytes: counts string and
/// key bytes plus a few bytes per value, and stops as soon as the count passes `budget`, so the
/// walk costs O(min(size, budget)). Iterative (no recursion on the value's depth). For deciding
/// whether a value is small enough to keep in memory, not for exact sizes.
bool json_fits(const nlohmann::json& value, std::size_t budget);

/// The object {key: value}. Cheaper than the initializer list `{{key, value}}`, which builds a
/// [key, value] array and a JSON string for the key before the object (hot event paths, issue 17).
inline nlohmann::json json_member(const char* key, nlohmann::json value) {
  nlohmann::json object = nlohmann::json::object();
  object.emplace(key, std::move(value));
  return object;
}

} // namespace hearth
