// The route-auth walk and the browser-safety checks; see auth.hpp and docs/auth.md.
#include "server/auth/auth.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "core/process.hpp"
#include "server/auth/jwt.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cstdlib>

namespace hearth::server::auth {

using nlohmann::json;

namespace {

constexpr std::size_t k_max_entries = 32;
constexpr std::size_t k_exec_output_cap = 64 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string env_value(const json& entry, const char* key, const std::string& where) {
  if (!entry.contains(key)) return "";
  if (!entry[key].is_string())
    throw errors::auth_config_invalid(where, std::string("\"") + key + "\" must be a string");
  const auto name = entry[key].get<std::string>();
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0')
    throw errors::auth_config_invalid(where, "environment variable " + name + " is not set");
  return value;
}

std::vector<std::string> string_list(const json& entry, const char* key, const std::string& where) {
  std::vector<std::string> out;
  if (!entry.contains(key)) return out;
  const auto& v = entry[key];
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array())
    throw errors::auth_config_invalid(where, std::string("\"") + key + "\" must be a string list");
  for (const auto& item : v) {
    if (!item.is_string())
      throw errors::auth_config_invalid(where, std::string("\"") + key + "\" must be a string list");
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::optional<Invoker> fixed_invoker(const json& entry, const std::string& where) {
  if (!entry.contains("invoker")) return std::nullopt;
  auto inv = Invoker::from_json(entry["invoker"]);
  if (!inv) throw errors::auth_config_invalid(where, "\"invoker\" must be {\"id\": string, ...}");
  return inv;
}

void parse_jwt(Entry& e, const json& j, const std::filesystem::path& base) {
  if (j.contains("secretEnv")) {
    e.secrets = {env_value(j, "secretEnv", e.where)};
    e.algorithms = {"HS256"};
  }
  const auto pem = j.value("publicKeyFile", std::string());
  const auto jwks = j.value("jwksFile", std::string());
  if (!pem.empty()) e.keys = load_pem_keys(base / pem, e.where);
  if (!jwks.empty()) e.keys = load_jwks(base / jwks, e.where);
  if (e.secrets.empty() == !e.keys)
    throw errors::auth_config_invalid(
        e.where, "set exactly one of \"secretEnv\" (HS256) or \"publicKeyFile\" / \"jwksFile\"");
  if (e.keys)
    for (const auto& k : e.keys->keys)
      if (std::find(e.algorithms.begin(), e.algorithms.end(), k.alg) == e.algorithms.end())
        e.algorithms.push_back(k.alg);
  if (j.contains("algorithms")) { // may narrow, never widen past what the keys support
    const auto wanted = string_list(j, "algorithms", e.where);
    std::vector<std::string> kept;
    for (const auto& a : wanted)
      if (std::find(e.algorithms.begin(), e.algorithms.end(), a) != e.algorithms.end()) kept.push_back(a);
    e.algorithms = kept;
  }
  e.issuer = j.value("issuer", std::string());
  e.audiences = string_list(j, "audience", e.where);
  if (j.contains("leewaySeconds") && j["leewaySeconds"].is_number_integer())
    e.leeway = std::chrono::seconds(std::clamp<long long>(j["leewaySeconds"].get<long long>(), 0, 300));
  if (j.contains("claims") && j["claims"].is_object()) {
    const auto& c = j["claims"];
    e.id_claim = c.value("id", e.id_claim);
    e.kind_claim = c.value("kind", std::string());
    e.label_claim = c.value("label", std::string());
    e.meta_claims = string_list(c, "meta", e.where);
  }
}

Entry parse_entry(const json& j, const std::filesystem::path& base, const std::string& where) {
  if (!j.is_object() || !j.contains("kind") || !j["kind"].is_string())
    throw errors::auth_config_invalid(where, "expected {\"kind\": \"localDev\" | \"bearer\" | "
                                             "\"basic\" | \"jwt\" | \"exec\" | \"none\", ...}");
  Entry e;
  e.where = where;
  const auto kind = j["kind"].get<std::string>();
  e.invoker = fixed_invoker(j, where);
  e.select_profiles = j.value("selectProfiles", kind == "localDev");
  if (kind == "localDev") {
    e.kind = Entry::Kind::local_dev;
  } else if (kind == "none") {
    e.kind = Entry::Kind::none;
  } else if (kind == "bearer") {
    e.kind = Entry::Kind::bearer;
    for (const auto& name : string_list(j, "tokenEnv", where)) {
      const char* value = std::getenv(name.c_str());
      if (value == nullptr || *value == '\0')
        throw errors::auth_config_invalid(where, "environment variable " + name + " is not set");
      e.secrets.emplace_back(value);
    }
    if (e.secrets.empty()) throw errors::auth_config_invalid(where, "\"tokenEnv\" names no variable");
  } else if (kind == "basic") {
    e.kind = Entry::Kind::basic;
    e.secrets = {env_value(j, "userEnv", where), env_value(j, "passwordEnv", where)};
    if (e.secrets[0].empty() || e.secrets[1].empty())
      throw errors::auth_config_invalid(where, "set \"userEnv\" and \"passwordEnv\"");
  } else if (kind == "jwt") {
    e.kind = Entry::Kind::jwt;
    parse_jwt(e, j, base);
  } else if (kind == "exec") {
    e.kind = Entry::Kind::exec;
    e.command = string_list(j, "command", where);
    if (e.command.empty()) throw errors::auth_config_invalid(where, "\"command\" is required");
    if (e.command[0].find('/') != std::string::npos && e.command[0][0] != '/')
      e.command[0] = (base / e.command[0]).lexically_normal().string();
    e.cwd = base;
    if (j.contains("timeoutMs") && j["timeoutMs"].is_number_integer())
      e.timeout = std::chrono::milliseconds(std::clamp<long long>(j["timeoutMs"].get<long long>(), 1, 60'000));
  } else {
    throw errors::auth_config_invalid(where, "unknown kind \"" + kind + "\"");
  }
  return e;
}

std::string local_user() {
  const char* user = std::getenv("USER");
  return user != nullptr && *user != '\0' ? user : "user";
}

/// `Authorization: <scheme> <credentials>`: the scheme lower-cased.
std::pair<std::string, std::string> authorization(const Request& req) {
  const auto value = req.header ? req.header("Authorization") : std::string();
  const auto space = value.find(' ');
  if (space == std::string::npos) return {lower(value), ""};
  auto cred = value.substr(space + 1);
  while (!cred.empty() && cred.front() == ' ') cred.erase(0, 1);
  while (!cred.empty() && cred.back() == ' ') cred.pop_back();
  return {lower(value.substr(0, space)), cred};
}

Invoker jwt_invoker(const json& claims, const Entry& e) {
  auto text = [&claims](const std::string& name) -> std::string {
    if (name.empty() || !claims.contains(name)) return "";
    const auto& v = claims[name];
    return v.is_string() ? v.get<std::string>() : v.is_number() ? v.dump() : "";
  };
  Invoker inv{.id = text(e.id_claim), .kind = text(e.kind_claim), .label = text(e.label_claim)};
  if (inv.kind.empty()) inv.kind = "user";
  for (const auto& name : e.meta_claims)
    if (claims.contains(name)) inv.meta[name] = claims[name];
  return inv;
}

/// Asks an exec verifier. Returns the invoker on allow; nullopt (with `reason`) on deny/failure.
std::optional<Invoker> ask_exec(const Entry& e, const Request& req, std::string& reason) {
  json headers = json::object();
  for (const char* name : {"authorization", "cookie", "host", "origin", "user-agent",
                           "x-api-key", "x-forwarded-for", "content-type"})
    if (const auto v = req.header(name); !v.empty()) headers[name] = v;
  const json input = {{"method", std::string(req.method)}, {"path", std::string(req.path)},
                      {"query", std::string(req.query)},
                      {"headers", headers},
                      {"peer", {{"address", req.peer_address}, {"loopback", req.peer_loopback}}},
                      {"protocol", req.protocol == Protocol::eve ? "eve" : "flue"}};
  try {
    const auto r = process::run_capture(e.command, input.dump() + "\n", e.timeout, std::nullopt,
                                        e.cwd, k_exec_output_cap);
    if (r.timed_out) return reason = "verifier timed out", std::nullopt;
    if (r.exit_code != 0 || r.out_truncated) return reason = "verifier failed", std::nullopt;
    const auto answer = hearth::parse_json_or_discarded(r.out);
    if (!answer.is_object() || answer.value("allow", false) != true)
      return reason = "verifier denied", std::nullopt;
    auto inv = Invoker::from_json(answer.value("invoker", json()));
    if (!inv) return reason = "verifier allowed without an invoker {id}", std::nullopt;
    return inv;
  } catch (const std::exception& ex) {
    return reason = std::string("verifier did not start: ") + ex.what(), std::nullopt;
  }
}

std::string challenge(const std::vector<Entry>& entries) {
  bool basic = false;
  for (const auto& e : entries) basic = basic || e.kind == Entry::Kind::basic;
  return basic ? "Bearer, Basic realm=\"hearth\"" : "Bearer";
}

Decision allow(Invoker inv, const Entry* entry) {
  Decision d;
  d.allowed = true;
  d.invoker = std::move(inv);
  if (entry) {
    d.select_profiles = entry->select_profiles;
    d.entry = entry->where;
  }
  return d;
}

Decision deny_401(Error error, const std::vector<Entry>& entries) {
  Decision d;
  d.error = std::move(error);
  d.www_authenticate = challenge(entries);
  return d;
}

/// Host header without its port (`[v6]:p` -> `v6`), lower-cased.
std::string host_name(std::string host) {
  host = lower(host);
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    return close == std::string::npos ? host : host.substr(1, close - 1);
  }
  const auto colon = host.find(':');
  return colon == std::string::npos ? host : host.substr(0, colon);
}

bool host_allowed(const BrowserPolicy& policy, const std::string& raw) {
  if (raw.empty()) return true; // HTTP/1.0 without Host: no browser sends that
  const auto name = host_name(raw);
  if (name == "localhost" || (name.size() > 10 && name.rfind(".localhost") == name.size() - 10) ||
      is_loopback_address(name))
    return true;
  for (const auto& h : policy.hosts)
    if (h == "*" || lower(h) == name) return true;
  return false;
}

bool origin_allowed(const BrowserPolicy& policy, const std::string& origin, const std::string& host) {
  if (!host.empty() && (origin == "http://" + host || origin == "https://" + host)) return true;
  for (const auto& o : policy.origins)
    if (o == "*" || o == origin) return true;
  return false;
}

} // namespace

json Invoker::to_json() const {
  json out = {{"id", id}};
  if (!kind.empty()) out["kind"] = kind;
  if (!label.empty()) out["label"] = label;
  if (meta.is_object() && !meta.empty()) out["meta"] = meta;
  return out;
}

std::optional<Invoker> Invoker::from_json(const json& value) {
  if (!value.is_object() || !value.contains("id") || !value["id"].is_string() ||
      value["id"].get<std::string>().empty())
    return std::nullopt;
  Invoker inv{.id = value["id"].get<std::string>()};
  if (value.contains("kind")) {
    if (!value["kind"].is_string()) return std::nullopt;
    inv.kind = value["kind"].get<std::string>();
  }
  if (value.contains("label")) {
    if (!value["label"].is_string()) return std::nullopt;
    inv.label = value["label"].get<std::string>();
  }
  if (value.contains("meta")) {
    if (!value["meta"].is_object()) return std::nullopt;
    inv.meta = value["meta"];
  }
  return inv;
}

Invoker anonymous_invoker() { return {.id = "anonymous", .kind = "anonymous"}; }

std::vector<Entry> parse_entries(const json& list, const std::filesystem::path& base,
                                 std::string_view source) {
  if (!list.is_array())
    throw errors::auth_config_invalid(std::string(source) + " auth", "must be a list of entries");
  if (list.size() > k_max_entries)
    throw errors::auth_config_invalid(std::string(source) + " auth", "at most 32 entries");
  std::vector<Entry> out;
  for (std::size_t i = 0; i < list.size(); ++i)
    out.push_back(parse_entry(list[i], base, std::string(source) + " auth[" + std::to_string(i) + "]"));
  return out;
}

bool equal_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool is_loopback_address(std::string_view address) {
  std::string text(address);
  if (text.rfind("::ffff:", 0) == 0) text = text.substr(7);
  in_addr v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, text.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

bool is_simple_content_type(std::string_view content_type) {
  auto base = lower(content_type.substr(0, content_type.find(';')));
  while (!base.empty() && base.back() == ' ') base.pop_back();
  while (!base.empty() && base.front() == ' ') base.erase(0, 1);
  return base == "text/plain" || base == "application/x-www-form-urlencoded" ||
         base == "multipart/form-data";
}

Decision authenticate(const Config& config, const Request& req) {
  if (req.health) return allow(anonymous_invoker(), nullptr);
  if (config.insecure_no_auth) return allow(anonymous_invoker(), nullptr);
  const auto& entries = req.protocol == Protocol::eve ? config.eve : config.flue;
  const auto [scheme, credential] = authorization(req);
  std::string rejected; // why a presented credential was refused (dev context)
  const std::time_t now = std::time(nullptr);
  for (const auto& e : entries) {
    switch (e.kind) {
    case Entry::Kind::local_dev:
      if (config.dev && req.peer_loopback)
        return allow(e.invoker.value_or(Invoker{.id = "local:" + local_user(), .kind = "local",
                                                .label = "localDev"}),
                     &e);
      break;
    case Entry::Kind::none:
      return allow(e.invoker.value_or(anonymous_invoker()), &e);
    case Entry::Kind::bearer:
      if (scheme == "bearer") {
        bool match = false; // compare against every token: no early exit on the first match
        for (const auto& token : e.secrets) match = equal_secret(credential, token) || match;
        if (match) return allow(e.invoker.value_or(Invoker{.id = "bearer", .kind = "service"}), &e);
        rejected = "bearer token not recognised";
      }
      break;
    case Entry::Kind::basic:
      if (scheme == "basic") {
        const auto decoded = base64_decode(credential, false).value_or("");
        const auto colon = decoded.find(':');
        const bool user_ok = colon != std::string::npos &&
                             equal_secret(std::string_view(decoded).substr(0, colon), e.secrets[0]);
        const bool pass_ok = colon != std::string::npos &&
                             equal_secret(std::string_view(decoded).substr(colon + 1), e.secrets[1]);
        if (user_ok && pass_ok)
          return allow(e.invoker.value_or(Invoker{.id = "basic:" + e.secrets[0], .kind = "user",
                                                  .label = e.secrets[0]}),
                       &e);
        rejected = "basic credentials not recognised";
      }
      break;
    case Entry::Kind::jwt:
      if (scheme == "bearer" && std::count(credential.begin(), credential.end(), '.') == 2) {
        std::string reason;
        if (auto claims = verify_jwt(credential, e, now, reason)) {
          auto inv = jwt_invoker(*claims, e);
          if (!inv.id.empty()) return allow(std::move(inv), &e);
          reason = "claim \"" + e.id_claim + "\" is missing";
        }
        rejected = "JWT refused: " + reason;
      }
      break;
    case Entry::Kind::exec: {
      std::string reason;
      if (auto inv = ask_exec(e, req, reason)) return allow(std::move(*inv), &e);
      if (!scheme.empty()) rejected = reason;
      break;
    }
    }
  }
  if (!rejected.empty()) return deny_401(errors::invalid_credentials(rejected), entries);
  return deny_401(errors::unauthorized(), entries);
}

BrowserAnswer check_browser(const Config& config, const Request& req) {
  BrowserAnswer answer;
  const auto& policy = config.browser;
  const auto host = req.header("Host");
  if (policy.check_host && !host_allowed(policy, host)) {
    answer.status = 403;
    answer.error = errors::host_not_allowed(host.substr(0, 200));
    return answer;
  }
  const auto origin = req.header("Origin");
  const bool preflight = req.method == "OPTIONS" && !req.header("Access-Control-Request-Method").empty();
  if (!origin.empty()) {
    if (!origin_allowed(policy, origin, host)) {
      answer.status = 403;
      answer.error = errors::origin_not_allowed(origin.substr(0, 200));
      return answer;
    }
    answer.headers = {{"Access-Control-Allow-Origin", origin},
                      {"Vary", "Origin"},
                      {"Access-Control-Expose-Headers",
                       "Location, Stream-Next-Offset, Stream-Up-To-Date, Stream-Closed, "
                       "Stream-Cursor, X-Flue-Run-Id, x-eve-session-id, x-eve-stream-tail-index"}};
  }
  if (preflight) {
    auto requested = req.header("Access-Control-Request-Headers");
    if (requested.size() > 1024) requested.clear();
    answer.status = 204;
    answer.headers.emplace_back("Access-Control-Allow-Methods", "GET, HEAD, POST, DELETE, OPTIONS"); // DELETE: /mcp sessions
    answer.headers.emplace_back("Access-Control-Allow-Headers",
                                requested.empty() ? "authorization, content-type" : requested);
    answer.headers.emplace_back("Access-Control-Max-Age", "600");
    return answer;
  }
  const bool has_body_method = req.method == "POST" || req.method == "PUT" ||
                               req.method == "PATCH" || req.method == "DELETE";
  const auto content_type = req.header("Content-Type");
  if (has_body_method && req.path.rfind("/channels/", 0) != 0 &&
      is_simple_content_type(content_type)) {
    answer.status = 415;
    answer.error = errors::simple_body_refused(content_type.substr(0, 200));
  }
  return answer;
}

} // namespace hearth::server::auth
