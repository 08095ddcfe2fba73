// The error catalogue (declared in core/errors.hpp), HTTP server part (lib/server): requests and
// routes, limits and framing, Eve's answers, route auth and access, workspace grants. Wording
// follows Flue's and Eve's.
#include "core/errors.hpp"

#include "core/text.hpp"

namespace hearth::errors {

using std::string;

// --- server -----------------------------------------------------------------------------------

Error invalid_request(std::string_view problem) {
  return Error({.type = "invalid_request", .message = "Request is malformed.",
                .details = string(problem), .http_status = 400});
}

Error invalid_json(std::string_view parser_message) {
  return Error({.type = "invalid_json",
                .message = "Request body is not valid JSON.",
                .details = "The JSON parser reported: " + string(parser_message) +
                           "\nVerify the body is well-formed JSON, or omit the body entirely if "
                           "the request doesn't have a payload.",
                .http_status = 400});
}

Error unsupported_media_type(std::string_view content_type) {
  return Error({.type = "unsupported_media_type",
                .message = "Request body must be sent as application/json.",
                .details = "Received Content-Type: \"" + string(content_type) +
                           "\".\nSend the request body as JSON with the header \"Content-Type: "
                           "application/json\", or omit the body entirely (and the Content-Type "
                           "header) if the request doesn't have a payload.",
                .http_status = 415});
}

Error method_not_allowed(std::string_view method, const std::vector<std::string>& allowed) {
  return Error({.type = "method_not_allowed",
                .message = "HTTP method " + string(method) + " is not allowed on this endpoint.",
                .details = "This endpoint accepts " + text::quote_list(allowed) + " only.",
                .http_status = 405});
}

Error event_stream_not_found(std::string_view path) {
  return Error({.type = "stream_not_found",
                .message = "Event stream \"" + string(path) + "\" was not found.",
                .details = "Streams are created when their agent instance receives its first "
                           "prompt or their workflow run starts.",
                .http_status = 404});
}

Error route_not_found(std::string_view method, std::string_view path) {
  return Error({.type = "route_not_found",
                .message = "No route matches " + string(method) + " " + string(path) + ".",
                .details = "See /openapi.json for the invocation routes this server exposes.",
                .http_status = 404});
}

Error payload_too_large(std::size_t limit_bytes) {
  return Error({.type = "payload_too_large",
                .message = "Request body is too large.",
                .details = "The limit is " + std::to_string(limit_bytes) + " bytes.",
                .http_status = 413});
}

Error server_busy(std::size_t queued) {
  return Error({.type = "server_busy",
                .message = "The server is busy.",
                .details = "Too many admitted runs are waiting (" + std::to_string(queued) +
                           "); retry shortly.",
                .http_status = 503});
}

// --- HTTP hardening ---------------------------------------------------------------------------

Error uri_too_long(std::size_t limit_bytes) {
  return Error({.type = "uri_too_long",
                .message = "Request URL is too long.",
                .details = "The limit is " + std::to_string(limit_bytes) + " bytes.",
                .http_status = 414});
}

Error headers_too_large(std::size_t limit_bytes) {
  return Error({.type = "headers_too_large",
                .message = "Request headers are too large.",
                .details = "The limit is " + std::to_string(limit_bytes) + " bytes.",
                .http_status = 431});
}

Error bad_framing(std::string_view problem) {
  return Error({.type = "invalid_request", .message = "Request is malformed.",
                .details = string(problem), .http_status = 400});
}

Error unsupported_content_encoding(std::string_view encoding) {
  return Error({.type = "unsupported_media_type",
                .message = "Unsupported Content-Encoding \"" + string(encoding.substr(0, 64)) +
                           "\".",
                .details = "Send the request body uncompressed (identity).",
                .http_status = 415});
}

Error streams_busy(std::string_view what, std::size_t limit) {
  return Error({.type = "server_busy",
                .message = "The server is busy.",
                .details = "Too many " + string(what) + " (the limit is " +
                           std::to_string(limit) + "); retry shortly.",
                .http_status = 503});
}

Error server_bind_failed(std::string_view host, int port, std::string_view reason) {
  return Error({.type = "server_bind_failed",
                .message = "Could not listen on " + string(host) + ":" + std::to_string(port) +
                           ": " + string(reason) + ".",
                .details = "Pick another port with --port, or stop the process using this one."});
}

Error start_no_build(std::string_view dir) {
  return Error({.type = "build_not_found",
                .message = "No hearth build found in " + string(dir) + ".",
                .details = "Run `hearth build` first, then `hearth start <output dir>` (default "
                           "dist/)."});
}

Error eve_invalid_request(std::string_view problem) {
  return Error({.type = "invalid_request", .message = string(problem), .http_status = 400});
}

Error eve_stale_token() {
  return Error({.type = "invalid_request",
                .message = "The continuationToken is not current for this session.",
                .details = "Use the continuationToken from the latest session.waiting event, or "
                           "omit it.",
                .http_status = 400});
}

Error eve_session_not_found() {
  return Error({.type = "session_not_found", .message = "Session not found.",
                .http_status = 404});
}

Error eve_session_not_active() {
  return Error({.type = "session_not_active", .message = "The session is no longer active.",
                .http_status = 409});
}

Error eve_session_busy() {
  return Error({.type = "session_not_ready",
                .message = "The session is not ready to accept messages yet.",
                .http_status = 409});
}

// --- route auth, invokers and access (lib/server/auth, seeds 002 and 003) ----------------------

Error unauthorized() {
  return Error({.type = "unauthorized",
                .message = "Authorization is required for this route.",
                .details = "Send credentials the server accepts (see docs/auth.md), e.g. "
                           "\"Authorization: Bearer <token>\".",
                .http_status = 401});
}

Error invalid_credentials(std::string_view reason) {
  return Error({.type = "unauthorized",
                .message = "Authorization is required for this route.",
                .details = "The credentials sent were not accepted.",
                .dev = string(reason),
                .http_status = 401});
}

Error access_denied(std::string_view target, std::string_view rule) {
  return Error({.type = "forbidden",
                .message = "The caller may not invoke " + string(target) + " (" + string(rule) + ").",
                .details = "Denied by access rule " + string(rule) + ".",
                .http_status = 403});
}

Error origin_not_allowed(std::string_view origin) {
  return Error({.type = "forbidden",
                .message = "Cross-origin requests from \"" + string(origin) + "\" are not allowed.",
                .details = "Add the origin to hearth.json \"server\": {\"cors\": {\"origins\": "
                           "[...]}}.",
                .http_status = 403});
}

Error host_not_allowed(std::string_view host) {
  return Error({.type = "forbidden",
                .message = "Host \"" + string(host) + "\" is not allowed.",
                .details = "Use a loopback address, or add the name to hearth.json \"server\": "
                           "{\"hosts\": [...]}.",
                .http_status = 403});
}

Error simple_body_refused(std::string_view content_type) {
  return Error({.type = "unsupported_media_type",
                .message = "Request body must be sent as application/json.",
                .details = "Received Content-Type: \"" + string(content_type) +
                           "\". Bodies a web page can send without a CORS preflight are refused.",
                .http_status = 415});
}

Error auth_config_invalid(std::string_view where, std::string_view problem) {
  return Error({.type = "auth_config_invalid",
                .message = string(where) + ": " + string(problem),
                .details = "See docs/auth.md for the auth entries hearth understands."});
}

// workspace grants

Error path_not_granted(std::string_view path, std::string_view grants) {
  return Error({.type = "path_not_granted",
                .message = "Path \"" + string(path) +
                           "\" is outside this invocation's workspace grant (" +
                           (grants.empty() ? std::string("nothing granted") : string(grants)) + ").",
                .details = "The agent's `access.workspace` grants this invoker only those paths; "
                           "see docs/auth.md \"Workspace grants\".",
                .http_status = 403});
}

Error grant_unenforceable(std::string_view backend, std::string_view grants) {
  return Error({.type = "grant_unenforceable",
                .message = "The workspace grant (" +
                           (grants.empty() ? std::string("nothing granted") : string(grants)) +
                           ") cannot be enforced for commands under sandbox backend \"" +
                           string(backend) + "\"; the command was not run.",
                .details = "Install bwrap (Debian package `bubblewrap`) and use the bubblewrap "
                           "backend, or grant this invoker `all` (docs/sandbox.md).",
                .http_status = 403});
}

} // namespace hearth::errors
