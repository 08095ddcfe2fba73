// OAuth 2.1 for HTTP connections (issue 13 §4; MCP 2025-11-25 "Authorization"), headless subset:
// after a 401, the protected resource metadata (RFC 9728: the challenge's resource_metadata, else
// the well-known URLs) names the authorization server; its metadata (RFC 8414 / OpenID discovery)
// gives the endpoints; the client registers dynamically (RFC 7591) unless a client id is
// configured, runs authorization code + PKCE (S256) with the `resource` parameter, and exchanges
// the code for an access token. The authorization endpoint must redirect at once (a server that
// shows a consent page to a human fails with a message naming the URL to open). Tokens live in
// memory for the connection's life. docs/mcp.md "Connections (client)".
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace hearth::mcp::oauth {

struct Settings {
  std::string connection{};    // for messages
  std::string mcp_url{};       // the protected resource
  std::string client_id{};     // configured (pre-registration); "" registers dynamically
  std::string client_secret{}; // with client_id, when the server issued one
  std::string redirect_uri = "http://127.0.0.1:33418/callback";
  /// "authorization_code" (default) or "client_credentials" (machine-to-machine, SEP-1046: the
  /// configured client id and secret get a token from the token endpoint, no authorization step).
  std::string grant = "authorization_code";
  std::function<void(std::string_view level, std::string_view text)> log{};
};

/// Runs the flow for a 401 whose WWW-Authenticate header is `challenge`; returns the access token.
/// Throws errors::mcp_http_error / mcp_config_invalid saying which step failed (never the token).
std::string authorize(const Settings& settings, const std::string& challenge);

/// The `name="value"` (or name=value) parameter of a WWW-Authenticate challenge, or "".
std::string challenge_param(const std::string& challenge, std::string_view name);

} // namespace hearth::mcp::oauth
