// The ignore rules of the dev watcher; see watcher.hpp. Flue 0.11 ignores the same families
// (output dir, node_modules, .git, dot-files, `*~`, `*.swp`, `*.swx`); vim's `4913` probe file
// and JetBrains' safe-write temporaries are added because they come and go on every save.
#include "watch/watcher.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace hearth::watch {
namespace {

constexpr std::array<std::string_view, 5> k_dependency_dirs = {
    "node_modules", "bower_components", "venv", "__pycache__", "site-packages"};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_dependency_dir(std::string_view name) {
  return std::find(k_dependency_dirs.begin(), k_dependency_dirs.end(), name) !=
         k_dependency_dirs.end();
}

bool is_editor_temporary(std::string_view name) {
  return ends_with(name, "~") || ends_with(name, ".swp") || ends_with(name, ".swx") ||
         ends_with(name, ".swo") || name == "4913" || name.rfind(".#", 0) == 0 ||
         (name.size() > 1 && name.front() == '#' && name.back() == '#') ||
         ends_with(name, "___jb_tmp___") || ends_with(name, "___jb_old___");
}

/// True when `path` is `dir` or inside it (both absolute, normalised).
bool is_within(const std::filesystem::path& path, const std::filesystem::path& dir) {
  auto p = path.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++p) {
    if (d->empty()) continue; // a trailing separator
    if (p == path.end() || *p != *d) return false;
  }
  return true;
}

} // namespace

const char* to_string(ChangeKind kind) {
  switch (kind) {
  case ChangeKind::created: return "created";
  case ChangeKind::modified: return "modified";
  case ChangeKind::deleted: return "deleted";
  case ChangeKind::rescan: return "rescan";
  }
  return "modified";
}

bool is_ignored(const IgnoreRules& rules, const std::filesystem::path& path) {
  if (path == rules.root) return false;
  if (!is_within(path, rules.root)) return true;
  for (const auto& dir : rules.ignored_dirs)
    if (is_within(path, dir)) return true;
  const auto relative = path.lexically_relative(rules.root);
  for (auto it = relative.begin(); it != relative.end(); ++it) {
    const std::string name = it->string();
    if (name.empty() || name == ".") continue;
    const bool last = std::next(it) == relative.end();
    if (is_dependency_dir(name)) return true;
    // .env files reload the server with new variables; other dot entries are tool state.
    if (name.front() == '.' && !(last && name.rfind(".env", 0) == 0)) return true;
    if (last && is_editor_temporary(name)) return true;
  }
  return false;
}

} // namespace hearth::watch
