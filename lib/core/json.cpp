// Bounded JSON parsing; see json.hpp.
#include "core/json.hpp"

#include <string>

namespace hearth {

std::size_t json_nesting_depth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
    case '"': in_string = true; break;
    case '[':
    case '{':
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return limit + 1;
      }
      break;
    case ']':
    case '}':
      if (depth > 0) --depth;
      break;
    default: break;
    }
  }
  return deepest;
}

namespace {

void check_depth(std::string_view text, std::size_t max_depth) {
  if (json_nesting_depth(text, max_depth) > max_depth)
    throw nlohmann::json::parse_error::create(
        101, 0, "JSON nesting is deeper than " + std::to_string(max_depth) + " levels", nullptr);
}

} // namespace

nlohmann::json parse_json(std::string_view text, std::size_t max_depth) {
  check_depth(text, max_depth);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::out_of_range& e) {
    // A number too large for a double ("1e999", found by fuzz_json_lines) is out_of_range.406,
    // which callers catching parse_error would miss (it killed the IPC reader): same kind here.
    throw nlohmann::json::parse_error::create(101, 0, e.what(), nullptr);
  }
}

nlohmann::json parse_json_or_discarded(std::string_view text, std::size_t max_depth) noexcept {
  if (json_nesting_depth(text, max_depth) > max_depth)
    return nlohmann::json(nlohmann::json::value_t::discarded);
  try {
    return nlohmann::json::parse(text, nullptr, false);
  } catch (...) { // allocation failure: treat as unparseable
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
}

std::string dump_json(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace hearth
