// Tools built from an agent's definition: `bash` and `load_skill` (built-ins beside the file
// tools), and the authored executable tools (ARCHITECTURE.md §7: JSON in on stdin, JSON or text out).
#pragma once

#include "runtime/definitions.hpp"
#include "runtime/tool.hpp"

#include <vector>

namespace hearth::runtime {

/// Largest tool output handed back to the model; the rest is cut with a note.
inline constexpr std::size_t k_max_tool_output = 64 * 1024;
/// Default timeout of the `bash` tool.
inline constexpr int k_default_bash_timeout_ms = 120'000;

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
/// (sandbox::environment): HEARTH_SESSION_ID, HEARTH_RUN_ID, HEARTH_WORKSPACE and HEARTH_AGENT.
std::vector<std::string> tool_environment(const ToolContext& context);

/// The policy of `agent`'s commands: its settings with the effective backend (a missing bwrap
/// falls back to `none` unless `fail_closed`), anchored at `project_root`; no workspace yet.
sandbox::Policy agent_policy(const sandbox::Settings& settings,
                             const std::filesystem::path& project_root, bool fail_closed);

/// `markdown` without a leading YAML frontmatter block.
std::string strip_frontmatter(const std::string& markdown);

} // namespace hearth::runtime
