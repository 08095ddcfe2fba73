// The dotenv parser and the env-file precedence; see env_file.hpp.
#include "config/env_file.hpp"

#include "core/errors.hpp"
#include "core/fs.hpp"
#include "core/text.hpp"

#include <cstdlib>
#include <map>
#include <set>

namespace hearth::config {
namespace {
namespace stdfs = std::filesystem;

/// The seed's development env files, highest precedence first (page 19, "Environment files").
constexpr const char* k_env_files[] = {".env.development.local", ".env.local", ".env.development",
                                       ".env"};

bool key_char(char c, bool first) {
  const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  return first ? alpha : alpha || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

/// A cursor over the text that tracks the line number for messages.
class Scanner {
public:
  Scanner(std::string_view text, std::string_view file) : m_text(text), m_file(file) {}

  bool done() const { return m_pos >= m_text.size(); }
  char peek() const { return done() ? '\0' : m_text[m_pos]; }
  char take() {
    const char c = m_text[m_pos++];
    if (c == '\n') ++m_line;
    return c;
  }
  int line() const { return m_line; }
  void skip_blanks() {
    while (peek() == ' ' || peek() == '\t') take();
  }
  void skip_line() {
    while (!done() && peek() != '\n') take();
    if (!done()) take();
  }
  [[noreturn]] void fail(int line, const std::string& problem) const {
    throw errors::env_syntax(std::string(m_file) + ":" + std::to_string(line), problem);
  }
  /// After a value: only blanks and an optional comment may remain on the line.
  void expect_line_end(int line) {
    skip_blanks();
    if (peek() == '#') skip_line();
    else if (peek() == '\r') take();
    if (!done() && peek() != '\n') fail(line, "unexpected text after the closing quote");
    if (!done()) take();
  }

private:
  std::string_view m_text;
  std::string_view m_file;
  std::size_t m_pos = 0;
  int m_line = 1;
};

std::string read_key(Scanner& in, int line) {
  std::string key;
  while (key_char(in.peek(), key.empty())) key += in.take();
  if (key.empty()) in.fail(line, "expected a variable name (letters, digits and _)");
  if (key == "export" && (in.peek() == ' ' || in.peek() == '\t')) {
    in.skip_blanks();
    return read_key(in, line);
  }
  return key;
}

std::string read_quoted(Scanner& in, int line) {
  const char quote = in.take();
  std::string value;
  while (true) {
    if (in.done()) in.fail(line, std::string("unterminated ") + quote + " quote");
    const char c = in.take();
    if (c == quote) break;
    if (c == '\\' && quote == '"' && !in.done()) {
      const char e = in.take();
      switch (e) {
      case 'n': value += '\n'; break;
      case 'r': value += '\r'; break;
      case 't': value += '\t'; break;
      case '"': value += '"'; break;
      case '\\': value += '\\'; break;
      case '$': value += '$'; break;
      default: value += '\\'; value += e; break;
      }
      continue;
    }
    value += c;
  }
  in.expect_line_end(line);
  return value;
}

std::string read_unquoted(Scanner& in) {
  std::string value;
  while (!in.done() && in.peek() != '\n') {
    const char c = in.take();
    // ` #` starts a comment; `a#b` keeps its hash (dotenv's rule).
    if (c == '#' && (value.empty() || value.back() == ' ' || value.back() == '\t')) {
      in.skip_line();
      return std::string(text::trim(value));
    }
    value += c;
  }
  if (!in.done()) in.take();
  return std::string(text::trim(value));
}

} // namespace

std::vector<EnvEntry> parse_env(std::string_view text, std::string_view file) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3); // UTF-8 BOM
  Scanner in(text, file);
  std::vector<EnvEntry> entries;
  while (!in.done()) {
    in.skip_blanks();
    if (in.peek() == '#' || in.peek() == '\n' || in.peek() == '\r') {
      in.skip_line();
      continue;
    }
    if (in.done()) break;
    const int line = in.line();
    EnvEntry entry{.key = read_key(in, line), .line = line};
    in.skip_blanks();
    if (in.peek() != '=') in.fail(line, "expected `=` after " + entry.key);
    in.take();
    in.skip_blanks();
    const char first = in.peek();
    entry.value = first == '"' || first == '\'' || first == '`' ? read_quoted(in, line)
                                                                : read_unquoted(in);
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::vector<stdfs::path> env_files(const stdfs::path& root,
                                   const std::vector<std::string>& explicit_files,
                                   const stdfs::path& cwd) {
  if (explicit_files.size() > 1) throw errors::env_flag_repeated();
  if (explicit_files.size() == 1) {
    const stdfs::path file = fs::absolute_from(cwd, explicit_files.front());
    if (!stdfs::is_regular_file(file)) throw errors::env_file_not_found(file.string());
    return {file};
  }
  std::vector<stdfs::path> found;
  for (const char* name : k_env_files)
    if (stdfs::is_regular_file(root / name)) found.push_back(root / name);
  return found;
}

std::vector<std::pair<std::string, std::string>>
apply_env_files(const std::vector<stdfs::path>& files) {
  std::set<std::string> seen; // a key from a higher-precedence file is never overridden
  std::vector<std::pair<std::string, std::string>> applied;
  for (const auto& file : files) {
    for (auto& entry : parse_env(fs::read_file(file), file.string())) {
      if (!seen.insert(entry.key).second) continue;
      if (std::getenv(entry.key.c_str()) != nullptr) continue; // shell values always win
      ::setenv(entry.key.c_str(), entry.value.c_str(), 1);
      applied.emplace_back(entry.key, entry.value);
    }
  }
  return applied;
}

} // namespace hearth::config
