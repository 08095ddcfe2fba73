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

/// bash {command, timeoutMs?}: runs `bash -c` in the workspace with the tool environment.
Tool bash_tool(std::vector<std::string> secret_env);

/// load_skill {name}: the skill's body without frontmatter, plus its sibling files.
Tool load_skill_tool(const std::vector<SkillDef>& skills);

/// The tool for an authored spec (the harness has validated the input against `inputSchema`,
/// as for every tool): runs the command with
/// the input JSON on stdin (process group killed after `timeoutMs`) and returns stdout; stderr
/// lines go to the context's log; a non-zero exit, a timeout or a spawn failure is an error result.
Tool exec_tool(const ExecToolDef& def, std::vector<std::string> secret_env);

/// The environment for tools and scripts: ours without `secret_env` variables (and any
/// *_API_KEY), plus HEARTH_SESSION_ID, HEARTH_RUN_ID, HEARTH_WORKSPACE, HEARTH_AGENT and (when
/// the invocation has one) HEARTH_INVOKER, the invoker as compact JSON (docs/auth.md).
std::vector<std::string> tool_environment(const ToolContext& context,
                                          const std::vector<std::string>& secret_env);

/// `markdown` without a leading YAML frontmatter block.
std::string strip_frontmatter(const std::string& markdown);

} // namespace hearth::runtime
