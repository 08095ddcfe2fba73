// hearth as an MCP server (issue 13 §6; docs/mcp.md "hearth as an MCP server"): the
// transport-independent core that `hearth mcp` (stdio, server_stdio.hpp) and `/mcp` (Streamable
// HTTP, lib/server/routes_mcp.cpp) share. It speaks MCP's JSON-RPC 2.0 methods (spec 2025-11-25,
// "Base protocol", "Lifecycle", "Server features / Tools", "Utilities") over one Runtime:
// every `http: true` workflow and every `http: true` agent is a tool. Framing comes from
// lib/ipc/rpc.hpp; no transport code lives here.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::runtime {
class Runtime;
}

namespace hearth::mcp {

/// Protocol versions hearth speaks, newest first. initialize echoes the client's version when it
/// is one of them and otherwise answers the newest (spec "Lifecycle / Version negotiation"), so a
/// 2025-03-26 client is offered 2025-11-25 and decides whether to go on.
inline constexpr std::string_view k_protocol_versions[] = {"2025-11-25", "2025-06-18"};

/// True when `version` is one of k_protocol_versions.
bool supported_version(std::string_view version);

/// "2025-11-25, 2025-06-18" (for error details).
std::string supported_versions_text();

/// True for an `MCP-Protocol-Version` header hearth accepts (Streamable HTTP): a supported
/// version, or 2025-03-26, the version the spec assumes when the header is absent (clients that
/// negotiated a newer version may still name it; the TypeScript SDK's servers accept it too).
bool accepted_header_version(std::string_view version);

/// tools/list page size (cursor pagination: the cursor is opaque to clients).
inline constexpr std::size_t k_tools_page = 50;
/// Tool calls one session runs at once; more are refused with a tool error (isError).
inline constexpr std::size_t k_max_calls_per_session = 16;
/// The text block of a tool result carries at most this many bytes of JSON; a result larger than
/// that has no structuredContent either (its run keeps the whole result in the store).
inline constexpr std::size_t k_max_result_bytes = 1u << 20;
/// An agent tool's `message` (bytes) and `sessionId` (bytes, [A-Za-z0-9_.:-]).
inline constexpr std::size_t k_max_message_bytes = 1u << 20;
inline constexpr std::size_t k_max_session_id_bytes = 128;
/// A string progressToken (echoed in every progress notification) is at most this long.
inline constexpr std::size_t k_max_token_bytes = 1024;
/// One notifications/message `data` (an event) is cut to this many bytes of JSON.
inline constexpr std::size_t k_max_log_bytes = 8u << 10;

/// Who calls: the invoker the transport authenticated (HTTP: the route auth decision; stdio: the
/// local user) and whether it may select invoker profiles (seed 002).
struct Caller {
  nlohmann::json invoker = nullptr; // {id, kind?, label?, meta?} or null
  bool select_profiles = false;
};

/// One tool as listed: `name` (MCP's charset [A-Za-z0-9_.-], ≤ 128) and what it runs.
struct Tool {
  enum class Kind { workflow, agent };
  Kind kind = Kind::workflow;
  std::string name{};          // the MCP tool name
  std::string target{};        // the workflow or agent name
  nlohmann::json definition{}; // the tools/list entry
};

/// The tools of the runtime's program: every `http: true` workflow (named after it), then every
/// `http: true` agent (named `agent_<name>`), names sanitized to MCP's charset and made unique.
std::vector<Tool> list_tools(const runtime::Runtime& runtime);

/// `name` mapped to MCP's tool name charset: other bytes become '_', cut to 128 bytes.
std::string sanitize_tool_name(std::string_view name);

/// Where a session's server→client messages go while a request runs: progress and log
/// notifications (JSON-RPC notification objects). Called on the thread running the request.
using Emit = std::function<void(const nlohmann::json& message)>;

/// One MCP session: the negotiated version, the logging level, the calls in flight. Thread-safe:
/// requests of one session may run concurrently (a ping or a cancellation while a call runs).
class Session {
public:
  Session(runtime::Runtime& runtime, Caller caller);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Handles one incoming message (already parsed; any JSON value). Returns the JSON-RPC reply
  /// for a request, nullopt for a notification or a response. Never throws: a malformed message
  /// gets -32600, an unknown method -32601, bad params -32602; a tool that fails is a result with
  /// isError. `caller` overrides the session's caller for this request (HTTP: every POST is
  /// authenticated on its own); `emit` receives the request's notifications (may be empty).
  /// tools/call blocks until the tool finishes or is cancelled.
  std::optional<nlohmann::json> handle(const nlohmann::json& message,
                                       const std::optional<Caller>& caller, const Emit& emit);

  /// True when `message` is a tools/call request that will emit notifications (a progressToken
  /// was sent, or logging was enabled with logging/setLevel): HTTP answers it with SSE.
  bool call_may_notify(const nlohmann::json& message) const;

  /// Cancels every call in flight (the server shutting down). Never blocks.
  void cancel_all() noexcept;

  /// Ends the session (stdin EOF, DELETE /mcp): cancels every call in flight, and a call that
  /// arrives from now on (one still being dispatched) ends at once as cancelled. Never blocks.
  void close() noexcept;

  /// True once initialize succeeded.
  bool initialized() const { return m_initialized.load(); }
  /// The negotiated protocol version ("" before initialize).
  std::string protocol_version() const;
  /// Calls running now.
  std::size_t calls_in_flight() const;

private:
  struct Call;
  nlohmann::json initialize(const nlohmann::json& params);
  nlohmann::json tools_list(const nlohmann::json& params) const;
  nlohmann::json tools_call(const nlohmann::json& id, const nlohmann::json& params,
                            const Caller& caller, const Emit& emit);
  nlohmann::json set_level(const nlohmann::json& params);
  void cancelled(const nlohmann::json& params);
  nlohmann::json run_workflow(const Tool& tool, const nlohmann::json& arguments,
                              const Caller& caller, const std::shared_ptr<Call>& call,
                              const std::function<void(const nlohmann::json&)>& on_event);
  nlohmann::json run_agent(const Tool& tool, const nlohmann::json& arguments, const Caller& caller,
                           const std::shared_ptr<Call>& call,
                           const std::function<void(const nlohmann::json&)>& on_event);
  void cancel_call(Call& call);
  static bool was_cancelled(Call& call);

  runtime::Runtime& m_runtime;
  Caller m_caller;
  std::vector<Tool> m_tools;
  std::atomic<bool> m_initialized{false};
  std::atomic<int> m_log_level{-1}; // index into the syslog levels; -1: logging off
  std::atomic<bool> m_closed{false};
  mutable std::mutex m_mutex;
  std::string m_version{};
  std::map<std::string, std::shared_ptr<Call>> m_calls{}; // by the request id's JSON text
  static constexpr std::size_t k_max_early_cancels = 64;
  std::set<std::string> m_early_cancels{}; // cancelled ids no call had (yet), oldest first:
  std::deque<std::string> m_early_order{};
};

/// The syslog level names of MCP logging (RFC 5424 order, debug first); -1 for an unknown name.
int log_level_index(std::string_view level);

} // namespace hearth::mcp
