// The MCP client (issue 13 §1; modelcontextprotocol.io/specification/2025-11-25): one JSON-RPC 2.0
// session with one server over a Transport (stdio: newline-delimited JSON on the process's pipes;
// Streamable HTTP: POST + JSON or SSE answers). Framing helpers come from lib/ipc/rpc.hpp; every
// incoming message is bounded (Limits) and a message of the wrong shape closes the session (fail
// closed). docs/mcp.md "Connections (client)".
#pragma once

#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <deque>
#include <thread>
#include <vector>

namespace hearth::mcp {

/// The protocol version offered in `initialize` (the newest this client speaks).
inline constexpr std::string_view k_protocol_latest = "2025-11-25";
/// The versions accepted in the server's answer; anything else fails the connection. 2025-03-26
/// (the first with Streamable HTTP) is accepted for older servers; hearth sends nothing it lacks.
inline constexpr std::string_view k_protocol_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};

/// Bounds on what a server may send; past any of them the connection fails closed.
struct Limits {
  std::size_t max_message_bytes = 8u << 20; // one JSON-RPC message (a stdio line, an SSE event)
  std::size_t max_tools = 512;              // tools one server may list (all pages)
  std::size_t max_pages = 32;               // tools/list pages followed
  std::size_t max_schema_bytes = 64u << 10; // one tool's inputSchema, serialized
  std::size_t max_description_bytes = 8u << 10; // one tool's description (cut, not failed)
  std::size_t max_pending = 256;            // requests in flight
};

/// One tool as the server lists it (tools/list).
struct ToolInfo {
  std::string name{};
  std::string title{};
  std::string description{};
  nlohmann::json input_schema = nlohmann::json::object();
  nlohmann::json output_schema{}; // null when none
  nlohmann::json annotations{};   // null when none
};

/// Moves messages between the client and one server. Implementations: StdioTransport,
/// HttpTransport (transports.hpp). Incoming messages go to the sink (on a transport thread, or on
/// the sender's thread for HTTP answers); close reasons go to `closed` once; transport-detected
/// protocol errors (not JSON, oversized, a sink that threw) go to `failed`, out of band, so no
/// message a server sends can pose as one.
class Transport {
public:
  /// One incoming message and `related`: the id of the client's request whose HTTP answer
  /// stream carried it (null: unknown — stdio, legacy SSE, the standalone GET stream). Server
  /// requests are routed by it (an elicitation goes to exactly that call's user).
  using Sink = std::function<void(nlohmann::json message, const nlohmann::json& related)>;
  using Closed = std::function<void(const std::string& reason)>;
  virtual ~Transport() = default;
  /// Starts the transport (spawns the process, ...). Throws mcp_connection_failed.
  virtual void start(Sink sink, Closed closed, Closed failed) = 0;
  /// Sends one message. A request's answer may arrive through the sink before this returns
  /// (HTTP). Stops waiting when `cancel` is stopped. Throws mcp_closed / mcp_http_error.
  virtual void send(const nlohmann::json& message, std::stop_token cancel,
                    std::chrono::milliseconds timeout) = 0;
  /// The negotiated protocol version (HTTP sends it as MCP-Protocol-Version).
  virtual void set_protocol_version(const std::string&) {}
  /// Ends the session (stdio: closes stdin, then stops the process group; HTTP: DELETE).
  /// Idempotent; never throws.
  virtual void close() noexcept = 0;
  /// What `hearth connections list` / info show: {transport, pid?, url?, sessionId?}.
  virtual nlohmann::json describe() const = 0;
};

struct ClientOptions {
  std::string name{};                       // the connection's name, for messages
  Limits limits{};
  std::chrono::milliseconds init_timeout{30'000};
  std::chrono::milliseconds request_timeout{60'000}; // default for request()
  std::string root_uri{};                   // answered to roots/list ("file:///..."), "" none
  /// elicitation/create when no request in flight has an Elicitor (or none is given): false
  /// declines every request (headless); true accepts one whose requested fields all have
  /// defaults (SEP-1034), with those defaults, and declines the rest.
  bool elicitation_defaults = false;
  /// Declares the elicitation capability (the connection's `elicitation` is "defaults" or "ask").
  bool elicitation = false;
  /// sampling/createMessage (the connection's `sampling`): given the request's params and a stop
  /// token (stopped when the session closes), returns the CreateMessageResult or throws
  /// hearth::Error. Runs on a worker thread (at most k_max_sampling at once; more are refused),
  /// never on the reader. Empty: every request is refused (error -1) and the capability is not
  /// declared.
  std::function<nlohmann::json(const nlohmann::json& params, std::stop_token stop)> sample{};
  /// Server log lines (stderr, notifications/message) and client diagnostics; may be empty.
  std::function<void(std::string_view level, std::string_view text)> log{};
};

/// sampling/createMessage requests answered at once per session; more are refused.
inline constexpr std::size_t k_max_sampling = 4;

/// Called for each notifications/progress of a request: params {progress, total?, message?}.
using ProgressHandler = std::function<void(const nlohmann::json& params)>;

/// Answers an elicitation/create the server sends while a request that carries it is in flight
/// (issue 13 §3): given the request's params ({message, requestedSchema, mode?}) and a stop
/// token (stopped when that request ends: answered, timed out, cancelled), returns the
/// ElicitResult {action: accept|decline|cancel, content?}. Runs on a worker thread (one per
/// elicitation, at most k_max_elicitations at once per session); the request does not return
/// before the worker ended, so it may use the caller's frame. Throwing answers "cancel".
using Elicitor = std::function<nlohmann::json(const nlohmann::json& params, std::stop_token stop)>;

/// elicitation/create requests answered through Elicitors at once per session; more are declined.
inline constexpr int k_max_elicitations = 8;

/// One MCP session. Thread-safe: many calls may be in flight.
class Client {
public:
  Client(std::unique_ptr<Transport> transport, ClientOptions options);
  /// close().
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Starts the transport, sends `initialize` offering k_protocol_latest, checks the answered
  /// version against k_protocol_versions, then notifications/initialized. Throws
  /// mcp_connection_failed (the transport, a version not spoken, an error reply, `cancel`
  /// stopped), mcp_timeout. initialize is never followed by notifications/cancelled.
  void initialize(std::stop_token cancel = {});

  /// tools/list, following nextCursor up to limits.max_pages pages. Tools without a string name
  /// or with an object-less schema are skipped (logged); more than limits.max_tools or a schema
  /// above limits.max_schema_bytes fails with mcp_protocol_error (the connection is closed).
  std::vector<ToolInfo> list_tools();

  /// tools/call {name, arguments} with `timeout`; progress notifications go to `progress`.
  /// Returns the CallToolResult ({content, structuredContent?, isError?}). When `cancel` stops,
  /// sends notifications/cancelled and throws errors::turn_cancelled. Throws mcp_timeout (also
  /// sending notifications/cancelled), mcp_remote_error, mcp_closed, mcp_protocol_error.
  /// elicitation/create requests the server sends meanwhile go to `elicit` (see Elicitor; the
  /// server's request names no call, so with several calls in flight the newest one that has an
  /// Elicitor answers).
  nlohmann::json call_tool(const std::string& name, const nlohmann::json& arguments,
                           std::chrono::milliseconds timeout, std::stop_token cancel = {},
                           ProgressHandler progress = {}, Elicitor elicit = {});

  /// `ping`; throws as request().
  void ping(std::chrono::milliseconds timeout = std::chrono::milliseconds(5'000));

  /// One request; returns its result (an object). Throws as call_tool.
  nlohmann::json request(const std::string& method, nlohmann::json params,
                         std::chrono::milliseconds timeout, std::stop_token cancel = {},
                         ProgressHandler progress = {}, Elicitor elicit = {});

  /// One notification; false once the session cannot send.
  bool notify(const std::string& method, nlohmann::json params);

  /// Ends the session: fails pending requests, closes the transport. Idempotent.
  void close() noexcept;

  /// False once the session ended (closed, the server exited, a protocol error).
  bool alive() const;
  /// Why the session ended, "" while alive.
  std::string close_reason() const;
  std::string protocol_version() const;
  nlohmann::json server_info() const;         // initialize's serverInfo
  nlohmann::json server_capabilities() const; // initialize's capabilities
  std::string instructions() const;           // initialize's instructions, "" when none
  nlohmann::json describe() const;            // the transport's describe()

  /// Handles one incoming message (the transport's sink; exposed for tests). `related`: see
  /// Transport::Sink.
  void handle_message(nlohmann::json message, const nlohmann::json& related = nullptr);

private:
  struct Pending;
  void fail_all(const std::string& reason, bool protocol);
  void answer_server_request(const nlohmann::json& id, const std::string& method,
                             const nlohmann::json& params, const nlohmann::json& related);
  void log(std::string_view level, std::string_view text) const;
  void reply_loop(std::stop_token stop);
  void queue_reply(nlohmann::json reply, std::string_view method);
  void start_sampling(const nlohmann::json& id, const nlohmann::json& params);
  bool start_elicitation(const nlohmann::json& id, const nlohmann::json& params,
                         const nlohmann::json& related);
  nlohmann::json elicit_with_defaults(const nlohmann::json& params) const;

  std::unique_ptr<Transport> m_transport;
  ClientOptions m_options;
  mutable std::mutex m_mutex;
  std::map<std::int64_t, std::shared_ptr<Pending>> m_pending{};
  std::int64_t m_next_id = 0;
  bool m_started = false;
  bool m_closed = false;
  std::string m_close_reason{};
  std::string m_protocol_version{};
  nlohmann::json m_server_info = nlohmann::json::object();
  nlohmann::json m_capabilities = nlohmann::json::object();
  std::string m_instructions{};
  // Replies to server requests: queued by the reader thread, written by m_replier (a write may
  // block on a server that stops reading; the reader must go on reading).
  std::mutex m_reply_mutex;
  std::condition_variable_any m_reply_cv;
  std::deque<nlohmann::json> m_replies{};
  std::jthread m_replier{};
  // sampling/createMessage in progress (workers; joined by the destructor)
  std::mutex m_sampling_mutex;
  std::vector<std::future<void>> m_sampling{};
  std::stop_source m_sampling_stop{};
  std::atomic<int> m_elicitations{0}; // Elicitor workers running
};

/// The tool names of `tools` that pass `allow` (empty: all) and `block` (exact names; a trailing
/// '*' matches a prefix).
bool tool_allowed(const std::string& tool, const std::vector<std::string>& allow,
                  const std::vector<std::string>& block);

} // namespace hearth::mcp
