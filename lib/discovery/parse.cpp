// JSON, frontmatter and cron parsing for discovery. Every entry point returns a problem rather
// than throwing, because hostile files must become diagnostics (tests/fuzz/ drives these).
#include "discovery/parse.hpp"

#include "core/cron.hpp"
#include "core/json.hpp"
#include "core/text.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace hearth::discovery {
namespace {


/// The byte offset where nesting first exceeds `limit`, or npos. Skips string contents.
std::size_t too_deep_at(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > limit) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string_view::npos;
}

/// YAML 1.2 core-schema resolution of a plain scalar.
nlohmann::json plain_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const char* first = s.data();
  const char* last = s.data() + s.size();
  const char* digits = (*first == '+' || *first == '-') ? first + 1 : first;
  if (digits != last && std::all_of(digits, last, [](char c) { return c >= '0' && c <= '9'; })) {
    long long n = 0;
    const auto [end, ec] = std::from_chars(*first == '+' ? first + 1 : first, last, n);
    if (ec == std::errc() && end == last) return n;
  }
  bool numeric = digits != last;
  bool seen_digit = false;
  for (const char* p = digits; p != last; ++p) {
    if (*p >= '0' && *p <= '9') seen_digit = true;
    else if (*p != '.' && *p != 'e' && *p != 'E' && *p != '-' && *p != '+') numeric = false;
  }
  if (numeric && seen_digit) {
    double d = 0;
    const auto [end, ec] = std::from_chars(*first == '+' ? first + 1 : first, last, d);
    if (ec == std::errc() && end == last) return d;
  }
  return s;
}

struct Converter {
  std::size_t nodes = 0;
  std::size_t k_max_nodes = 100000; // aliases can otherwise expand exponentially

  nlohmann::json convert(const YAML::Node& node, int depth) {
    if (depth > k_max_yaml_depth) throw YAML::Exception(node.Mark(), "nesting is too deep");
    if (++nodes > k_max_nodes) throw YAML::Exception(node.Mark(), "document expands to too many nodes");
    switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar:
      if (node.Tag() == "!") return node.Scalar(); // quoted: always a string
      return plain_scalar(node.Scalar());
    case YAML::NodeType::Sequence: {
      auto out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(convert(item, depth + 1));
      return out;
    }
    case YAML::NodeType::Map: {
      auto out = nlohmann::json::object();
      for (const auto& kv : node) {
        const auto key = convert(kv.first, depth + 1);
        out[key.is_string() ? key.get<std::string>() : key.dump()] = convert(kv.second, depth + 1);
      }
      return out;
    }
    }
    return nullptr;
  }
};

/// Length of the line starting at `pos` without its terminator, and where the next line starts.
std::pair<std::string_view, std::size_t> line_at(std::string_view text, std::size_t pos) {
  const auto end = text.find('\n', pos);
  const auto stop = end == std::string_view::npos ? text.size() : end;
  auto line = text.substr(pos, stop - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return {line, end == std::string_view::npos ? text.size() : end + 1};
}

bool is_fence(std::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  return line == "---";
}

} // namespace

JsonParse parse_json(std::string_view text) {
  JsonParse out;
  if (const auto at = too_deep_at(text, k_max_json_depth); at != std::string_view::npos) {
    const auto [line, column] = text::line_column(text, at);
    out.problem = {.code = "json-too-deep",
                   .message = "JSON nests deeper than " + std::to_string(k_max_json_depth) + " levels",
                   .line = line,
                   .column = column};
    return out;
  }
  try {
    out.value = hearth::parse_json(text);
  } catch (const nlohmann::json::parse_error& e) {
    const auto [line, column] = text::line_column(text, e.byte > 0 ? e.byte - 1 : 0);
    std::string message = e.what();
    // nlohmann prefixes "[json.exception.parse_error.101] parse error at line 1, column 2: ".
    if (const auto colon = message.find(": "); colon != std::string::npos)
      message = message.substr(colon + 2);
    out.problem = {.code = "json-syntax", .message = message, .line = line, .column = column};
  } catch (const nlohmann::json::exception& e) {
    // e.g. out_of_range 406 "number overflow parsing '1e614'": no position is recorded.
    std::string message = e.what();
    if (const auto bracket = message.find("] "); bracket != std::string::npos)
      message = message.substr(bracket + 2);
    out.problem = {.code = "json-syntax", .message = message, .line = 0, .column = 0};
  }
  return out;
}

nlohmann::json parse_yaml_document(std::string_view text, std::size_t max_nodes) {
  if (too_deep_at(text, k_max_yaml_depth) != std::string_view::npos)
    throw std::runtime_error("the YAML nests deeper than " + std::to_string(k_max_yaml_depth) + " levels");
  for (std::size_t pos = 0; pos < text.size();) { // block nesting: bounded by indentation
    std::size_t indent = 0;
    while (pos + indent < text.size() && text[pos + indent] == ' ') ++indent;
    if (indent > 1024) throw std::runtime_error("the YAML is indented deeper than 1024 columns");
    const auto end = text.find('\n', pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
  }
  try {
    Converter converter{.k_max_nodes = max_nodes};
    return converter.convert(YAML::Load(std::string(text)), 0);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error((e.msg.empty() ? std::string("invalid YAML") : e.msg) +
                             (e.mark.line >= 0 ? " (line " + std::to_string(e.mark.line + 1) + ")" : ""));
  }
}

Frontmatter parse_frontmatter(std::string_view text) {
  Frontmatter out;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3); // UTF-8 BOM
  auto [first, pos] = line_at(text, 0);
  if (!is_fence(first)) {
    out.body = std::string(text);
    return out;
  }
  out.present = true;
  const auto yaml_start = pos;
  int line_no = 1;
  while (pos < text.size()) {
    const auto [line, next] = line_at(text, pos);
    ++line_no;
    if (is_fence(line)) {
      const auto yaml = text.substr(yaml_start, pos - yaml_start);
      out.body = std::string(text.substr(next));
      if (yaml.size() > k_max_frontmatter_bytes) {
        out.problem = ParseProblem{.code = "yaml-syntax",
                                   .message = "frontmatter is larger than 256 KiB",
                                   .line = 2,
                                   .column = 1};
        return out;
      }
      if (too_deep_at(yaml, k_max_yaml_depth) != std::string_view::npos) {
        out.problem = ParseProblem{.code = "yaml-syntax",
                                   .message = "frontmatter nests deeper than " +
                                              std::to_string(k_max_yaml_depth) + " levels",
                                   .line = 2,
                                   .column = 1};
        return out;
      }
      try {
        const auto node = YAML::Load(std::string(yaml));
        Converter converter;
        auto data = converter.convert(node, 0);
        if (data.is_null()) data = nlohmann::json::object();
        if (!data.is_object()) {
          out.problem = ParseProblem{.code = "yaml-syntax",
                                     .message = "frontmatter must be a YAML mapping of keys to values",
                                     .line = 2,
                                     .column = 1};
          return out;
        }
        out.data = std::move(data);
      } catch (const YAML::Exception& e) {
        // Mark lines are 0-based and relative to the YAML text, which starts on file line 2.
        const bool known = e.mark.line >= 0;
        out.problem = ParseProblem{.code = "yaml-syntax",
                                   .message = e.msg.empty() ? "invalid YAML" : e.msg,
                                   .line = known ? e.mark.line + 2 : 2,
                                   .column = known ? e.mark.column + 1 : 1};
      } catch (const std::exception& e) {
        out.problem = ParseProblem{.code = "yaml-syntax", .message = e.what(), .line = 2, .column = 1};
      }
      return out;
    }
    pos = next;
  }
  out.problem = ParseProblem{.code = "frontmatter-unterminated",
                             .message = "frontmatter opened with `---` on line 1 is never closed",
                             .line = 1,
                             .column = 1};
  return out;
}

std::optional<std::string> interpreter_for(const std::string& ext) {
  if (ext == ".py") return "python3";
  if (ext == ".js" || ext == ".mjs") return "node";
  if (ext == ".sh") return "bash";
  return std::nullopt;
}

std::string cron_problem(std::string_view expr) { return cron::problem(expr); }

bool is_text(std::string_view s) {
  std::size_t i = 0;
  const auto n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra = 0;
    unsigned min = 0;
    if ((c & 0xE0) == 0xC0) extra = 1, min = 0x80;
    else if ((c & 0xF0) == 0xE0) extra = 2, min = 0x800;
    else if ((c & 0xF8) == 0xF0) extra = 3, min = 0x10000;
    else return false;
    if (i + static_cast<std::size_t>(extra) >= n) return false;
    unsigned cp = c & (0x3F >> extra);
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<std::size_t>(extra) + 1;
  }
  return true;
}

std::string first_line(std::string_view markdown) {
  std::size_t pos = 0;
  while (pos < markdown.size()) {
    auto [line, next] = line_at(markdown, pos);
    pos = next;
    auto t = text::trim(line);
    while (!t.empty() && t.front() == '#') t.remove_prefix(1);
    t = text::trim(t);
    if (!t.empty()) return std::string(t);
  }
  return "";
}

} // namespace hearth::discovery
