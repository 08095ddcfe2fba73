// Tools built from an agent's definition: `bash` and `load_skill` (built-ins beside the file
// tools), and the authored executable tools (ARCHITECTURE.md §7: JSON in on stdin, JSON or text out).
#pragma once

#include "runtime/definitions.hpp"
#include "runtime/tool.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::runtime {

/// Largest tool output handed back to the model; the rest is cut with a note.
inline constexpr std::size_t k_max_tool_output = 64 * 1024;
/// Default timeout of the `bash` tool.
inline constexpr int k_default_bash_timeout_ms = 120'000;

/// Most `log` events one tool call or workflow script makes of its stderr; past it the rest is
/// dropped and one note names the limit (docs/runtime.md, "Floods").
inline constexpr std::size_t k_max_stderr_events = 100;
/// Largest `log` event made of stderr: consecutive lines are coalesced up to this many bytes.
inline constexpr std::size_t k_stderr_chunk_bytes = 4096;

/// Turns a tool's or script's stderr into at most k_max_stderr_events + 1 `log` events: lines
/// (UTF-8 repaired, blank ones skipped) are coalesced into chunks of at most
/// k_stderr_chunk_bytes (a longer line is cut), each chunk one call of `emit(level, message)`;
/// past the budget lines are counted and dropped, and finish() emits one note naming the limit.
/// Not thread-safe: one feeder.
class StderrLog {
public:
  using Emit = std::function<void(std::string_view level, std::string_view message)>;
  StderrLog(Emit emit, std::string level) : m_emit(std::move(emit)), m_level(std::move(level)) {}

  /// One line of stderr (without its newline).
  void line(std::string_view text);
  /// Emits the lines gathered so far as one event (a streaming reader calls it when idle).
  void flush();
  /// flush(), then the truncation note if lines were dropped. Idempotent.
  void finish();
  /// How many events were emitted, the note included.
  std::size_t events() const noexcept { return m_events; }

private:
  Emit m_emit;
  std::string m_level;
  std::string m_pending{};
  std::size_t m_events = 0;
  std::size_t m_dropped_lines = 0;
  std::size_t m_dropped_bytes = 0;
  bool m_noted = false;
};

/// Fills `tool`'s validator, schema_text and schema_chars from its input_schema (serialized once,
/// the validator from json_schema::shared_validator's cache). A schema that does not compile
/// leaves the validator null (discovery reports bad schemas; the tool checks its input itself).
void prepare_schema(Tool& tool);

/// The built-in tool `name` with manifest/builtins.cpp's description and schema, prepared once per
/// process (prepare_schema), without `run`. Throws std::out_of_range for an unknown name.
Tool builtin_tool(std::string_view name);

/// bash {command, timeoutMs?}: runs `bash -c` through sandbox::run under `policy` (its
/// workspace is the session's, filled in per call), cwd the workspace. A breached limit is an error
/// result naming the limit.
Tool bash_tool(sandbox::Policy policy);

/// load_skill {name}: the skill's body without frontmatter, plus its sibling files.
Tool load_skill_tool(const std::vector<SkillDef>& skills);

/// The tool for an authored spec (the harness has validated the input against `inputSchema`,
/// as for every tool): runs the command with
/// the input JSON on stdin (process group killed after `timeoutMs`) and returns stdout; stderr
/// lines go to the context's log; a non-zero exit, a timeout or a spawn failure is an error result.
/// It runs through sandbox::run under `policy` with the spec's `sandbox` over the agent's, its
/// directory (and program) bound read-only at their host paths, cwd that directory.
Tool exec_tool(const ExecToolDef& def, sandbox::Policy policy);

/// The HEARTH_* variables a tool or script gets on top of the sandbox's allow-list
/// (sandbox::environment): HEARTH_SESSION_ID, HEARTH_RUN_ID, HEARTH_WORKSPACE, HEARTH_AGENT and (when
/// the invocation has one) HEARTH_INVOKER, the invoker as compact JSON (docs/auth.md).
std::vector<std::string> tool_environment(const ToolContext& context);

/// The policy of `agent`'s commands: its settings with the effective backend (a missing bwrap
/// falls back to `none` unless `fail_closed`), anchored at `project_root`; no workspace yet.
sandbox::Policy agent_policy(const sandbox::Settings& settings,
                             const std::filesystem::path& project_root, bool fail_closed);

/// `markdown` without a leading YAML frontmatter block.
std::string strip_frontmatter(const std::string& markdown);

} // namespace hearth::runtime
