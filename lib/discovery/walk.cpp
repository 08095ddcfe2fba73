// The walk context: listings, bounded reads and field checks shared by every slot reader.
#include "discovery/walk.hpp"

#include "core/json_schema.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hearth::discovery::detail {
namespace stdfs = std::filesystem;

std::string Context::rel(const stdfs::path& path) const {
  const auto rel = path.lexically_relative(m_project.root);
  if (rel.empty() || rel == ".") return ".";
  if (*rel.begin() == "..") return path.generic_string();
  return rel.generic_string();
}

void Context::error(std::string code, std::string message, const stdfs::path& path,
                    std::string hint, int line, int column) {
  m_out.diagnostics.push_back({.severity = Severity::error,
                               .code = std::move(code),
                               .message = std::move(message),
                               .path = path.empty() ? "" : rel(path),
                               .line = line,
                               .column = column,
                               .hint = std::move(hint)});
}

void Context::warning(std::string code, std::string message, const stdfs::path& path,
                      std::string hint) {
  m_out.diagnostics.push_back({.severity = Severity::warning,
                               .code = std::move(code),
                               .message = std::move(message),
                               .path = path.empty() ? "" : rel(path),
                               .hint = std::move(hint)});
}

std::vector<Entry> Context::list(const stdfs::path& dir) {
  std::vector<Entry> entries;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    error("file-unreadable", "Cannot read directory: " + std::string(std::strerror(errno)) + ".",
          dir, "Check the directory's permissions.");
    return entries;
  }
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name[0] == '.') continue; // dotfiles: .DS_Store, .gitkeep, editors
    Entry entry{.name = name, .path = dir / name};
    struct stat st {};
    if (::lstat(entry.path.c_str(), &st) == 0 && S_ISLNK(st.st_mode) && !link_inside(entry.path)) {
      // Never follow a link out of the project: what it points at would be compiled into the
      // manifest, copied into dist/ and served (issue 9). Its target is not named.
      error("symlink-outside-project",
            "Symbolic link resolves outside the project root; it is not followed.", entry.path,
            "Copy the file into the project instead of linking to it.");
      continue;
    }
    if (::stat(entry.path.c_str(), &st) != 0) {
      const int err = errno;
      if (err == ELOOP)
        error("symlink-loop", "Symbolic link loop.", entry.path, "Remove or fix the link.");
      else
        warning("broken-symlink", "Cannot follow this entry: " + std::string(std::strerror(err)) + ".",
                entry.path, "Remove the dangling link or create its target.");
      continue;
    }
    entry.is_dir = S_ISDIR(st.st_mode);
    entry.is_file = S_ISREG(st.st_mode);
    entry.executable = entry.is_file && (st.st_mode & 0111) != 0;
    entry.size = static_cast<long long>(st.st_size);
    if (!entry.is_dir && !entry.is_file) continue; // sockets, fifos, devices: never authored
    entries.push_back(std::move(entry));
  }
  ::closedir(d);
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return entries;
}

bool Context::link_inside(const stdfs::path& link) {
  if (m_root_real.empty()) {
    std::error_code ec;
    m_root_real = stdfs::weakly_canonical(m_project.root, ec);
    if (ec) m_root_real = m_project.root.lexically_normal();
  }
  char* resolved = ::realpath(link.c_str(), nullptr);
  if (resolved == nullptr) return true; // dangling or a loop: stat reports it next
  const stdfs::path target(resolved);
  std::free(resolved);
  const auto rel = target.lexically_relative(m_root_real);
  return !rel.empty() && *rel.begin() != "..";
}

std::vector<WalkedFile> Context::walk(const stdfs::path& dir) {
  std::vector<WalkedFile> files;
  std::vector<std::pair<unsigned long, unsigned long>> stack;
  walk_into(dir, "", 0, stack, files);
  return files;
}

void Context::walk_into(const stdfs::path& dir, const std::string& prefix, int depth,
                        std::vector<std::pair<unsigned long, unsigned long>>& stack,
                        std::vector<WalkedFile>& files) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return;
  const std::pair<unsigned long, unsigned long> id{static_cast<unsigned long>(st.st_dev),
                                                   static_cast<unsigned long>(st.st_ino)};
  if (std::find(stack.begin(), stack.end(), id) != stack.end()) {
    error("symlink-loop", "Symbolic link loop: this directory contains itself.", dir,
          "Remove the link that points back to a parent directory.");
    return;
  }
  if (depth > k_max_dir_depth) {
    error("path-too-deep", "Directories nest deeper than " + std::to_string(k_max_dir_depth) + " levels.",
          dir, "Flatten the directory tree.");
    return;
  }
  stack.push_back(id);
  for (auto& entry : list(dir)) {
    const std::string rel = prefix.empty() ? entry.name : prefix + "/" + entry.name;
    if (entry.is_dir) walk_into(entry.path, rel, depth + 1, stack, files);
    else files.push_back({.rel = rel, .entry = std::move(entry)});
  }
  stack.pop_back();
}

std::optional<std::string> Context::read(const stdfs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error("file-unreadable", "Cannot read file: " + std::string(std::strerror(errno)) + ".", path,
          "Check the file's permissions.");
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    error("file-unreadable", "Not a regular file.", path, "Replace it with a regular file.");
    return std::nullopt;
  }
  if (st.st_size > k_max_file_bytes) {
    ::close(fd);
    error("file-too-large",
          "File is " + std::to_string(st.st_size / 1024) + " KiB; authored files are limited to " +
              std::to_string(k_max_file_bytes / 1024 / 1024) + " MiB.",
          path, "Keep large data out of the agent's slots (use sandbox/workspace/ for data files).");
    return std::nullopt;
  }
  std::string data(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      error("file-unreadable", "Cannot read file: " + std::string(std::strerror(err)) + ".", path,
            "Check the file's permissions.");
      return std::nullopt;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  data.resize(got);
  ::close(fd);
  return data;
}

std::optional<nlohmann::json> Context::read_json(const stdfs::path& path) {
  auto text = read(path);
  if (!text) return std::nullopt;
  auto parsed = parse_json(*text);
  if (!parsed.value) {
    error(parsed.problem.code, "Invalid JSON: " + parsed.problem.message, path,
          parsed.problem.code == "json-too-deep" ? "Flatten the document."
                                                 : "Fix the syntax at the reported line and column.",
          parsed.problem.line, parsed.problem.column);
    return std::nullopt;
  }
  return std::move(parsed.value);
}

std::optional<Frontmatter> Context::read_markdown(const stdfs::path& path) {
  auto text = read(path);
  if (!text) return std::nullopt;
  if (!is_text(*text)) {
    error("invalid-utf8", "File is not UTF-8 text (binary data or another encoding).", path,
          "Save the file as UTF-8 text.");
    return std::nullopt;
  }
  auto fm = parse_frontmatter(*text);
  if (fm.problem) {
    error(fm.problem->code, "Invalid frontmatter: " + fm.problem->message, path,
          "Frontmatter is YAML between a first line `---` and the next `---` line.",
          fm.problem->line, fm.problem->column);
    return std::nullopt;
  }
  return fm;
}

void Context::check_keys(const nlohmann::json& object, const std::vector<std::string>& allowed,
                         const stdfs::path& path, const std::string& what, bool warn_only) {
  if (!object.is_object()) return;
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    const auto near = text::nearest(key, allowed);
    std::string hint = "Allowed keys: " + text::quote_list(allowed) + ".";
    if (near) hint = "Did you mean \"" + *near + "\"? " + hint;
    const std::string message = "Unknown key \"" + key + "\" in " + what + ".";
    if (warn_only) warning("unknown-key", message, path, hint);
    else error("unknown-key", message, path, hint);
  }
}

bool Context::check_schema(const nlohmann::json& schema, const stdfs::path& path,
                           const std::string& field, bool object_type) {
  if (!schema.is_object()) {
    error("invalid-schema", "\"" + field + "\" must be a JSON Schema object.", path,
          "Write a JSON Schema such as {\"type\": \"object\", \"properties\": {}}.");
    return false;
  }
  const auto problem = json_schema::schema_problem(schema);
  if (!problem.empty()) {
    error("invalid-schema", "\"" + field + "\" is not a valid JSON Schema: " + problem, path,
          "Check the schema against JSON Schema draft 7.");
    return false;
  }
  if (object_type && schema.value("type", nlohmann::json()) != "object") {
    error("invalid-schema", "\"" + field + "\" must be a JSON Schema of \"type\": \"object\".", path,
          "Tool input is always an object: {\"type\": \"object\", \"properties\": {...}}.");
    return false;
  }
  return true;
}

std::optional<std::string> Context::string_field(const nlohmann::json& object, const char* key,
                                                 const stdfs::path& path) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    error("invalid-field", "\"" + std::string(key) + "\" must be a string.", path,
          "Quote the value.");
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::optional<bool> Context::bool_field(const nlohmann::json& object, const char* key,
                                        const stdfs::path& path) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) {
    error("invalid-field", "\"" + std::string(key) + "\" must be true or false.", path,
          "Use a boolean.");
    return std::nullopt;
  }
  return it->get<bool>();
}

std::optional<long long> Context::positive_int_field(const nlohmann::json& object, const char* key,
                                                     const stdfs::path& path) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || it->get<long long>() < 1) {
    error("invalid-field", "\"" + std::string(key) + "\" must be a positive integer.", path,
          "Use a whole number greater than 0.");
    return std::nullopt;
  }
  return it->get<long long>();
}

std::string stem_of(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

std::string extension_of(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos || dot == 0 ? "" : name.substr(dot);
}

bool is_tool_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

const std::vector<std::string>& builtin_tool_names() {
  static const std::vector<std::string> names = {"read_file", "write_file", "glob",        "grep",
                                                 "bash",      "load_skill", "ask_question"};
  return names;
}

} // namespace hearth::discovery::detail
