// Discovery: walks an authored project (ARCHITECTURE.md §3; seed pages 05, 06, 12) and returns what
// it found plus every diagnostic, in one pass. Discovery never executes authored code and never
// throws for a problem in the project: problems become diagnostics.
#pragma once

#include "config/config.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace hearth::discovery {

enum class Severity { error, warning };

/// One finding. `code` is stable (docs/info.md lists every code); `path` is project-relative and
/// '/' separated ("" for the project itself); `line`/`column` are 1-based, 0 when unknown.
struct Diagnostic {
  Severity severity = Severity::error;
  std::string code{};
  std::string message{};
  std::string path{};
  int line = 0;
  int column = 0;
  std::string hint{};
};

/// A tool the model may call: `tools/**/*.json` plus the command it runs.
struct Tool {
  std::string name{};              // path-derived: tools/billing/refund.json -> billing-refund
  std::string description{};
  nlohmann::json input_schema = nlohmann::json::object();
  std::vector<std::string> command{}; // argv, run in `cwd`; "./x.py" for the executable beside the spec
  std::string cwd{};               // project-relative directory of the spec
  std::string spec{};              // project-relative path of the spec
  std::string executable{};        // project-relative path of the beside executable, or ""
  std::string approval = "never";  // never | once | always
  std::optional<long long> timeout_ms{};
  nlohmann::json sandbox = nullptr; // the spec's `sandbox` ({network, env, reads}), validated
  bool idempotent = false;         // durable runs: safe to run again after a crash mid-call
};

/// A skill: skills/<name>.md, or skills/<name>/SKILL.md with sibling files.
struct Skill {
  std::string name{};
  std::string description{};
  std::string path{};              // the markdown file
  std::string dir{};               // the package directory (packaged skills), else ""
  std::vector<std::string> files{}; // sibling files of a packaged skill, relative to `dir`
  std::string body{};              // markdown without frontmatter
  nlohmann::json frontmatter = nlohmann::json::object();
};

/// connections/<name>.json: an MCP server over stdio ({command, args, env}) or HTTP ({url, headers}).
struct Connection {
  std::string name{};
  std::string path{};
  std::string transport{};         // "stdio" | "http"
  nlohmann::json config = nlohmann::json::object(); // the file as authored
  /// connections/ at the source root of a nested layout (Flue's connectMcpServer, issue 13):
  /// the root agent's, with tools named mcp__<server>__<tool>.
  bool project = false;
};

/// schedules/**/*.md: a cron-driven prompt. Root agent only.
struct Schedule {
  std::string name{};              // schedules/billing/sweep.md -> billing/sweep
  std::string path{};
  std::string cron{};
  std::string description{};
  std::string prompt{};            // the markdown body ("" with `run`)
  std::string run{};               // frontmatter `run`: project-relative script ("" : markdown)
  std::string interpreter{};       // `run`: python3 | node | bash | "" (run directly)
  bool catch_up = false;           // frontmatter `catchUp`: run one fire missed while down
  std::string overlap = "skip";    // frontmatter `overlap`: skip | queue
};

/// agent/channels/<name>.json, or channels/<name>.json beside agent/ (root agent only), validated
/// by triggers::parse_channel and kept as authored for the server (docs/triggers.md).
struct Channel {
  std::string name{};
  std::string path{};
  nlohmann::json config = nlohmann::json::object();
};

/// hooks/** : listed, never run by discovery.
struct Hook {
  std::string name{};              // hooks/on-turn.py -> on-turn; nested dirs flatten with '-'
  std::string path{};
};

/// One agent root: agent/ (or the flat source root), agents/<name>/, or subagents/<id>/.
struct Agent {
  std::string name{};
  std::string kind{};              // "root" | "agent" | "subagent"
  std::string dir{};               // project-relative agent root ("." for a flat root at the project root)
  bool has_config = false;         // agent.json present and parsed
  std::string model{};             // agent.json model, else hearth.json model (may be empty)
  std::string description{};
  nlohmann::json model_options = nullptr;
  std::optional<long long> max_steps{};
  nlohmann::json output_schema = nullptr;
  nlohmann::json compaction = nullptr;
  std::optional<long long> connection_tool_threshold{}; // agent.json (docs/mcp.md), 0..4096
  bool http = false;
  bool http_disabled = false;      // agent.json says "http": false (closes the Eve channel too)
  nlohmann::json invoker = nullptr; // agent.json `invoker` ({profiles, resolve}; seed 002)
  nlohmann::json access = nullptr;  // agent.json `access` (docs/auth.md "Access")
  nlohmann::json policy = nullptr;  // agent.json `policy` rules (runtime/policy.hpp), validated
  std::string instructions{};      // concatenated text (file first, then directory entries sorted)
  std::vector<std::string> instruction_files{};
  std::vector<Tool> tools{};
  std::vector<Skill> skills{};
  std::vector<Connection> connections{};
  std::vector<Agent> subagents{};
  std::vector<Schedule> schedules{};
  std::vector<Channel> channels{};
  std::vector<Hook> hooks{};
  std::string sandbox_workspace{}; // project-relative sandbox/workspace dir, or ""
  std::vector<std::string> sandbox_files{}; // files under it, relative to it
  std::string mock{};              // project-relative mock.jsonl, or ""
  nlohmann::json sandbox = nlohmann::json::object(); // agent.json `sandbox`, validated
};

/// workflows/<name>.md (declarative) or workflows/<name>.<ext> (program) + optional <name>.json.
struct Workflow {
  std::string name{};
  std::string kind{};              // "declarative" | "program"
  std::string path{};
  std::string description{};
  std::string agent{};             // declarative: agent name ("" when there is no agent at all)
  std::string model{};
  nlohmann::json result = nullptr; // JSON Schema or null
  bool http = false;
  std::optional<long long> max_steps{};
  std::optional<long long> max_attempts{}; // durable runs: attempts before a crashed run ends
  std::string body{};              // declarative: prompt template over {{payload.<path>}}
  std::string interpreter{};       // program: python3 | node | bash | "" (run directly)
  std::string sidecar{};           // program: project-relative <name>.json or ""
  std::optional<long long> timeout_ms{};
  nlohmann::json access = nullptr; // frontmatter / sidecar `access` rules (docs/auth.md)
};

/// Everything one walk found.
struct Discovery {
  std::string layout{};            // "nested" | "flat" | "none" (no root agent)
  std::string source_root{};       // project-relative ("." or "src")
  std::optional<Agent> root{};     // the root agent
  std::vector<Agent> agents{};     // agents/<name>/
  std::vector<Workflow> workflows{};
  std::vector<Diagnostic> diagnostics{};

  std::size_t errors() const;
  std::size_t warnings() const;
};

/// Walks `project` (its source_root; ARCHITECTURE.md §3) and returns the discovered surface with
/// every diagnostic. Reads files but never runs them. Throws nothing for project problems; only
/// std::bad_alloc-class failures escape.
Discovery discover(const config::Project& project);

/// The names of the top-level entries of an agent root that discovery reads ("agent.json",
/// "tools", ...); used by the input hash and by `hearth build` to know what to copy.
const std::vector<std::string>& slot_names();

/// "error" | "warning".
std::string to_string(Severity severity);

/// A diagnostic as JSON: {severity, code, message, path, line?, column?, hint}.
nlohmann::json to_json(const Diagnostic& diagnostic);

/// Two lines for humans: `error[code] path:line:column: message` and `  hint: …`.
std::string describe(const Diagnostic& diagnostic);

/// The inverse of to_json (unknown or missing members take defaults).
Diagnostic diagnostic_from_json(const nlohmann::json& json);

} // namespace hearth::discovery
