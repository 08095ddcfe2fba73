// The parsers discovery feeds authored files through: JSON with a nesting cap and line/column
// errors, Markdown with YAML frontmatter (yaml-cpp, converted to JSON), and 5-field cron. Each
// returns a problem instead of throwing, and survives arbitrary bytes (tests/fuzz/).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace hearth::discovery {

/// Deepest JSON nesting accepted (arrays and objects); deeper input is refused before nlohmann
/// recurses into it.
inline constexpr int k_max_json_depth = 256;
/// Deepest YAML nesting accepted in frontmatter.
inline constexpr int k_max_yaml_depth = 64;
/// Largest frontmatter block accepted, in bytes.
inline constexpr std::size_t k_max_frontmatter_bytes = 256 * 1024;

/// Why a text could not be parsed: `code` is a diagnostic code (json-syntax, json-too-deep,
/// yaml-syntax, yaml-too-deep, frontmatter-unterminated, invalid-utf8); line/column are 1-based
/// positions in the whole file, 0 when unknown.
struct ParseProblem {
  std::string code{};
  std::string message{};
  int line = 0;
  int column = 0;
};

struct JsonParse {
  std::optional<nlohmann::json> value{};
  ParseProblem problem{}; // meaningful when !value
};

/// Parses `text` as one JSON document (RFC 8259, no comments), refusing nesting deeper than
/// k_max_json_depth and strings that are not UTF-8.
JsonParse parse_json(std::string_view text);

struct Frontmatter {
  bool present = false;                           // the text opened with a `---` line
  nlohmann::json data = nlohmann::json::object(); // the YAML mapping as JSON ({} when absent/empty)
  std::string body{};                             // everything after the closing `---` line
  std::optional<ParseProblem> problem{};          // set when the frontmatter is unusable
};

/// Splits Markdown `text` into YAML frontmatter (between a leading `---` line and the next `---`
/// line) and body. YAML scalars become JSON strings, numbers, booleans or null (YAML 1.2 core
/// schema; quoted scalars stay strings). A frontmatter that is not a mapping is a problem.
Frontmatter parse_frontmatter(std::string_view text);

/// One YAML document (e.g. an OpenAPI spec, issue 13) as JSON, converted as frontmatter is.
/// Bounded before yaml-cpp sees it: flow nesting ([ {) at most k_max_yaml_depth, indentation at
/// most 1024 columns; while converting: nesting k_max_yaml_depth, at most `max_nodes` nodes
/// (aliases expanded). Throws std::runtime_error with the reason (and line) when it is not YAML
/// or breaks a bound.
nlohmann::json parse_yaml_document(std::string_view text, std::size_t max_nodes);

/// "" when `expr` is a valid 5-field cron expression (minute hour day-of-month month day-of-week;
/// `*`, lists, ranges, `/step`, names jan-dec and sun-sat, day-of-week 0-7) or one of the macros
/// @yearly @annually @monthly @weekly @daily @midnight @hourly; else why it is not.
std::string cron_problem(std::string_view expr);

/// The interpreter a script's extension implies (.py python3, .js/.mjs node, .sh bash), or
/// nullopt for other extensions (an executable with a shebang runs directly). Program
/// workflows and `run` schedules.
std::optional<std::string> interpreter_for(const std::string& ext);

/// True when `text` is well-formed UTF-8 without NUL bytes.
bool is_text(std::string_view text);

/// The first non-empty line of `markdown` (headings lose their leading '#'s), trimmed.
std::string first_line(std::string_view markdown);

} // namespace hearth::discovery
