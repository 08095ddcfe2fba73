// Internal to lib/discovery: the walk context every slot reader shares: directory listings that
// survive symlink loops and unreadable entries, bounded file reads, and the diagnostic sink.
#pragma once

#include "discovery/discovery.hpp"
#include "discovery/parse.hpp"

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace hearth::discovery::detail {

/// Largest authored file discovery reads (specs, markdown); bigger files are a diagnostic.
inline constexpr long long k_max_file_bytes = 4LL * 1024 * 1024;
/// Deepest directory recursion (tools/**, schedules/**, ...).
inline constexpr int k_max_dir_depth = 32;

struct Entry {
  std::string name{};
  std::filesystem::path path{};
  bool is_dir = false;
  bool is_file = false;
  bool executable = false;
  long long size = 0;
};

/// A file found by a recursive walk; `rel` is relative to the walked directory, '/' separated.
struct WalkedFile {
  std::string rel{};
  Entry entry{};
};

class Context {
public:
  Context(const config::Project& project, Discovery& out) : m_project(project), m_out(out) {}

  const config::Project& project() const { return m_project; }

  /// `path` relative to the project root, '/' separated; "." for the root itself.
  std::string rel(const std::filesystem::path& path) const;

  void error(std::string code, std::string message, const std::filesystem::path& path,
             std::string hint, int line = 0, int column = 0);
  void warning(std::string code, std::string message, const std::filesystem::path& path,
               std::string hint);

  /// The visible entries of `dir` sorted by name (dotfiles skipped). Broken symlinks become a
  /// warning; an unreadable directory an error.
  std::vector<Entry> list(const std::filesystem::path& dir);

  /// Every regular file under `dir`, recursively, sorted; symlink loops and excessive depth are
  /// errors and are not followed.
  std::vector<WalkedFile> walk(const std::filesystem::path& dir);

  /// The file's text, or nullopt after reporting why not (too large, unreadable).
  std::optional<std::string> read(const std::filesystem::path& path);

  /// The file parsed as JSON, or nullopt after reporting a json-syntax / json-too-deep error.
  std::optional<nlohmann::json> read_json(const std::filesystem::path& path);

  /// The file parsed as Markdown + frontmatter, or nullopt after reporting why not.
  std::optional<Frontmatter> read_markdown(const std::filesystem::path& path);

  /// Reports `unknown-key` for every key of `object` outside `allowed` (an error, or a warning
  /// when `warn_only`). `what` names the file kind in messages ("agent.json").
  void check_keys(const nlohmann::json& object, const std::vector<std::string>& allowed,
                  const std::filesystem::path& path, const std::string& what, bool warn_only = false);

  /// A JSON Schema that must compile (and, with `object_type`, have "type": "object").
  bool check_schema(const nlohmann::json& schema, const std::filesystem::path& path,
                    const std::string& field, bool object_type);

  /// Reads an optional string member; reports invalid-field when present with another type.
  std::optional<std::string> string_field(const nlohmann::json& object, const char* key,
                                          const std::filesystem::path& path);
  std::optional<bool> bool_field(const nlohmann::json& object, const char* key,
                                 const std::filesystem::path& path);
  std::optional<long long> positive_int_field(const nlohmann::json& object, const char* key,
                                              const std::filesystem::path& path);

  /// True when the symlink `link` resolves inside the project root (or cannot be resolved at
  /// all: dangling links and loops are reported by list()).
  bool link_inside(const std::filesystem::path& link);

private:
  void walk_into(const std::filesystem::path& dir, const std::string& prefix, int depth,
                 std::vector<std::pair<unsigned long, unsigned long>>& stack,
                 std::vector<WalkedFile>& files);

  const config::Project& m_project;
  Discovery& m_out;
  std::filesystem::path m_root_real{}; // the project root with symlinks resolved, on first use
};

/// `name` without its last extension ("get_weather.py" -> "get_weather"); dotfiles keep their name.
std::string stem_of(const std::string& name);

/// The last extension of `name` with its dot (".py"), or "" (none, or a dotfile).
std::string extension_of(const std::string& name);

/// True for names usable as a model-facing tool or skill name: [A-Za-z0-9_-], 1 to 64 characters,
/// starting with a letter or digit.
bool is_tool_name(std::string_view name);

/// Reads one agent root (agent/, agents/<name>/, subagents/<id>/). `kind` is root|agent|subagent;
/// `flat` means the root is the source root itself (unknown entries there are not reported).
/// Reads `dir`'s <name>.json channel specs into `agent.channels` (validated; docs/triggers.md).
void read_channels(Context& ctx, Agent& agent, const std::filesystem::path& dir);

/// Reads project-level connections (connections/ at the source root beside agent/; Flue's
/// connectMcpServer) into the root agent, marked `project`. A name the root agent's own
/// connections use too is an error (one pool entry per agent and name).
void read_project_connections(Context& ctx, Agent& root, const std::filesystem::path& dir);

Agent read_agent(Context& ctx, const std::filesystem::path& dir, std::string name, std::string kind,
                 bool flat);

/// The built-in tool names every agent has (the runtime implements them).
const std::vector<std::string>& builtin_tool_names();

} // namespace hearth::discovery::detail
