// Bounded JSON parsing; see json.hpp.
#include "core/json.hpp"

#include <string>
#include <vector>

namespace hearth {

bool json_fits(const nlohmann::json& value, std::size_t budget) {
  constexpr std::size_t k_per_value = 4; // quotes, separators, a short number or literal
  std::size_t used = 0;
  std::vector<const nlohmann::json*> pending{&value};
  while (!pending.empty()) {
    const auto* item = pending.back();
    pending.pop_back();
    used += k_per_value;
    if (item->is_string()) {
      used += item->get_ref<const std::string&>().size();
    } else if (item->is_object()) {
      for (auto it = item->begin(); it != item->end() && used <= budget; ++it) {
        used += it.key().size() + k_per_value;
        pending.push_back(&it.value());
      }
    } else if (item->is_array()) {
      for (const auto& element : *item) {
        if (used > budget) break;
        pending.push_back(&element);
        used += 1;
      }
    } else if (item->is_binary()) {
      used += item->get_binary().size() * 2;
    }
    if (used > budget) return false;
  }
  return true;
}

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
