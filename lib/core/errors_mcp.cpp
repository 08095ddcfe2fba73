// The error catalogue (declared in core/errors.hpp), MCP part: hearth as an MCP server (/mcp,
// `hearth mcp`) and the MCP client (lib/mcp connections).
#include "core/errors.hpp"

#include "core/text.hpp"

namespace hearth::errors {

using std::string;

// --- MCP server (issue 13 §6) --------------------------------------------------------------------

Error mcp_session_required() {
  return Error({.type = "mcp_session_required",
                .message = "Bad Request: Mcp-Session-Id header is required.",
                .details = "Send the Mcp-Session-Id the initialize response carried, or start a "
                           "session with an initialize request.",
                .http_status = 400});
}

Error mcp_session_not_found() {
  return Error({.type = "mcp_session_not_found",
                .message = "Session not found.",
                .details = "The MCP session ended or expired; start a new one with initialize.",
                .http_status = 404});
}

Error mcp_protocol_version_unsupported(std::string_view version, std::string_view supported) {
  return Error({.type = "mcp_protocol_version_unsupported",
                .message = "Bad Request: Unsupported protocol version \"" +
                           string(version.substr(0, 64)) + "\".",
                .details = "Supported versions: " + string(supported) + ".",
                .http_status = 400});
}

Error mcp_sessions_full(std::size_t limit) {
  return Error({.type = "server_busy",
                .message = "Too many MCP sessions (" + std::to_string(limit) + ") are open.",
                .details = "End unused sessions with DELETE /mcp, or retry after idle ones expire.",
                .http_status = 503});
}

Error mcp_not_acceptable(std::string_view accept) {
  return Error({.type = "mcp_not_acceptable",
                .message = "Not Acceptable: the client must accept application/json and "
                           "text/event-stream.",
                .details = "Received Accept: \"" + string(accept.substr(0, 200)) + "\".",
                .http_status = 406});
}

Error mcp_invalid_message(std::string_view problem) {
  return Error({.type = "mcp_invalid_message",
                .message = "Invalid JSON-RPC message: " + string(problem),
                .details = "POST one JSON-RPC 2.0 request, notification or response per request "
                           "(MCP Streamable HTTP).",
                .http_status = 400});
}

Error mcp_calls_busy(std::size_t limit) {
  return Error({.type = "server_busy",
                .message = "This MCP session already runs " + std::to_string(limit) +
                           " tool calls.",
                .details = "Wait for one to finish, or cancel one with notifications/cancelled.",
                .http_status = 503});
}

Error mcp_tool_arguments(std::string_view tool, std::string_view problem) {
  return Error({.type = "invalid_request",
                .message = "Invalid arguments for tool \"" + string(tool.substr(0, 128)) + "\": " +
                           string(problem),
                .details = "See the tool's inputSchema in tools/list.",
                .http_status = 400});
}

Error mcp_stdio_line_too_long(std::size_t limit) {
  return Error({.type = "mcp_message_too_large",
                .message = "A message on stdin is longer than " + std::to_string(limit) +
                           " bytes.",
                .details = "hearth mcp reads one JSON-RPC message per line; it stopped because "
                           "the stream cannot be resynchronized.",
                .http_status = 413});
}

// --- MCP client (lib/mcp, issue 13 §1-§4) ---------------------------------------------------------

Error mcp_connection_failed(std::string_view connection, std::string_view problem) {
  return Error({.type = "mcp_connection_failed",
                .message = "Connection \"" + string(connection) + "\" could not start: " +
                           string(problem),
                .details = "Check the connection file (command, args, url) and run "
                           "`hearth connections list` to see the server's own error.",
                .http_status = 502});
}

Error mcp_protocol_error(std::string_view connection, std::string_view problem) {
  return Error({.type = "mcp_protocol_error",
                .message = "Connection \"" + string(connection) +
                           "\" broke the MCP protocol: " + string(problem),
                .details = "The connection was closed; it restarts on next use.",
                .http_status = 502});
}

Error mcp_timeout(std::string_view connection, std::string_view method, long long timeout_ms) {
  return Error({.type = "mcp_timeout",
                .message = "Connection \"" + string(connection) + "\" did not answer `" +
                           string(method) + "` within " + std::to_string(timeout_ms) + " ms.",
                .details = "Raise the connection's timeoutMs, or check the server.",
                .http_status = 504});
}

Error mcp_remote_error(std::string_view connection, std::string_view method, int code,
                       std::string_view message) {
  return Error({.type = "mcp_remote_error",
                .message = "Connection \"" + string(connection) + "\" failed `" + string(method) +
                           "`: " + string(message),
                .details = "JSON-RPC error " + std::to_string(code) + " from the server.",
                .http_status = 502});
}

Error mcp_closed(std::string_view connection, std::string_view method, std::string_view reason) {
  return Error({.type = "mcp_closed",
                .message = "Connection \"" + string(connection) + "\" ended during `" +
                           string(method) + "`: " + string(reason),
                .details = "It is restarted on next use.",
                .http_status = 502});
}

Error mcp_backing_off(std::string_view connection, long long retry_in_ms, std::string_view last) {
  return Error({.type = "mcp_backing_off",
                .message = "Connection \"" + string(connection) + "\" failed recently (" +
                           string(last) + "); it is retried in " + std::to_string(retry_in_ms) +
                           " ms.",
                .details = "Fix the server or wait for the retry.",
                .http_status = 503});
}

Error mcp_connection_not_found(std::string_view agent, std::string_view name,
                               const std::vector<std::string>& available) {
  return Error({.type = "mcp_connection_not_found",
                .message = "Agent \"" + string(agent) + "\" has no connection \"" + string(name) +
                           "\".",
                .details = "Its connections: " +
                           (available.empty() ? string("(none)") : text::quote_list(available)) +
                           ". Connections are agent/connections/<name>.json files.",
                .http_status = 404});
}

Error mcp_tool_not_found(std::string_view connection, std::string_view tool) {
  return Error({.type = "mcp_tool_not_found",
                .message = "Connection \"" + string(connection) + "\" has no tool \"" +
                           string(tool) + "\".",
                .details = "Run `hearth connections list` to see its tools (tools.allow and "
                           "tools.block apply).",
                .http_status = 404});
}

Error mcp_config_invalid(std::string_view connection, std::string_view problem) {
  return Error({.type = "mcp_config_invalid",
                .message = "Connection \"" + string(connection) + "\": " + string(problem),
                .details = "See docs/mcp.md for the connection file fields."});
}

Error mcp_http_error(std::string_view connection, int status, std::string_view problem) {
  return Error({.type = "mcp_http_error",
                .message = "Connection \"" + string(connection) + "\" answered " +
                           (status > 0 ? "HTTP " + std::to_string(status) : string("nothing")) +
                           ": " + string(problem),
                .details = "Check the connection's url, headers and auth.",
                .http_status = 502});
}

} // namespace hearth::errors
