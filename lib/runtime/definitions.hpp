// What the runtime knows about authored agents and workflows: plain structs loaded from the
// compiled manifest (.hearth/compile/compiled-agent-manifest.json, docs/manifest.md). Paths are
// absolute once loaded.
#pragma once

#include "runtime/tool.hpp"
#include "sandbox/sandbox.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace hearth::runtime {

/// Steps a turn may take when agent.json sets no `maxSteps` (seed page 07).
inline constexpr int k_default_max_steps = 20;
/// Attempts of a durable run when the workflow sets no `maxAttempts` (Flue-style default).
inline constexpr int k_default_max_attempts = 3;
/// Default timeout of an executable tool.
inline constexpr int k_default_tool_timeout_ms = 60'000;

struct SkillDef {
  std::string name{};
  std::string description{};
  std::filesystem::path file{};      // the skill's Markdown (skills/x.md or skills/x/SKILL.md)
  std::filesystem::path directory{}; // skills/x/ for a directory skill, else empty
};

/// An authored tool: a spec plus the executable it runs (ARCHITECTURE.md §7, tool executables).
struct ExecToolDef {
  std::string name{};
  std::string description{};
  SharedSchema input_schema = make_schema(nlohmann::json::object()); // never null
  std::vector<std::string> command{}; // argv, program resolved to an absolute path where possible
  std::filesystem::path cwd{};        // where it runs: the project root
  std::string approval = "never";     // never | once | always
  int timeout_ms = k_default_tool_timeout_ms;
  nlohmann::json sandbox{};           // the spec's `sandbox` ({network, env, reads}) or null
  bool idempotent = false;            // durable runs: re-run (not "interrupted") after a crash
};

/// A lifecycle hook file (agent/hooks/*; runtime/hooks.hpp): `event` is the lifecycle event its
/// name maps to (request, policy, approval, trace, error, finish) or "" when none (never called).
struct HookDef {
  std::string name{};           // discovery's name: hooks/on-finish.sh -> on-finish
  std::string event{};          // hook_event(name)
  std::filesystem::path path{}; // absolute
};

struct AgentDef {
  std::string name{};
  std::string description{};
  std::string model{};                  // provider/model; may be empty (then hearth.json's)
  std::string instructions{};           // the instructions text, files concatenated
  nlohmann::json model_options = nlohmann::json::object();
  int max_steps = k_default_max_steps;
  /// agent.json `connectionToolThreshold` (issue 13, docs/mcp.md): above this many connection
  /// tools only connection__search and the tools it found are offered (mcp::k_default_tool_threshold).
  int connection_tool_threshold = 32;
  nlohmann::json output_schema{};       // null when none
  /// agent.json `compaction` as compiled (runtime/compaction.hpp compaction_settings reads it):
  /// null (defaults), false, or {enabled, thresholdPercent, contextWindowTokens, model,
  /// keepRecentTurns, pinFirstMessage}.
  nlohmann::json compaction{};
  bool http = false;
  bool http_disabled = false;           // "http": false written: no HTTP route at all, Eve's neither
  nlohmann::json invoker{};             // agent.json `invoker` {profiles, resolve} or null (seed 002)
  nlohmann::json access{};              // agent.json `access` rules or null (docs/auth.md)
  nlohmann::json policy{};              // agent.json `policy` rules or null (runtime/policy.hpp)
  std::vector<SkillDef> skills{};
  std::vector<ExecToolDef> tools{};
  std::vector<AgentDef> subagents{};
  std::vector<HookDef> hooks{};         // agent/hooks/* (lifecycle hooks)
  /// agent/connections/*.json as compiled (manifest `connections[]`: the file plus name, path,
  /// transport); parsed by mcp::parse_connection (issue 13).
  nlohmann::json connections = nlohmann::json::array();
  std::filesystem::path directory{};    // the agent root (agent/, agents/<name>/, subagents/<id>/)
  std::filesystem::path workspace_seed{}; // sandbox/workspace, when it exists
  std::filesystem::path mock_script{};  // mock.jsonl beside agent.json, when it exists
  sandbox::Settings sandbox{};          // hearth.json `sandbox` with agent.json's over it
};

enum class WorkflowKind { declarative, program };

struct WorkflowDef {
  std::string name{};
  WorkflowKind kind = WorkflowKind::declarative;
  std::string description{};
  std::string agent{};                // declarative: the agent to prompt (default: root agent)
  std::string model{};                // declarative: overrides the agent's model when set
  nlohmann::json result{};            // declarative: JSON Schema of the result, or null
  std::string body{};                 // declarative: the prompt template
  int max_steps = 0;                  // 0: the agent's
  /// Durable runs: attempts (the first run + take-overs after crashes) before a run whose
  /// runtime died ends runtime_crashed (workflow frontmatter `maxAttempts`).
  int max_attempts = k_default_max_attempts;
  bool http = false;
  std::filesystem::path executable{}; // program: the script
  std::vector<std::string> command{}; // program: argv to start it (interpreter + script)
  int timeout_ms = 0;                 // program: 0 = no timeout
  sandbox::Settings sandbox{};        // program: hearth.json `sandbox` (+ the sidecar's reads)
  nlohmann::json access{};            // `access` rules over the invoker, or null (docs/auth.md)
};

} // namespace hearth::runtime
