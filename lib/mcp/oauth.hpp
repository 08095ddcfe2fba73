// OAuth 2.1 for HTTP connections (issue 13 §4; MCP 2025-11-25 "Authorization"), headless subset:
// after a 401, the protected resource metadata (RFC 9728: the challenge's resource_metadata, else
// the well-known URLs) names the authorization server; its metadata (RFC 8414 / OpenID discovery)
// gives the endpoints; the client registers dynamically (RFC 7591) unless a client id is
// configured, runs authorization code + PKCE (S256) with the `resource` parameter, and exchanges
// the code for an access token. The authorization endpoint must redirect at once (a server that
// shows a consent page to a human fails with a message naming the URL to open, unless the call
// has a Consent: an agent session's tool call, where authorization_required carries the URL, the
// browser comes back to hearth's /eve/v1/connections/<name>/callback/<token> and the code is
// exchanged there). Tokens are kept in the store, sealed (AES-256-GCM), refreshed with the refresh
// token before they expire and forgotten when the server refuses them. docs/mcp.md "OAuth".
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

namespace hearth::mcp::oauth {

/// One connection's tokens and what refreshing them needs; stored as JSON, sealed.
struct Tokens {
  std::string access_token{};
  std::string refresh_token{};
  std::int64_t expires_at = 0; // Unix seconds; 0: unknown (never refreshed ahead)
  std::string token_endpoint{};
  std::string client_id{};
  std::string client_secret{};
  std::string auth_method = "none"; // none | client_secret_basic | client_secret_post | private_key_jwt
  std::string resource{};
  std::string issuer{}; // the audience of private_key_jwt assertions
  nlohmann::json to_json() const;
  /// nullopt when `j` lacks an access token.
  static std::optional<Tokens> from_json(const nlohmann::json& j);
};

/// Where a connection's tokens are kept across processes (the store, sealed by the Pool); each
/// function may be empty (tokens then live in memory only). Text is Tokens::to_json, serialized.
struct TokenStore {
  std::function<std::optional<std::string>()> load{};
  std::function<void(const std::string&)> save{};
  std::function<void()> forget{};
};

/// A sign-in (or refresh) in progress for a connection: the other requests of the connection wait
/// for it with their own stop token instead of starting another.
struct Flow {
  std::mutex mutex{};
  std::condition_variable_any cv{};
  bool done = false;
  std::string token{}; // the access token it got, "" when it failed
};

/// What one connection's flows share in a process: the tokens last loaded or granted. `mutex`
/// guards `loaded`, `tokens` and `flow` only and is never held across HTTP or a person's consent.
struct State {
  std::mutex mutex{};
  bool loaded = false;
  std::optional<Tokens> tokens{};
  std::shared_ptr<Flow> flow{}; // the sign-in in progress, null none
};

/// A person who can open a URL: set (ConsentScope) by a session's connection tool call on its
/// own thread while the call runs; the flow started by that call's 401 then asks them.
struct Consent {
  /// authorization_required {name, description, authorization {url, expiresAt, instructions}}.
  std::function<void(const nlohmann::json& data)> required{};
  /// authorization_completed {name, outcome: authorized | declined | failed | timed-out}.
  std::function<void(const nlohmann::json& data)> completed{};
  /// The base URL of hearth's HTTP server ("http://127.0.0.1:3583"): the browser comes back to
  /// <base>/eve/v1/connections/<name>/callback/<token>. "": a loopback listener of the flow's
  /// own on 127.0.0.1 serves that path (`hearth connect`).
  std::string callback_base{};
  std::stop_token stop{};                        // the turn's cancellation
  std::chrono::milliseconds wait{5 * 60'000};    // how long the person has
};

/// The Consent of the calling thread, or null (headless).
const Consent* current_consent();

/// Sets current_consent() for its lifetime (restores the previous one after).
class ConsentScope {
public:
  explicit ConsentScope(const Consent* consent);
  ~ConsentScope();
  ConsentScope(const ConsentScope&) = delete;
  ConsentScope& operator=(const ConsentScope&) = delete;

private:
  const Consent* m_previous;
};

/// The callback route (GET /eve/v1/connections/:name/callback/:token): hands `code` (or
/// `error`) to the waiting flow whose token is `token`, after checking its connection name and
/// `state`. False when no flow waits for that token (unknown, finished, another name or state),
/// or when neither code nor error is given (the token is then not used up).
bool complete_callback(const std::string& name, const std::string& token, const std::string& state,
                       const std::string& code, const std::string& error);

/// AES-256-GCM key of the credential seal: HEARTH_CREDENTIALS_KEY (64 hex digits) when `env`
/// has it, else the 32 random bytes of `key_file` (created 0600 on first use). Throws
/// mcp_config_invalid when the variable is malformed or the file cannot be read or made.
std::array<unsigned char, 32> credentials_key(
    const std::function<std::optional<std::string>(const std::string&)>& env,
    const std::filesystem::path& key_file);

/// "v1:" + base64url(nonce | ciphertext | tag) of `plain` under `key`, authenticating `aad` (the
/// row key it is stored under: a sealed value copied to another row does not open there).
std::string seal(const std::array<unsigned char, 32>& key, std::string_view plain, std::string_view aad = {});
/// The plain text of seal(), or nullopt when it was sealed under another key or AAD, or altered.
std::optional<std::string> unseal(const std::array<unsigned char, 32>& key, std::string_view sealed,
                                  std::string_view aad = {});

struct Settings {
  std::string connection{};    // for messages
  std::string mcp_url{};       // the protected resource
  std::string client_id{};     // configured (pre-registration); "" registers dynamically
  std::string client_secret{}; // with client_id, when the server issued one
  std::string redirect_uri = "http://127.0.0.1:33418/callback";
  /// "authorization_code" (default) or "client_credentials" (machine-to-machine, SEP-1046: the
  /// configured client id and secret get a token from the token endpoint, no authorization step).
  std::string grant = "authorization_code";
  bool redirect_configured = false; // auth.oauth.redirectUri given: used as is
  /// An https URL used as client id when the server's metadata says
  /// client_id_metadata_document_supported (draft-ietf-oauth-client-id-metadata-document).
  std::string client_metadata_url{};
  /// A PEM private key: the client authenticates at the token endpoint with a JWT it signs
  /// (private_key_jwt, RFC 7523 §2.2: iss = sub = client id, aud = the issuer, 5 minutes).
  std::string private_key_pem{};
  std::string signing_alg = "ES256"; // ES256 | RS256
  /// grant "cross_app" (SEP-990, enterprise-managed): the IdP's ID token is exchanged at its
  /// token endpoint (RFC 8693) for an identity assertion grant (ID-JAG) for the authorization
  /// server, which the client then presents as a JWT bearer grant (RFC 7523 §2.1).
  std::string idp_token_endpoint{};
  std::string idp_client_id{};
  std::string idp_id_token{};
  std::string description{};   // the connection's, for authorization_required
  std::function<void(std::string_view level, std::string_view text)> log{};
  TokenStore tokens{};
  std::shared_ptr<State> state = std::make_shared<State>();
  /// Stopped when the pool shuts down: a pending consent (and any wait for it) ends then.
  std::stop_token shutdown{};
};

/// A usable access token without signing in: the one held or stored, refreshed first when it
/// expires within 60 s (a refresh that fails forgets it). "" when there is none. Never waits for
/// another request's sign-in (the held token, possibly stale, is returned meanwhile).
std::string current_token(const Settings& settings);

/// Signs in for a 401 whose WWW-Authenticate header is `challenge`; `refused` is the token the
/// server just refused ("" none): it is forgotten, then a refresh is tried before a new flow.
/// Returns the access token (also stored). One sign-in per connection at a time: a request that
/// finds one in progress waits for it (cancellable by its own turn's stop and by
/// Settings::shutdown, bounded by the consent wait) and tries itself if it failed. No lock is held
/// across HTTP or the consent wait. Throws errors::mcp_http_error / mcp_config_invalid saying
/// which step failed (never the token), errors::turn_cancelled when the turn stops while a person
/// is asked or while waiting for another request's sign-in.
std::string authorize(const Settings& settings, const std::string& challenge,
                      const std::string& refused = {});

/// The `name="value"` (or name=value) parameter of a WWW-Authenticate challenge, or "".
std::string challenge_param(const std::string& challenge, std::string_view name);

} // namespace hearth::mcp::oauth
