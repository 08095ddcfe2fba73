// Connections as tools the model calls (issue 13 §2; seed 003 "Connections"):
// `connection__<connection>__<tool>` with the server's input schema, and `connection__search`
// (text search over the names and descriptions of every tool of the agent's connections). Results
// are mapped to ToolOutcome: the text the model reads, `details.mcp` the CallToolResult for the
// stream (`action.result`). docs/mcp.md "Connections (client)".
#pragma once

#include "mcp/connections.hpp"
#include "runtime/definitions.hpp"
#include "runtime/tool.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace hearth::mcp {

/// Longest tool name a provider accepts (OpenAI: 64; Anthropic: 128); names are [A-Za-z0-9_-].
inline constexpr std::size_t k_max_tool_name = 64;
/// Most matches connection__search returns.
inline constexpr std::size_t k_max_search_results = 20;

/// The model-facing name of `tool` of `connection`: `connection__<connection>__<tool>` with
/// characters outside [A-Za-z0-9_-] replaced by '_'; longer than k_max_tool_name: cut, with an
/// 8-hex hash of the full name at the end, so distinct tools keep distinct names.
std::string tool_name(const std::string& connection, const std::string& tool);

/// The ToolOutcome for a CallToolResult: text content joined, image/audio/resource/resource_link
/// described in one line each, structuredContent as JSON when there is no text; isError ->
/// is_error; details {connection, tool, mcp: result (blobs over 64 KiB replaced by their size)}.
runtime::ToolOutcome outcome_of(const std::string& connection, const std::string& tool,
                                const nlohmann::json& result);

/// The tools of `agent`'s connections registered in `pool`: for each connection that starts (now,
/// when not running; a failure is reported to `on_error` and skips it), one tool per listed tool;
/// plus connection__search when the agent has any connection. `approval` carries the connection's
/// approval. Never throws for a connection that fails.
std::vector<runtime::Tool> connection_tools(
    Pool& pool, const std::string& agent,
    const std::function<void(const std::string& connection, const Error&)>& on_error = {});

/// A pool holding the connections of `agents` and their subagents, each under its agent's sandbox
/// policy (runtime::agent_policy); null when no agent has a connection. A connection whose file
/// cannot be used is left out and reported to `warn`. Server stderr and log notifications at
/// warn/error level go to `warn` too.
std::shared_ptr<Pool> make_pool(const std::vector<runtime::AgentDef>& agents,
                                const std::filesystem::path& project_root,
                                bool sandbox_fail_closed,
                                std::function<void(const std::string&)> warn = {});

} // namespace hearth::mcp
