// An agent's connections at run time (issue 13 §1-§3): the pool of MCP sessions one runtime process
// keeps, keyed by agent and connection name. A connection starts on first use (or at runtime start
// with `eager: true`), is shared by every session of the process, and after it dies is restarted on
// next use; consecutive failed starts back off (250 ms doubling to 30 s). The pool's destructor
// stops every server (no orphans). docs/mcp.md "Connections (client)".
#pragma once

#include "mcp/client.hpp"
#include "sandbox/sandbox.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <deque>
#include <optional>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <stop_token>
#include <thread>
#include <vector>

namespace hearth::mcp {

/// Default timeout of one connection tool call (the file's `timeoutMs` overrides it).
inline constexpr int k_default_call_timeout_ms = 60'000;

/// A connection file as the runtime uses it (agent/connections/<name>.json through the compiled
/// manifest; docs/mcp.md lists the fields).
struct ConnectionConfig {
  std::string agent{};                  // the agent's name, for messages
  /// The agent's identity in the pool: its directory (two subagents named alike under different
  /// agents are different agents); "" = `agent`. See agent_key().
  std::string agent_id{};
  std::string name{};
  /// "connection" (agent/connections/: connection__<name>__<tool>) or "mcp" (project-level
  /// connections/, Flue's connectMcpServer: mcp__<name>__<tool>).
  std::string tool_prefix = "connection";
  std::string description{};
  std::string transport{};              // "stdio" | "http" | "openapi"
  std::vector<std::string> argv{};      // stdio: command + args
  std::map<std::string, std::string> env{}; // stdio: extra environment
  std::filesystem::path cwd{};          // stdio: absolute; default the project root
  std::string url{};                    // http
  std::map<std::string, std::string> headers{}; // http
  std::string token_env{};              // http, openapi: auth.tokenEnv, resolved per request
  std::string spec{};                   // openapi: absolute file path or http(s) URL
  std::string base_url{};               // openapi: `baseUrl` ("" = the spec's servers[0].url)
  std::vector<std::string> allow{};     // tools.allow (openapi: operations.allow); empty: all
  std::vector<std::string> block{};     // tools.block (openapi: operations.block)
  std::string approval = "never";       // never | once | always, for every tool
  int timeout_ms = k_default_call_timeout_ms;
  bool eager = false;
  bool elicitation_defaults = false;    // `elicitation`: "decline" (default) | "defaults" | "ask"
  /// `elicitation: "ask"`: the server's elicitation/create during a session's tool call becomes
  /// an input request to the user (input.requested); headless calls decline.
  bool elicitation_ask = false;
  /// `sampling`: true (the agent's model) or {"model": "provider/model"} answers the server's
  /// sampling/createMessage; false (default) refuses it.
  bool sampling = false;
  std::string sampling_model{};         // "" = the agent's model
  bool oauth = false;                   // http: auth.oauth (true or {clientId, clientSecret, redirectUri})
  std::string oauth_client_id{};
  std::string oauth_client_secret{};
  std::string oauth_redirect_uri{};
  std::string oauth_grant = "authorization_code"; // auth.oauth.grant: or "client_credentials"
  /// auth.oauth.clientMetadataUrl: an https URL used as client id where the authorization server
  /// supports client ID metadata documents (instead of dynamic registration).
  std::string oauth_client_metadata_url{};
  /// auth.oauth.privateKeyEnv: the variable holding a PEM private key; the client then
  /// authenticates with a signed JWT (private_key_jwt, RFC 7523) of auth.oauth.signingAlgorithm.
  std::string oauth_private_key_env{};
  std::string oauth_signing_alg = "ES256";
  /// grant "cross_app" (SEP-990): auth.oauth.idp {tokenEndpoint, clientId, idTokenEnv}.
  std::string oauth_idp_token_endpoint{};
  std::string oauth_idp_client_id{};
  std::string oauth_idp_id_token_env{};
};

/// Default of agent.json `connectionToolThreshold`: with more connection tools than this (known
/// from the cached lists) the model gets only connection__search and the tools it found.
inline constexpr int k_default_tool_threshold = 32;

/// The pool's key of an agent: its directory when known, else its name.
std::string agent_key(const std::string& name, const std::filesystem::path& directory);

/// Parses one manifest `connections[]` entry of `agent` (relative `cwd` against `project_root`).
/// Throws errors::mcp_config_invalid for a field of the wrong type.
ConnectionConfig parse_connection(const std::string& agent, const nlohmann::json& entry,
                                  const std::filesystem::path& project_root);

struct PoolOptions {
  std::filesystem::path project_root{};
  Limits limits{};
  /// Looks up environment variables (auth.tokenEnv); empty: getenv.
  std::function<std::optional<std::string>(const std::string&)> env{};
  /// Server stderr and log notifications: (agent, connection, level, text); may be empty.
  std::function<void(const std::string&, const std::string&, std::string_view, std::string_view)> log{};
  /// OAuth tokens across processes (issue 13 §4): load / save / forget the text of `key`; the
  /// runtime seals it into the store (Store::put_credential). Empty: tokens live in memory.
  struct Credentials {
    std::function<std::optional<std::string>(const std::string& key)> load{};
    std::function<void(const std::string& key, const std::string& text)> save{};
    std::function<void(const std::string& key)> forget{};
  } credentials{};
};

/// Answers a sampling/createMessage of `config`'s server: the CreateMessageResult for `params`,
/// or throws hearth::Error. Given by the runtime (it knows the agents' models).
using Sampler = std::function<nlohmann::json(const ConnectionConfig& config,
                                             const nlohmann::json& params, std::stop_token stop)>;

/// The pool. Thread-safe.
class Pool {
public:
  explicit Pool(PoolOptions options);
  /// shutdown().
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// In every method below `agent` is the agent's pool key (agent_key(), ConnectionConfig::agent_id).
  /// Registers `config` (agent + name unique; a second add of the same key replaces the config
  /// for the next start) to run under `policy` (the agent's sandbox; stdio only).
  void add(ConnectionConfig config, sandbox::Policy policy);

  /// The connections registered for `agent`, in file-name order.
  std::vector<const ConnectionConfig*> of_agent(const std::string& agent) const;

  /// The config of `agent`'s connection `name`, or throws mcp_connection_not_found.
  const ConnectionConfig& config(const std::string& agent, const std::string& name) const;

  /// The pool key of the agent named (or keyed) `agent`: the first registered connection's
  /// agent_id whose agent name or key is `agent`; `agent` itself when none (the CLI's --agent).
  std::string agent_id(const std::string& agent) const;

  /// The running session, started (initialize + tools/list) when there is none or it died. A
  /// start waits timeoutMs (clamped to 5 … 30 s) for initialize and gives up when `cancel` stops
  /// (then no failure is counted). Throws mcp_backing_off while a failed start backs off,
  /// mcp_connection_failed, mcp_timeout, mcp_protocol_error, mcp_connection_not_found.
  std::shared_ptr<Client> client(const std::string& agent, const std::string& name,
                                 std::stop_token cancel = {});

  /// The connection's tools after tools.allow / tools.block (starting it as client() does).
  std::vector<ToolInfo> tools(const std::string& agent, const std::string& name,
                              std::stop_token cancel = {});

  /// The tools of the last successful tools/list (or OpenAPI load) of the connection in this
  /// process, after allow/block; nullopt when it never listed. Never starts anything, never
  /// blocks on a server (what turns are built from).
  std::optional<std::vector<ToolInfo>> cached_tools(const std::string& agent,
                                                    const std::string& name) const;

  /// Remembers model-facing tool names connection__search found in session `session` (at most
  /// 256 per session, 4096 sessions: the oldest session is forgotten first).
  void note_found(const std::string& session, const std::vector<std::string>& names);
  /// The names noted for `session`.
  std::vector<std::string> found(const std::string& session) const;

  /// Calls `tool` on the connection with its timeoutMs; returns the CallToolResult. A session
  /// that dies during the call is a thrown mcp_closed; the next call restarts it. Throws
  /// mcp_tool_not_found for a tool blocked or not listed, and as client() / Client::call_tool.
  /// The connection starts here when it is not running (first use). `elicit` answers the
  /// server's elicitation/create during the call when the connection's `elicitation` is "ask"
  /// (ignored otherwise).
  nlohmann::json call(const std::string& agent, const std::string& name, const std::string& tool,
                      const nlohmann::json& arguments, std::stop_token cancel = {},
                      ProgressHandler progress = {}, Elicitor elicit = {});

  /// State of every connection (of `agent` when not empty): [{agent, name, transport,
  /// description, state: "idle"|"starting"|"ready"|"failed"|"stopped", eager, tools (count),
  /// restarts, lastError?, retryInMs?, protocolVersion?, server?, pid?, sessionId?}].
  nlohmann::json state(const std::string& agent = "") const;

  /// Sets what answers sampling/createMessage for connections with `sampling` (sessions started
  /// from now on); without one such requests are refused.
  void set_sampler(Sampler sampler);

  /// The base URL of hearth's HTTP server when this process serves one ("" otherwise): OAuth
  /// consent comes back to <base>/eve/v1/connections/<name>/callback/<token> (oauth::Consent).
  void set_callback_base(std::string base);
  std::string callback_base() const;

  /// Starts the `eager` connections on a background thread (joined by shutdown()).
  void start_eager();

  /// Stops every server and the eager thread. Idempotent; never throws.
  void shutdown() noexcept;

private:
  struct Entry;
  Entry& entry(const std::string& agent, const std::string& name) const;
  void load_openapi(Entry& entry);
  static std::string key(const ConnectionConfig& config);
  std::string token_of(const ConnectionConfig& config) const;
  std::unique_ptr<Client> connect(const Entry& entry, std::stop_token cancel);

  class Spawner;

  PoolOptions m_options;
  std::shared_ptr<Spawner> m_spawner;
  mutable std::mutex m_mutex;
  std::map<std::string, std::shared_ptr<Entry>> m_entries{}; // "agent_id\nname"
  std::map<std::string, std::vector<std::string>> m_found{}; // session -> names (note_found)
  std::deque<std::string> m_found_order{};                   // sessions, oldest first
  std::thread m_eager{};
  Sampler m_sampler{};
  std::string m_callback_base{};
  bool m_shutdown = false;
  std::stop_source m_stop{}; // shutdown(): starts in progress (initialize) give up at once
};

} // namespace hearth::mcp
