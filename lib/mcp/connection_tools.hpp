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

#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace hearth::store {
class Store;
}

namespace hearth::mcp {

/// Longest tool name a provider accepts (OpenAI: 64; Anthropic: 128); names are [A-Za-z0-9_-].
inline constexpr std::size_t k_max_tool_name = 64;
/// Most matches connection__search returns.
inline constexpr std::size_t k_max_search_results = 20;

/// The model-facing name of `tool` of `connection`: `<prefix>__<connection>__<tool>` (prefix
/// "connection", or "mcp" for project-level connections: ConnectionConfig::tool_prefix) with
/// characters outside [A-Za-z0-9_-] replaced by '_'; longer than k_max_tool_name: cut, with an
/// 8-hex hash of the full name at the end, so distinct tools keep distinct names.
std::string tool_name(const std::string& connection, const std::string& tool,
                      const std::string& prefix = "connection");

/// The ToolOutcome for a CallToolResult: text content joined, image/audio/resource/resource_link
/// described in one line each, structuredContent as JSON when there is no text; isError ->
/// is_error; details {connection, tool, mcp: result (blobs over 64 KiB replaced by their size)}.
runtime::ToolOutcome outcome_of(const std::string& connection, const std::string& tool,
                                const nlohmann::json& result);

/// What a turn offers of the connections of one agent.
struct OfferOptions {
  std::string session{};  // the session: tools connection__search found in it stay on offer
  /// Above this many connection tools (from the cached lists) only connection__search and the
  /// tools found in `session` are offered (agent.json `connectionToolThreshold`).
  int threshold = k_default_tool_threshold;
};

/// The tools a turn of `agent` (its pool key) offers: one per tool of each connection's cached
/// list (Pool::cached_tools; a connection that never listed offers none yet) — or, above
/// `threshold` tools in all, only those found by connection__search in the session — plus
/// connection__search, whose description names the connections. Starts nothing and never blocks
/// on a server: a connection starts on the first call of one of its tools (resolve_tool) or a
/// search that needs its list. `approval` carries the connection's approval.
std::vector<runtime::Tool> connection_tools(Pool& pool, const std::string& agent,
                                            const OfferOptions& options = {});

/// The connection tool named `model_name` (connection__<connection>__<tool>) of `agent`, for a
/// call of a tool that was not offered: the connection (matched by its sanitized name prefix) is
/// started when it has no cached list. nullopt when no connection of the agent has that tool.
/// Throws what Pool::tools throws (a server that is down: mcp_connection_failed,
/// mcp_backing_off, ...; a cancelled turn: turn_cancelled).
/// `emit` (the turn's events, for a session a person watches): a connection that must sign in
/// asks through it (authorization_required, as a call does: oauth::Consent); empty: headless.
std::optional<runtime::Tool> resolve_tool(
    Pool& pool, const std::string& agent, const std::string& model_name, std::stop_token cancel = {},
    std::function<void(const std::string& type, const nlohmann::json& data)> emit = {});

/// The approval of the connection whose tool `model_name` may be ("" when the name matches no
/// connection of `agent`); starts nothing.
std::string connection_approval(const Pool& pool, const std::string& agent,
                                const std::string& model_name);

/// A pool holding the connections of `agents` and their subagents, each under its agent's sandbox
/// policy (runtime::agent_policy); null when no agent has a connection. A connection whose file
/// cannot be used is left out and reported to `warn`. Server stderr and log notifications at
/// warn/error level go to `warn` too.
/// Looks up an environment variable; empty: getenv.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

/// OAuth tokens of connections in `store` (issue 13 §4; Store::put_credential), sealed with
/// AES-256-GCM under HEARTH_CREDENTIALS_KEY (through `env`) or `key_file` (the state directory's
/// credentials.key, made 0600 on first use, only when a token is first stored or read). A secret
/// that does not open (another key) reads as none: the connection signs in again. `store` must
/// outlive the pool.
PoolOptions::Credentials store_credentials(store::Store& store, EnvLookup env,
                                           std::filesystem::path key_file);

/// An elicitation's requestedSchema reduced to MCP's flat form subset (2025-06-18
/// "Elicitation", requested schema): an object of at most 32 primitive properties (string,
/// number, integer, boolean) keeping only title, description, enum (≤ 64 primitives), enumNames,
/// minLength/maxLength, minimum/maximum, format (email, uri, date, date-time) and a default of the
/// property's type; every string property gets maxLength ≤ 16384; `pattern`, nested schemas,
/// $refs and other keywords are dropped (a server's regex must not run in hearth: catastrophic
/// backtracking, std::regex recursion). `required` keeps the names of kept properties. Never
/// throws; any input gives {"type":"object","properties":{...}}.
nlohmann::json elicitation_schema(const nlohmann::json& requested);

/// `credentials` keeps OAuth tokens across processes (PoolOptions::credentials).
std::shared_ptr<Pool> make_pool(const std::vector<runtime::AgentDef>& agents,
                                const std::filesystem::path& project_root,
                                bool sandbox_fail_closed,
                                std::function<void(const std::string&)> warn = {},
                                PoolOptions::Credentials credentials = {});

} // namespace hearth::mcp
