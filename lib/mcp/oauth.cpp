// OAuth for HTTP connections; see oauth.hpp.
#include "mcp/oauth.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "core/url.hpp"
#include "core/text.hpp"
#include "providers/http.hpp"

#include <httplib.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

namespace hearth::mcp::oauth {
namespace {
using nlohmann::json;

constexpr std::size_t k_max_document = 256 * 1024;

std::string base64url(const unsigned char* data, std::size_t n) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  for (std::size_t i = 0; i < n; i += 3) {
    const unsigned v = (data[i] << 16) | (i + 1 < n ? data[i + 1] << 8 : 0) | (i + 2 < n ? data[i + 2] : 0);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    if (i + 1 < n) out += table[(v >> 6) & 63];
    if (i + 2 < n) out += table[v & 63];
  }
  return out;
}

/// Standard base64 with padding (HTTP Basic credentials).
std::string base64(const std::string& in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  const auto* data = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  for (std::size_t i = 0; i < n; i += 3) {
    const unsigned v = (data[i] << 16) | (i + 1 < n ? data[i + 1] << 8 : 0) | (i + 2 < n ? data[i + 2] : 0);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += i + 1 < n ? table[(v >> 6) & 63] : '=';
    out += i + 2 < n ? table[v & 63] : '=';
  }
  return out;
}

std::string random_token() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw errors::internal_error("RAND_bytes failed");
  return base64url(bytes, sizeof bytes);
}

std::string s256(const std::string& verifier) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), digest);
  return base64url(digest, sizeof digest);
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') out += ' ';
    else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
             std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else out += s[i];
  }
  return out;
}

/// The value of query parameter `name` in `url`, or "".
std::string query_param(const std::string& url, const std::string& name) {
  const auto q = url.find('?');
  if (q == std::string::npos) return {};
  for (const auto& pair : text::split(url.substr(q + 1, url.find('#') == std::string::npos
                                                            ? std::string::npos
                                                            : url.find('#') - q - 1),
                                      '&')) {
    const auto eq = pair.find('=');
    if (url_decode(pair.substr(0, eq)) == name)
      return eq == std::string::npos ? std::string() : url_decode(pair.substr(eq + 1));
  }
  return {};
}

struct Url {
  std::string origin{}; // scheme://host[:port]
  std::string path{};   // "/..." or ""
};

Url split(const Settings& s, const std::string& url) {
  try {
    auto base = providers::split_base_url(s.connection, url.substr(0, url.find('?')));
    return {base.scheme_host_port, base.path_prefix};
  } catch (const Error&) {
    throw errors::mcp_http_error(s.connection, 0, "OAuth: \"" + url.substr(0, 200) + "\" is not an http(s) URL");
  }
}

/// GET `url` as JSON (2xx, an object, bounded); nullopt for a non-2xx answer.
std::optional<json> get_json(const Settings& s, const std::string& url) {
  const auto u = split(s, url);
  httplib::Client client(u.origin);
  client.set_connection_timeout(std::chrono::seconds(10));
  client.set_read_timeout(std::chrono::seconds(30));
  const auto res = client.Get(u.path.empty() ? "/" : u.path, {{"Accept", "application/json"}});
  if (!res) throw errors::mcp_http_error(s.connection, 0, "OAuth: GET " + url + ": " + httplib::to_string(res.error()));
  if (res->status < 200 || res->status >= 300) return std::nullopt;
  if (res->body.size() > k_max_document) throw errors::mcp_http_error(s.connection, res->status, "OAuth: " + url + " is too large");
  json j = parse_json_or_discarded(res->body);
  if (!j.is_object()) throw errors::mcp_http_error(s.connection, res->status, "OAuth: " + url + " is not a JSON object");
  return j;
}

std::string str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

/// POST a form (or JSON when `json_body`) and return the JSON answer; throws naming `step`.
json post(const Settings& s, const std::string& url, const std::string& body, bool json_body,
          const httplib::Headers& headers, const std::string& step) {
  const auto u = split(s, url);
  httplib::Client client(u.origin);
  client.set_connection_timeout(std::chrono::seconds(10));
  client.set_read_timeout(std::chrono::seconds(30));
  const auto res = client.Post(u.path.empty() ? "/" : u.path, headers, body,
                               json_body ? "application/json" : "application/x-www-form-urlencoded");
  if (!res) throw errors::mcp_http_error(s.connection, 0, "OAuth " + step + ": " + httplib::to_string(res.error()));
  json j = parse_json_or_discarded(res->body.substr(0, k_max_document));
  if (res->status < 200 || res->status >= 300 || !j.is_object())
    throw errors::mcp_http_error(s.connection, res->status,
                                 "OAuth " + step + " failed: " + text::to_utf8(res->body.substr(0, 300)));
  return j;
}

} // namespace

std::string challenge_param(const std::string& challenge, std::string_view name) {
  const auto key = std::string(name) + "=";
  for (std::size_t at = challenge.find(key); at != std::string::npos; at = challenge.find(key, at + 1)) {
    if (at > 0 && (std::isalnum(static_cast<unsigned char>(challenge[at - 1])) || challenge[at - 1] == '_'))
      continue;
    auto start = at + key.size();
    if (start < challenge.size() && challenge[start] == '"') {
      const auto end = challenge.find('"', start + 1);
      return end == std::string::npos ? std::string() : challenge.substr(start + 1, end - start - 1);
    }
    const auto end = challenge.find_first_of(", ", start);
    return challenge.substr(start, end == std::string::npos ? std::string::npos : end - start);
  }
  return {};
}

std::string authorize(const Settings& s, const std::string& challenge) {
  const auto resource_url = split(s, s.mcp_url);
  // 1. Protected resource metadata (RFC 9728).
  std::optional<json> prm;
  // The challenge's metadata URL is followed only on the MCP server's own origin (a server may
  // not send hearth to fetch from elsewhere); otherwise the well-known locations.
  if (const auto url = challenge_param(challenge, "resource_metadata"); !url.empty()) {
    bool same_origin = false;
    try {
      same_origin = split(s, url).origin == resource_url.origin;
    } catch (const Error&) {
    }
    if (same_origin) prm = get_json(s, url);
  }
  if (!prm && !resource_url.path.empty() && resource_url.path != "/")
    prm = get_json(s, resource_url.origin + "/.well-known/oauth-protected-resource" + resource_url.path);
  if (!prm) prm = get_json(s, resource_url.origin + "/.well-known/oauth-protected-resource");
  // RFC 9728 §3.3: the metadata must be about the resource we talk to.
  if (prm && !(prm->contains("resource") && (*prm)["resource"].is_string()))
    throw errors::mcp_http_error(s.connection, 0,
                                 "OAuth: the protected resource metadata names no resource; refusing to sign in");
  if (prm) {
    auto normal = [](std::string u) {
      u = u.substr(0, u.find_first_of("?#"));
      while (!u.empty() && u.back() == '/') u.pop_back();
      const auto scheme_end = u.find("://");
      const auto host_end = u.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
      for (std::size_t i = 0; i < std::min(host_end, u.size()); ++i)
        u[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(u[i])));
      return u;
    };
    const auto claimed = normal((*prm)["resource"].get<std::string>()), ours = normal(s.mcp_url);
    if (claimed != ours) // exact, after normalization (RFC 9728 §3.3)
      throw errors::mcp_http_error(s.connection, 0,
                                   "OAuth: the protected resource metadata is for " +
                                       (*prm)["resource"].get<std::string>().substr(0, 200) +
                                       ", not this connection's URL; refusing to sign in");
  }
  std::string issuer;
  if (prm && prm->contains("authorization_servers") && (*prm)["authorization_servers"].is_array() &&
      !(*prm)["authorization_servers"].empty() && (*prm)["authorization_servers"][0].is_string())
    issuer = (*prm)["authorization_servers"][0].get<std::string>();
  if (issuer.empty()) issuer = resource_url.origin; // 2025-03-26 servers: the MCP origin itself
  // 2. Authorization server metadata (RFC 8414, then OpenID Connect discovery).
  const auto as = split(s, issuer);
  const auto path = as.path == "/" ? std::string() : as.path;
  std::optional<json> meta;
  for (const auto& url : {as.origin + "/.well-known/oauth-authorization-server" + path,
                          as.origin + "/.well-known/openid-configuration" + path,
                          as.origin + path + "/.well-known/openid-configuration"}) {
    meta = get_json(s, url);
    if (meta) break;
  }
  // RFC 8414 §3.3: the metadata's issuer must be the issuer it was looked up for.
  if (meta) {
    auto strip = [](std::string u) {
      while (!u.empty() && u.back() == '/') u.pop_back();
      return u;
    };
    if (strip(str(*meta, "issuer")) != strip(issuer))
      throw errors::mcp_http_error(s.connection, 0,
                                   "OAuth: the authorization server metadata is for another issuer; "
                                   "refusing to sign in");
  }
  std::string authorization_endpoint = meta ? str(*meta, "authorization_endpoint") : as.origin + "/authorize";
  std::string token_endpoint = meta ? str(*meta, "token_endpoint") : as.origin + "/token";
  std::string registration_endpoint = meta ? str(*meta, "registration_endpoint") : as.origin + "/register";
  if (authorization_endpoint.empty() || token_endpoint.empty())
    throw errors::mcp_http_error(s.connection, 0, "OAuth: the authorization server metadata names no endpoints");
  // Tokens and codes travel over TLS, except to this machine (tests, local servers); a
  // configured client secret goes only to the issuer's own origin.
  const auto secure = [&](const std::string& url) {
    const auto origin = split(s, url).origin;
    const bool loopback = origin.rfind("http://127.0.0.1", 0) == 0 || origin.rfind("http://localhost", 0) == 0 ||
                          origin.rfind("http://[::1]", 0) == 0;
    if (origin.rfind("https://", 0) != 0 && !loopback)
      throw errors::mcp_http_error(s.connection, 0,
                                   "OAuth: " + url.substr(0, 200) + " is not https; refusing to sign in");
  };
  for (const auto* url : {&issuer, &authorization_endpoint, &token_endpoint}) secure(*url);
  if (!registration_endpoint.empty() && s.client_id.empty()) secure(registration_endpoint);
  if (!s.client_secret.empty() && split(s, token_endpoint).origin != as.origin)
    throw errors::mcp_http_error(s.connection, 0,
                                 "OAuth: the token endpoint is not on the issuer's origin; the configured "
                                 "client secret is not sent there");
  // 3. The client: configured, else dynamic registration (RFC 7591).
  std::string client_id = s.client_id, client_secret = s.client_secret, auth_method = "none";
  std::string scope = challenge_param(challenge, "scope");
  if (scope.empty() && prm && prm->contains("scopes_supported") && (*prm)["scopes_supported"].is_array())
    for (const auto& sc : (*prm)["scopes_supported"])
      if (sc.is_string()) scope += (scope.empty() ? "" : " ") + sc.get<std::string>();
  if (client_id.empty()) {
    if (registration_endpoint.empty())
      throw errors::mcp_config_invalid(s.connection, "the authorization server offers no dynamic registration; "
                                                     "configure auth.oauth.clientId.");
    json request = {{"client_name", "hearth"},
                    {"redirect_uris", {s.redirect_uri}},
                    {"grant_types", {"authorization_code", "refresh_token"}},
                    {"response_types", {"code"}},
                    {"token_endpoint_auth_method", "none"}};
    if (!scope.empty()) request["scope"] = scope;
    const auto registered = post(s, registration_endpoint, dump_json(request), true, {}, "registration");
    client_id = str(registered, "client_id");
    client_secret = str(registered, "client_secret");
    if (const auto m = str(registered, "token_endpoint_auth_method"); !m.empty()) auth_method = m;
    if (client_id.empty()) throw errors::mcp_http_error(s.connection, 0, "OAuth registration gave no client_id");
  }
  if (!client_secret.empty() && auth_method == "none") {
    auth_method = "client_secret_basic";
    if (meta && meta->contains("token_endpoint_auth_methods_supported") &&
        (*meta)["token_endpoint_auth_methods_supported"].is_array()) {
      const auto& methods = (*meta)["token_endpoint_auth_methods_supported"];
      if (std::find(methods.begin(), methods.end(), json("client_secret_basic")) == methods.end() &&
          std::find(methods.begin(), methods.end(), json("client_secret_post")) != methods.end())
        auth_method = "client_secret_post";
    }
  }
  const auto client_auth = [&](std::string& form, httplib::Headers& headers) {
    if (auth_method == "client_secret_basic") {
      const auto pair = percent_encode(client_id) + ":" + percent_encode(client_secret);
      headers.emplace("Authorization", "Basic " + base64(pair));
    } else {
      form += "&client_id=" + percent_encode(client_id);
      if (auth_method == "client_secret_post") form += "&client_secret=" + percent_encode(client_secret);
    }
  };
  if (s.grant == "client_credentials") { // SEP-1046: no person, no redirect
    if (s.client_id.empty() || s.client_secret.empty())
      throw errors::mcp_config_invalid(s.connection, "the client_credentials grant needs auth.oauth.clientId and clientSecret.");
    std::string form = "grant_type=client_credentials&resource=" + percent_encode(s.mcp_url);
    if (!scope.empty()) form += "&scope=" + percent_encode(scope);
    httplib::Headers headers;
    client_auth(form, headers);
    const auto token = post(s, token_endpoint, form, false, headers, "client credentials");
    const auto access = str(token, "access_token");
    if (access.empty()) throw errors::mcp_http_error(s.connection, 0, "OAuth client credentials gave no access_token");
    if (s.log) s.log("info", "OAuth: signed in to " + issuer + " with client credentials");
    return access;
  }
  // 4. Authorization code with PKCE; the endpoint must redirect without a human.
  const auto verifier = random_token(), state = random_token();
  const auto resource = s.mcp_url;
  std::string url = authorization_endpoint + (authorization_endpoint.find('?') == std::string::npos ? "?" : "&") +
                    "response_type=code&client_id=" + percent_encode(client_id) +
                    "&redirect_uri=" + percent_encode(s.redirect_uri) + "&code_challenge=" + s256(verifier) +
                    "&code_challenge_method=S256&state=" + percent_encode(state) + "&resource=" + percent_encode(resource);
  if (!scope.empty()) url += "&scope=" + percent_encode(scope);
  std::string location;
  {
    const auto u = split(s, url);
    httplib::Client client(u.origin);
    client.set_follow_location(false);
    client.set_connection_timeout(std::chrono::seconds(10));
    client.set_read_timeout(std::chrono::seconds(30));
    const auto query = url.substr(url.find('?'));
    const auto res = client.Get((u.path.empty() ? "/" : u.path) + query);
    if (!res) throw errors::mcp_http_error(s.connection, 0, "OAuth authorization: " + httplib::to_string(res.error()));
    location = res->get_header_value("Location");
    if (res->status < 300 || res->status >= 400 || location.rfind(s.redirect_uri, 0) != 0)
      throw errors::mcp_http_error(
          s.connection, res->status,
          "OAuth sign-in needs a person: open " + url.substr(0, url.find("&code_challenge")) +
              "… in a browser (interactive consent is not supported yet)");
  }
  if (query_param(location, "state") != state)
    throw errors::mcp_http_error(s.connection, 0, "OAuth: the authorization answer has the wrong state");
  const auto code = query_param(location, "code");
  if (code.empty())
    throw errors::mcp_http_error(s.connection, 0, "OAuth authorization refused: " + query_param(location, "error"));
  // 5. The token.
  std::string form = "grant_type=authorization_code&code=" + percent_encode(code) +
                     "&redirect_uri=" + percent_encode(s.redirect_uri) + "&code_verifier=" + percent_encode(verifier) +
                     "&resource=" + percent_encode(resource);
  httplib::Headers headers;
  client_auth(form, headers);
  const auto token = post(s, token_endpoint, form, false, headers, "token exchange");
  const auto access = str(token, "access_token");
  if (access.empty()) throw errors::mcp_http_error(s.connection, 0, "OAuth token exchange gave no access_token");
  if (s.log) s.log("info", "OAuth: signed in to " + issuer);
  return access;
}

} // namespace hearth::mcp::oauth
