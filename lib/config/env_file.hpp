// .env files: the dotenv format (quotes, `export `, comments, escapes) and the seed's file
// precedence (page 19: .env.development.local, .env.local, .env.development, .env).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::config {

/// One KEY=value assignment read from an env file.
struct EnvEntry {
  std::string key{};
  std::string value{};
  int line = 0; // 1-based line of the assignment
};

/// Parses dotenv text. Supports `KEY=value`, `export KEY=value`, `#` comments (whole-line, and
/// after an unquoted value), single quotes (literal), double quotes (escapes \n \r \t \" \\ and
/// multi-line values) and backticks. `file` names the source in errors.
/// Throws hearth::Error env_invalid with `file:line`.
std::vector<EnvEntry> parse_env(std::string_view text, std::string_view file);

/// The env files that apply for `root`, highest precedence first: with `explicit_file`, just that
/// file (relative to `cwd`; it must exist, else env_file_not_found); otherwise the existing ones of
/// .env.development.local, .env.local, .env.development, .env under `root`.
std::vector<std::filesystem::path> env_files(const std::filesystem::path& root,
                                             const std::vector<std::string>& explicit_files,
                                             const std::filesystem::path& cwd);

/// Reads `files` (highest precedence first) and sets every variable that the process environment
/// does not already define. Returns the variables it set. Throws hearth::Error env_invalid.
std::vector<std::pair<std::string, std::string>>
apply_env_files(const std::vector<std::filesystem::path>& files);

} // namespace hearth::config
