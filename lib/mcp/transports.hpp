// MCP transports (issue 13 §1): stdio (a sandboxed child process, newline-delimited JSON on its
// stdin/stdout, stderr to the log) and Streamable HTTP (POST with JSON or SSE answers,
// Mcp-Session-Id, MCP-Protocol-Version, DELETE on close, SSE resumption with Last-Event-ID and
// `retry`). docs/mcp.md "Connections (client)".
#pragma once

#include "mcp/client.hpp"
#include "sandbox/sandbox.hpp"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hearth::mcp {

/// What starts a stdio server.
struct StdioSpec {
  std::string connection{};            // the connection's name, for messages
  std::vector<std::string> argv{};     // command + args
  std::vector<std::string> env{};      // "KEY=value" over the sandbox's environment
  std::filesystem::path cwd{};         // host path (bound read-only when sandboxed)
  sandbox::Policy policy{};            // the agent's sandbox (network, limits, env allow-list)
  std::size_t max_line_bytes = 8u << 20;
  /// stderr lines of the server (bounded by the caller's sink); may be empty.
  std::function<void(std::string_view line)> on_stderr{};
  /// Diagnostics for the runtime log (the stderr tail when the server exits, at "warn"); may be
  /// empty. Never shown to the model.
  std::function<void(std::string_view level, std::string_view text)> log{};
  /// Runs the spawn on a thread that outlives the server (bwrap's --die-with-parent kills the
  /// sandbox when the *thread* that started it exits, and turns run on short-lived threads);
  /// empty: the calling thread spawns.
  std::function<std::unique_ptr<process::Process>(
      const std::function<std::unique_ptr<process::Process>()>&)>
      spawn_on{};
};

/// A stdio transport: the server runs through sandbox::start in its own process group, which
/// close() (and the destructor) stops: stdin closed, 300 ms to exit, then SIGTERM/SIGKILL to the
/// whole group. A line longer than max_line_bytes or not JSON is handed on as a protocol error.
std::unique_ptr<Transport> make_stdio_transport(StdioSpec spec);

/// What reaches a Streamable HTTP server.
struct HttpSpec {
  std::string connection{};
  std::string url{};                             // http(s)://host[:port]/path
  std::map<std::string, std::string> headers{};  // sent on every request
  /// Resolves the bearer token for each request ("" none); throws mcp_config_invalid. The token
  /// goes in Authorization and is never logged.
  std::function<std::string()> token{};
  /// OAuth (auth.oauth): given a 401's WWW-Authenticate challenge and the token that request
  /// carried ("" none: refused), signs in and returns an access token that later requests send;
  /// empty: a 401 is an error. The request is then sent once more.
  std::function<std::string(const std::string& challenge, const std::string& refused)> oauth{};
  /// OAuth: the token to send now (held or stored, refreshed ahead of expiry), "" none; may be
  /// empty.
  std::function<std::string()> oauth_current{};
  std::size_t max_message_bytes = 8u << 20;
  std::function<void(std::string_view level, std::string_view text)> log{};
};

/// A Streamable HTTP transport (MCP 2025-06-18 / 2025-11-25 "Transports").
std::unique_ptr<Transport> make_http_transport(HttpSpec spec);

/// The legacy HTTP+SSE transport (MCP 2024-11-05): start() opens `GET url` as an SSE stream and
/// waits (10 s) for its `endpoint` event (a same-origin URI); messages are POSTed there (202) and
/// every answer arrives on the stream. close() ends the stream. Same headers and token as HTTP.
std::unique_ptr<Transport> make_legacy_sse_transport(HttpSpec spec);

/// Whether `url` should start with the legacy transport: its path ends in "/sse" (as Eve's
/// examples do); otherwise Streamable HTTP is tried first and legacy after a 400/404/405 answer
/// to the initialize POST (the spec's backwards-compatibility rule).
bool prefers_legacy_sse(const std::string& url);

} // namespace hearth::mcp
