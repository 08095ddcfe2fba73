// Route auth (ARCHITECTURE.md §11; seed 003 "route auth", seed 002 "Agent Invokers"): one ordered
// walk of auth entries for both protocols that turns a request into an Invoker or a 401/403, and
// the browser-safety checks (Host, Origin, CORS preflight, simple bodies). Transport-neutral: the
// HTTP layer fills a Request and applies the answer; nothing here knows the HTTP library.
// docs/auth.md documents every kind.
#pragma once

#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::server::auth {

/// The trusted caller identity of one invocation (seed 002): stable `id`, optional `kind`,
/// `label` and application-owned `meta` (an object).
struct Invoker {
  std::string id{};
  std::string kind{};
  std::string label{};
  nlohmann::json meta = nlohmann::json::object();

  /// `{"id", "kind"?, "label"?, "meta"?}`: empty members are left out.
  nlohmann::json to_json() const;
  /// Reads `{"id": string, "kind"?, "label"?, "meta"?: object}`; nullopt when it is not that shape.
  static std::optional<Invoker> from_json(const nlohmann::json& value);
};

enum class Protocol { flue, eve };

/// What the walk needs to know about one request. `header` returns "" for an absent header
/// (names are case-insensitive); it is called only during the call that received the Request.
struct Request {
  std::string_view method{};
  std::string_view path{};
  std::string_view query{}; // without '?', may be empty
  std::function<std::string(std::string_view)> header{};
  std::string peer_address{};
  bool peer_loopback = false;
  Protocol protocol = Protocol::flue;
  bool health = false; // GET|HEAD /eve/v1/health: always public (seed 003)
};

struct KeySet; // RS256/ES256 public keys (jwt.hpp)

/// One entry of an `auth` list. Parsed from JSON by parse_entries.
struct Entry {
  enum class Kind { local_dev, none, bearer, basic, jwt, exec };
  Kind kind = Kind::bearer;
  std::string where{};                   // "hearth.json auth[2]": names the entry in messages
  std::vector<std::string> secrets{};    // bearer: tokens; basic: {user, password}; jwt: HS secret
  std::optional<Invoker> invoker{};      // fixed invoker (bearer, basic, none, localDev)
  bool select_profiles = false;          // callers it accepts may select agent.json profiles
  // jwt
  std::vector<std::string> algorithms{}; // allowed "HS256" | "RS256" | "ES256"
  std::string issuer{};
  std::vector<std::string> audiences{};
  std::chrono::seconds leeway{30};
  std::string id_claim = "sub", kind_claim{}, label_claim{};
  std::vector<std::string> meta_claims{};
  std::shared_ptr<const KeySet> keys{}; // RS256/ES256 public keys (PEM or JWKS)
  // exec
  std::vector<std::string> command{};
  std::filesystem::path cwd{};
  std::chrono::milliseconds timeout{5000};
};

/// The outcome of the walk: allow with an invoker, or an error (401 with `www_authenticate`,
/// 403) already shaped by the catalogue.
struct Decision {
  bool allowed = false;
  Invoker invoker{};
  bool select_profiles = false;
  std::string entry{};            // the entry that decided ("hearth.json auth[0]") or ""
  std::optional<Error> error{};   // set when !allowed
  std::string www_authenticate{}; // set on 401
};

/// Parses an `auth` list (hearth.json `auth`, agent/channels/eve.json `auth`). Reads secrets from
/// the environment now (a missing variable is an error), loads key files relative to `base`.
/// `source` names the file in messages. Throws errors::auth_config_invalid.
std::vector<Entry> parse_entries(const nlohmann::json& list, const std::filesystem::path& base,
                                 std::string_view source);

/// Browser-safety settings (hearth.json `server`).
struct BrowserPolicy {
  bool check_host = false;               // refuse Host names outside loopback + `hosts`
  std::vector<std::string> hosts{};      // extra allowed Host names (no port), "*" for any
  std::vector<std::string> origins{};    // `server.cors.origins`: allowed Origins, "*" for any
};

/// What the HTTP layer does before routing: `status` 0 means continue (adding `headers` to the
/// eventual response); otherwise answer `status` with `headers` and, when set, `error`'s envelope.
struct BrowserAnswer {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers{};
  std::optional<Error> error{};
};

/// Everything the server needs: the walk per protocol and the browser policy.
struct Config {
  std::vector<Entry> flue{};       // hearth.json `auth`
  std::vector<Entry> eve{};        // agent/channels/eve.json `auth`, else hearth.json's
  bool dev = false;                // localDev accepts only while `hearth dev` runs
  bool insecure_no_auth = false;   // `hearth start --insecure-no-auth`: everyone is anonymous
  BrowserPolicy browser{};
};

/// The invoker of anonymous callers (`none`, --insecure-no-auth).
Invoker anonymous_invoker();

/// Runs the walk: health is public; then the first entry that accepts wins; a credential that an
/// entry recognises but rejects is 401 at once; exhaustion is 401 `unauthorized` with
/// `WWW-Authenticate`. Thread-safe; never throws (a failing exec verifier denies).
Decision authenticate(const Config& config, const Request& request);

/// Host and Origin checks and the CORS preflight (OPTIONS with Access-Control-Request-Method).
/// Runs before authenticate: a preflight carries no credentials. Never throws.
BrowserAnswer check_browser(const Config& config, const Request& request);

/// True when `content_type` is one a page may send cross-origin without a preflight
/// (text/plain, application/x-www-form-urlencoded, multipart/form-data).
bool is_simple_content_type(std::string_view content_type);

/// True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses (textual form).
bool is_loopback_address(std::string_view address);

/// Constant-time equality (CRYPTO_memcmp over equal lengths; the length itself may leak).
bool equal_secret(std::string_view a, std::string_view b);

} // namespace hearth::server::auth
