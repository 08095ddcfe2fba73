// Bounded JSON parsing; see json.hpp.
#include "core/json.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>
#include <cstdint>
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

namespace {

using json = nlohmann::json;

// What nlohmann's serializer writes for `value` (compact, invalid UTF-8 replaced): the reference
// the fast path below must match byte for byte, and its fallback for what it does not handle.
std::string library_dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Text being written: a string grown by doubling and filled through a cursor, so writing a byte
// is a store, not a call into std::string.
class Output {
public:
  /// `n` writable bytes at the cursor; advance() says how many were written.
  char* room(std::size_t n) {
    if (m_text.size() - m_used < n) grow(n);
    return m_text.data() + m_used;
  }
  void advance(std::size_t n) { m_used += n; }
  void put(char c) {
    *room(1) = c;
    ++m_used;
  }
  void put(const char* bytes, std::size_t n) {
    std::memcpy(room(n), bytes, n);
    m_used += n;
  }
  void put(std::string_view text) { put(text.data(), text.size()); }
  std::size_t size() const { return m_used; }
  void truncate(std::size_t size) { m_used = size; }
  std::string take() && {
    m_text.resize(m_used);
    return std::move(m_text);
  }

private:
  [[gnu::noinline]] void grow(std::size_t n) {
    m_text.resize(std::max(2 * m_text.size(), m_used + n + 256));
  }

  std::string m_text;
  std::size_t m_used = 0;
};

// 8 bytes as a word whose least significant byte is the first in memory, on any machine.
std::uint64_t load_word(const char* bytes) {
  std::uint64_t word;
  std::memcpy(&word, bytes, sizeof word);
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  return word;
}

// The high bits of the bytes of `word` (a load_word) that must not be copied as is into a
// JSON string: a control character (< 0x20), `"`, `\`, or a byte >= 0x80 (UTF-8 that nlohmann
// must check); zero when there is none. The classic has-less-than / has-zero-byte bit tricks,
// eight bytes per step. Bits above the first special byte may be set for plain bytes (a borrow
// runs upwards); the lowest one is exact.
constexpr std::uint64_t special_bytes(std::uint64_t word) {
  constexpr std::uint64_t ones = 0x0101010101010101u;
  constexpr std::uint64_t highs = 0x8080808080808080u;
  const auto zero_bytes = [](std::uint64_t w) { return (w - ones) & ~w & highs; };
  return ((word | ((word - 0x20 * ones) & ~word)) & highs) | zero_bytes(word ^ ('"' * ones)) |
         zero_bytes(word ^ ('\\' * ones));
}

// Strings shorter than this are scanned a byte at a time: for them the word loop's set-up and
// copy calls cost more than the bytes (a run writes ~1,000 keys and ids, issue 17 §3).
constexpr std::size_t k_short_string = 16;

// The bytes special_bytes() flags, as a table (each byte as the lowest of a word of spaces).
constexpr auto k_special_byte = [] {
  std::array<bool, 256> table{};
  for (unsigned c = 0; c < 256; ++c)
    table[c] = (special_bytes(0x2020202020202000u | c) & 0x80u) != 0;
  return table;
}();

// `text` as a JSON string literal, as nlohmann writes it: `"` and `\` and the control characters
// escaped (\b \f \n \r \t, else \u00xx in lower-case hex), everything else as is. Text with a byte
// >= 0x80 goes to nlohmann, which validates the UTF-8 and replaces what is invalid.
void write_string(Output& out, std::string_view text) {
  const char* const bytes = text.data();
  const std::size_t size = text.size();
  if (size < k_short_string) { // keys and ids, most of what an event holds: copied as scanned
    char* const at = out.room(size + 2);
    at[0] = '"';
    std::size_t i = 0;
    while (i < size && !k_special_byte[static_cast<unsigned char>(bytes[i])]) {
      at[1 + i] = bytes[i];
      ++i;
    }
    if (i == size) {
      at[1 + size] = '"';
      out.advance(size + 2);
      return;
    } // else written again below (nothing was advanced)
  }
  const std::size_t start = out.size();
  out.put('"');
  std::size_t plain_from = 0;
  std::size_t i = 0;
  while (i < size) {
    // Whole words of plain bytes are skipped; then the scan jumps to the word's first special
    // byte (plain bytes are never visited one by one).
    std::uint64_t mask = 0;
    while (i + 8 <= size && (mask = special_bytes(load_word(bytes + i))) == 0) i += 8;
    if (i + 8 > size) { // the tail, padded with spaces (plain) to a word
      char tail[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
      std::memcpy(tail, bytes + i, size - i);
      mask = special_bytes(load_word(tail));
      if (mask == 0) break;
    }
    i += static_cast<std::size_t>(std::countr_zero(mask)) / 8;
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x80) {
      out.truncate(start);
      out.put(library_dump(json(std::string(text))));
      return;
    }
    out.put(bytes + plain_from, i - plain_from);
    plain_from = ++i;
    switch (c) {
    case '"': out.put("\\\"", 2); break;
    case '\\': out.put("\\\\", 2); break;
    case '\b': out.put("\\b", 2); break;
    case '\f': out.put("\\f", 2); break;
    case '\n': out.put("\\n", 2); break;
    case '\r': out.put("\\r", 2); break;
    case '\t': out.put("\\t", 2); break;
    default: {
      static constexpr char k_hex[] = "0123456789abcdef";
      const char escape[] = {'\\', 'u', '0', '0', k_hex[c >> 4], k_hex[c & 0xf]};
      out.put(escape, sizeof escape);
    }
    }
  }
  out.put(bytes + plain_from, size - plain_from);
  out.put('"');
}

template <typename Integer> void write_integer(Output& out, Integer value) {
  constexpr std::size_t k_digits = 24; // a sign and 20 digits
  char* const at = out.room(k_digits);
  out.advance(static_cast<std::size_t>(std::to_chars(at, at + k_digits, value).ptr - at));
}

// Compact serialization with nlohmann's exact output, several times cheaper on event bodies
// (issue 17: serializing events was a quarter of a run's instructions): strings are copied eight
// bytes at a time between escapes instead of byte by byte. Iterative: an explicit stack of open
// containers, so no recursion on the value's depth. Doubles, binary and non-ASCII strings go
// through nlohmann. `extra`: string members merged into the root object (dump_json_with).
void write_compact(Output& out, const json& root, std::span<const JsonMember> extra = {}) {
  struct Open {
    const json* container;
    json::object_t::const_iterator member; // objects
    std::size_t index;                     // arrays: the next element; objects: members written
  };
  std::vector<Open> open;
  std::size_t next_extra = 0; // extra members are written in key order among the root's own
  const auto write_member = [&out](Open& top, const std::string& key) {
    if (top.index++ != 0) out.put(',');
    write_string(out, key);
    out.put(':');
  };
  const json* next = &root;
  for (;;) {
    if (next != nullptr) {
      switch (next->type()) {
      case json::value_t::object:
        out.put('{');
        open.push_back({next, next->get_ref<const json::object_t&>().begin(), 0});
        break;
      case json::value_t::array:
        out.put('[');
        open.push_back({next, {}, 0});
        break;
      case json::value_t::string: write_string(out, next->get_ref<const std::string&>()); break;
      case json::value_t::boolean:
        out.put(next->get<bool>() ? std::string_view("true") : std::string_view("false"));
        break;
      case json::value_t::null: out.put("null", 4); break;
      case json::value_t::number_integer: write_integer(out, next->get<std::int64_t>()); break;
      case json::value_t::number_unsigned: write_integer(out, next->get<std::uint64_t>()); break;
      default: out.put(library_dump(*next)); break; // doubles, binary, discarded
      }
      next = nullptr;
    }
    if (open.empty()) return;
    Open& top = open.back();
    if (top.container->is_object()) {
      const auto& members = top.container->get_ref<const json::object_t&>();
      const bool at_end = top.member == members.end();
      if (top.container == &root) { // the extras that sort before this member (or all left)
        for (; next_extra < extra.size() &&
               (at_end || extra[next_extra].key <= top.member->first);
             ++next_extra) {
          const auto& member = extra[next_extra];
          if (!at_end && member.key == top.member->first) continue; // the root's own wins
          write_member(top, member.key);
          if (member.raw) out.put(member.value);
          else write_string(out, member.value);
        }
      }
      if (at_end) {
        out.put('}');
        open.pop_back();
        continue;
      }
      write_member(top, top.member->first);
      next = &top.member->second;
      ++top.member;
    } else {
      const auto& elements = top.container->get_ref<const json::array_t&>();
      if (top.index == elements.size()) {
        out.put(']');
        open.pop_back();
        continue;
      }
      if (top.index != 0) out.put(',');
      next = &elements[top.index++];
    }
  }
}

} // namespace

std::string dump_json(const nlohmann::json& value, int indent) {
  if (indent >= 0) return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
  Output out;
  write_compact(out, value);
  return std::move(out).take();
}

std::string quote_json(std::string_view text) {
  Output out;
  write_string(out, text);
  return std::move(out).take();
}

std::string dump_json_with(const nlohmann::json& object, std::span<const JsonMember> members) {
  Output out;
  write_compact(out, object, object.is_object() ? members : std::span<const JsonMember>{});
  return std::move(out).take();
}

} // namespace hearth
