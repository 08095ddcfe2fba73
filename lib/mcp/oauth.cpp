// OAuth for HTTP connections; see oauth.hpp.
#include "mcp/oauth.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "core/url.hpp"
#include "core/text.hpp"
#include "providers/http.hpp"

#include <httplib.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <ctime>
#include <fstream>
#include <map>
#include <thread>

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

/// What a failed token/registration answer says, for an error the model and /info may show:
/// RFC 6749 §5.2's `error` code and description only, never the body (a 2xx form-encoded token
/// answer, or a registration, carries access/refresh tokens and client secrets).
std::string post_problem(const json& answer) {
  if (!answer.is_object()) return "the answer is not a JSON object";
  const auto code = str(answer, "error");
  if (code.empty()) return "the answer has no access token nor OAuth error";
  auto out = text::to_utf8(code.substr(0, 100));
  const auto description = str(answer, "error_description");
  if (!description.empty()) out += " (" + text::to_utf8(description.substr(0, 200)) + ")";
  return out;
}

/// POST a form (or JSON when `json_body`) with Accept: application/json and return the JSON
/// answer; throws naming `step` (never quoting the body).
json post(const Settings& s, const std::string& url, const std::string& body, bool json_body,
          const httplib::Headers& headers, const std::string& step, std::string* oauth_error = nullptr) {
  const auto u = split(s, url);
  httplib::Client client(u.origin);
  client.set_connection_timeout(std::chrono::seconds(10));
  client.set_read_timeout(std::chrono::seconds(30));
  auto sent = headers;
  if (!sent.count("Accept")) sent.emplace("Accept", "application/json");
  const auto res = client.Post(u.path.empty() ? "/" : u.path, sent, body,
                               json_body ? "application/json" : "application/x-www-form-urlencoded");
  if (!res) throw errors::mcp_http_error(s.connection, 0, "OAuth " + step + ": " + httplib::to_string(res.error()));
  json j = parse_json_or_discarded(res->body.substr(0, k_max_document));
  if (res->status < 200 || res->status >= 300 || !j.is_object()) {
    if (oauth_error && j.is_object()) *oauth_error = str(j, "error");
    throw errors::mcp_http_error(s.connection, res->status, "OAuth " + step + " failed: " + post_problem(j));
  }
  return j;
}

std::optional<std::string> base64url_decode(std::string_view in) {
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (const char c : in) {
    int d;
    if (c >= 'A' && c <= 'Z') d = c - 'A';
    else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
    else if (c >= '0' && c <= '9') d = c - '0' + 52;
    else if (c == '-') d = 62;
    else if (c == '_') d = 63;
    else return std::nullopt;
    v = (v << 6) | static_cast<unsigned>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xFF);
    }
  }
  return out;
}

std::int64_t now_s() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string iso(std::int64_t unix_s) {
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

thread_local const Consent* t_consent = nullptr;

/// A flow waiting for its browser callback (complete_callback).
struct Waiting {
  std::string name{};
  std::string state{};
  std::mutex mutex{};
  std::condition_variable_any cv{};
  bool done = false;
  std::string code{};
  std::string error{};
};

std::mutex g_waiting_mutex;
std::map<std::string, std::shared_ptr<Waiting>> g_waiting; // token -> flow
constexpr std::size_t k_max_waiting = 64;

/// A loopback listener for the callback when no hearth server serves it (`hearth connect`):
/// 127.0.0.1 on a free port, answering GET <path>?... by complete_callback, one connection at a
/// time, each read bounded (8 KiB, 5 s). Stops when destroyed.
class LoopbackCallback {
public:
  explicit LoopbackCallback(std::string connection) : m_connection(std::move(connection)) {
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m_fd < 0) throw errors::mcp_http_error(m_connection, 0, "OAuth: no socket for the callback");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(m_fd, 4) != 0 ||
        ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(m_fd);
      throw errors::mcp_http_error(m_connection, 0, "OAuth: cannot listen on 127.0.0.1 for the callback");
    }
    m_port = ntohs(addr.sin_port);
    m_thread = std::jthread([this](std::stop_token stop) { serve(stop); });
  }
  ~LoopbackCallback() {
    m_thread.request_stop();
    if (m_thread.joinable()) m_thread.join();
    ::close(m_fd);
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(m_port); }

private:
  void serve(std::stop_token stop) {
    while (!stop.stop_requested()) {
      pollfd p{m_fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int c = ::accept4(m_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string request;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (request.find("\r\n") == std::string::npos && request.size() < 8192 &&
             std::chrono::steady_clock::now() < deadline && !stop.stop_requested()) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 100) <= 0) continue;
        char buf[2048];
        const auto n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        request.append(buf, static_cast<std::size_t>(n));
      }
      bool ok = false;
      const auto line_end = request.find("\r\n");
      if (request.rfind("GET ", 0) == 0 && line_end != std::string::npos) {
        const auto target = request.substr(4, request.find(' ', 4) - 4);
        const auto path = target.substr(0, target.find('?'));
        const std::string prefix = "/eve/v1/connections/";
        const auto slash = path.find("/callback/", prefix.size());
        if (path.rfind(prefix, 0) == 0 && slash != std::string::npos)
          ok = complete_callback(url_decode(path.substr(prefix.size(), slash - prefix.size())),
                                 url_decode(path.substr(slash + 10)), query_param(target, "state"),
                                 query_param(target, "code"), query_param(target, "error"));
      }
      const std::string body = ok ? "Authorized. You can close this window and go back to hearth.\n"
                                  : "This authorization link is unknown or was already used.\n";
      const std::string reply = std::string("HTTP/1.1 ") + (ok ? "200 OK" : "404 Not Found") +
                                "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      (void)!::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  std::string m_connection;
  int m_fd = -1;
  int m_port = 0;
  std::jthread m_thread{};
};

/// Tokens from a token endpoint answer (`previous` keeps what the answer leaves out).
Tokens tokens_of(const json& answer, Tokens previous) {
  previous.access_token = str(answer, "access_token");
  if (!str(answer, "refresh_token").empty()) previous.refresh_token = str(answer, "refresh_token");
  previous.expires_at = 0;
  if (answer.contains("expires_in") && answer["expires_in"].is_number() &&
      answer["expires_in"].get<double>() > 0 && answer["expires_in"].get<double>() < 1e9)
    previous.expires_at = now_s() + static_cast<std::int64_t>(answer["expires_in"].get<double>());
  return previous;
}

/// A private_key_jwt client assertion (RFC 7523 §2.2) for `t.client_id`, audience `t.issuer`,
/// signed with the configured PEM key (ES256: JOSE r||s; RS256: PKCS#1 v1.5).
std::string client_assertion(const Settings& s, const Tokens& t) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(s.private_key_pem.data(),
                                                                static_cast<int>(s.private_key_pem.size())),
                                                &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr, &EVP_PKEY_free);
  const bool es = s.signing_alg == "ES256";
  if (!key || EVP_PKEY_get_base_id(key.get()) != (es ? EVP_PKEY_EC : EVP_PKEY_RSA))
    throw errors::mcp_config_invalid(s.connection, "the key in auth.oauth.privateKeyEnv is not a PEM " +
                                                       std::string(es ? "EC (P-256)" : "RSA") +
                                                       " private key for " + s.signing_alg + ".");
  const auto iat = now_s();
  const json header = {{"alg", s.signing_alg}, {"typ", "JWT"}};
  const json payload = {{"iss", t.client_id}, {"sub", t.client_id}, {"aud", t.issuer},
                        {"iat", iat}, {"exp", iat + 300}, {"jti", random_token()}};
  const auto b64 = [](const std::string& text) {
    return base64url(reinterpret_cast<const unsigned char*>(text.data()), text.size());
  };
  const auto input = b64(dump_json(header)) + "." + b64(dump_json(payload));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1)
    throw errors::internal_error("signing a client assertion failed");
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    throw errors::internal_error("signing a client assertion failed");
  signature.resize(length);
  if (es) { // DER ECDSA-Sig-Value -> the 64 bytes r || s JWS wants (RFC 7518 §3.4)
    const auto* p = reinterpret_cast<const unsigned char*>(signature.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
        d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(signature.size())), &ECDSA_SIG_free);
    const BIGNUM *r = nullptr, *sv = nullptr;
    if (sig) ECDSA_SIG_get0(sig.get(), &r, &sv);
    unsigned char raw[64];
    if (!sig || BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(sv, raw + 32, 32) != 32)
      throw errors::internal_error("signing a client assertion failed");
    signature.assign(reinterpret_cast<const char*>(raw), sizeof raw);
  }
  return input + "." + b64(signature);
}

void add_client_auth(const Settings& s, const Tokens& t, std::string& form, httplib::Headers& headers) {
  if (t.auth_method == "private_key_jwt") {
    form += "&client_id=" + percent_encode(t.client_id) +
            "&client_assertion_type=" + percent_encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
            "&client_assertion=" + client_assertion(s, t);
  } else if (t.auth_method == "client_secret_basic") {
    const auto pair = percent_encode(t.client_id) + ":" + percent_encode(t.client_secret);
    headers.emplace("Authorization", "Basic " + base64(pair));
  } else {
    form += "&client_id=" + percent_encode(t.client_id);
    if (t.auth_method == "client_secret_post") form += "&client_secret=" + percent_encode(t.client_secret);
  }
}

/// The tokens held for the connection (loading them from the store once). Under state->mutex.
std::optional<Tokens>& held(const Settings& s) {
  auto& st = *s.state;
  if (!st.loaded) {
    st.loaded = true;
    if (s.tokens.load) {
      try {
        if (const auto text = s.tokens.load()) st.tokens = Tokens::from_json(parse_json_or_discarded(*text));
        if (st.tokens && st.tokens->resource != s.mcp_url) { // granted for another resource
          if (s.log) s.log("warn", "OAuth: the stored token is for another URL; it is not used");
          st.tokens.reset();
        }
      } catch (const std::exception& e) {
        if (s.log) s.log("warn", std::string("OAuth: the stored tokens could not be read: ") + e.what());
      }
    }
  }
  return st.tokens;
}

/// Holds `t` (under state->mutex, taken here: never call with it held) and stores it.
void keep(const Settings& s, const Tokens& t) {
  {
    std::lock_guard lock(s.state->mutex);
    s.state->tokens = t;
  }
  if (s.tokens.save) {
    try {
      s.tokens.save(dump_json(t.to_json()));
    } catch (const std::exception& e) {
      if (s.log) s.log("warn", std::string("OAuth: the tokens could not be stored: ") + e.what());
    }
  }
}

/// The tokens in the store now (another process may have refreshed them since they were loaded);
/// nullopt when none, unreadable or for another URL.
std::optional<Tokens> stored(const Settings& s) {
  if (!s.tokens.load) return std::nullopt;
  try {
    const auto text = s.tokens.load();
    if (!text) return std::nullopt;
    auto t = Tokens::from_json(parse_json_or_discarded(*text));
    if (t && t->resource != s.mcp_url) return std::nullopt;
    return t;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

/// Forgets the tokens whose access token is `access` (takes state->mutex: never call with it
/// held): the held ones if they still are those, the stored ones only if the store still has
/// them (another process's newer tokens stay).
void drop(const Settings& s, const std::string& access) {
  {
    std::lock_guard lock(s.state->mutex);
    if (s.state->tokens && s.state->tokens->access_token == access) s.state->tokens.reset();
  }
  if (s.tokens.forget) {
    try {
      const auto now = stored(s);
      if (!now || now->access_token == access) s.tokens.forget();
    } catch (const std::exception&) {
    }
  }
}

/// Adopts `t` (read from the store) as the held tokens without storing it again.
void adopt(const Settings& s, const Tokens& t) {
  std::lock_guard lock(s.state->mutex);
  s.state->tokens = t;
}

struct Refreshed {
  std::optional<Tokens> tokens{};
  bool refused = false; // the authorization server refused the refresh token (invalid_grant)
};

/// Refreshes `t` (RFC 6749 §6, with the resource). `refused` only when the authorization server
/// answered invalid_grant (or with no access token): a network error or a server error leaves
/// the tokens as they are.
Refreshed refresh(const Settings& s, const Tokens& t) {
  if (t.refresh_token.empty() || t.token_endpoint.empty()) return {.refused = true};
  std::string form = "grant_type=refresh_token&refresh_token=" + percent_encode(t.refresh_token);
  if (!t.resource.empty()) form += "&resource=" + percent_encode(t.resource);
  httplib::Headers headers;
  add_client_auth(s, t, form, headers);
  std::string oauth_error;
  try {
    auto next = tokens_of(post(s, t.token_endpoint, form, false, headers, "refresh", &oauth_error), t);
    if (next.access_token.empty()) return {.refused = true};
    if (s.log) s.log("info", "OAuth: refreshed the access token");
    return {.tokens = std::move(next)};
  } catch (const Error& e) {
    if (s.log) s.log("warn", "OAuth: the refresh failed: " + e.info().message);
    return {.refused = oauth_error == "invalid_grant"};
  }
}

bool expiring(const Tokens& t) { return t.expires_at > 0 && t.expires_at - 60 <= now_s(); }

/// Ends the connection's sign-in `flow` on every way out of its leader: the waiting requests get
/// `token` ("" failed) and a new flow may start.
struct FinishFlow {
  const Settings& s;
  std::shared_ptr<Flow> flow;
  std::string token{};
  ~FinishFlow() {
    {
      std::lock_guard lock(s.state->mutex);
      if (s.state->flow == flow) s.state->flow.reset();
    }
    std::lock_guard lock(flow->mutex);
    flow->done = true;
    flow->token = token;
    flow->cv.notify_all();
  }
};

/// A stop token stopped when either `a` or `b` is.
class EitherStop {
public:
  EitherStop(std::stop_token a, std::stop_token b)
      : m_a(std::move(a), [this] { m_source.request_stop(); }),
        m_b(std::move(b), [this] { m_source.request_stop(); }) {}
  std::stop_token token() const { return m_source.get_token(); }

private:
  std::stop_source m_source{};
  std::stop_callback<std::function<void()>> m_a;
  std::stop_callback<std::function<void()>> m_b;
};

} // namespace

json Tokens::to_json() const {
  return {{"access_token", access_token}, {"refresh_token", refresh_token},
          {"expires_at", expires_at},     {"token_endpoint", token_endpoint},
          {"client_id", client_id},       {"client_secret", client_secret},
          {"auth_method", auth_method},   {"resource", resource},
          {"issuer", issuer}};
}

std::optional<Tokens> Tokens::from_json(const json& j) {
  if (!j.is_object() || str(j, "access_token").empty()) return std::nullopt;
  Tokens t{.access_token = str(j, "access_token"), .refresh_token = str(j, "refresh_token"),
           .expires_at = j.contains("expires_at") && j["expires_at"].is_number_integer()
                             ? j["expires_at"].get<std::int64_t>() : 0,
           .token_endpoint = str(j, "token_endpoint"), .client_id = str(j, "client_id"),
           .client_secret = str(j, "client_secret"), .auth_method = str(j, "auth_method"),
           .resource = str(j, "resource"), .issuer = str(j, "issuer")};
  if (t.auth_method.empty()) t.auth_method = "none";
  return t;
}

const Consent* current_consent() { return t_consent; }

ConsentScope::ConsentScope(const Consent* consent) : m_previous(t_consent) { t_consent = consent; }
ConsentScope::~ConsentScope() { t_consent = m_previous; }

bool complete_callback(const std::string& name, const std::string& token, const std::string& state,
                       const std::string& code, const std::string& error) {
  if (code.empty() && error.empty()) return false; // not an answer: the one-use token stays
  std::shared_ptr<Waiting> w;
  {
    std::lock_guard lock(g_waiting_mutex);
    const auto it = g_waiting.find(token);
    if (it == g_waiting.end() || it->second->name != name || it->second->state != state) return false;
    w = it->second;
    g_waiting.erase(it); // one use
  }
  std::lock_guard lock(w->mutex);
  w->done = true;
  w->code = code.substr(0, 4096);
  w->error = error.substr(0, 200);
  w->cv.notify_all();
  return true;
}

std::array<unsigned char, 32> credentials_key(
    const std::function<std::optional<std::string>(const std::string&)>& env,
    const std::filesystem::path& key_file) {
  std::array<unsigned char, 32> key{};
  if (const auto hex = env ? env("HEARTH_CREDENTIALS_KEY") : std::nullopt; hex && !hex->empty()) {
    if (hex->size() != 64 || !std::all_of(hex->begin(), hex->end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) != 0;
        }))
      throw errors::mcp_config_invalid("(credentials)", "HEARTH_CREDENTIALS_KEY must be 64 hex digits (32 bytes).");
    for (std::size_t i = 0; i < 32; ++i)
      key[i] = static_cast<unsigned char>(std::stoi(hex->substr(i * 2, 2), nullptr, 16));
    return key;
  }
  std::error_code ec;
  std::filesystem::create_directories(key_file.parent_path(), ec);
  // First use: a new key written whole to a private temporary file, synced, then linked into
  // place; link() fails when another process won the race, whose key is then read. A reader
  // never sees a half-written key.
  if (!std::filesystem::exists(key_file, ec)) {
    auto temp = key_file;
    temp += ".tmp-" + random_token().substr(0, 16);
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
      const bool written = RAND_bytes(key.data(), static_cast<int>(key.size())) == 1 &&
                           ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
                           ::fsync(fd) == 0;
      ::close(fd);
      const bool linked = written && ::link(temp.c_str(), key_file.c_str()) == 0;
      std::filesystem::remove(temp, ec);
      if (linked) return key;
    }
  }
  const int rd = ::open(key_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (rd < 0 || ::read(rd, key.data(), key.size()) != static_cast<ssize_t>(key.size())) {
    if (rd >= 0) ::close(rd);
    throw errors::mcp_config_invalid("(credentials)", "could not read the key in " + key_file.string());
  }
  ::close(rd);
  return key;
}

std::string seal(const std::array<unsigned char, 32>& key, std::string_view plain, std::string_view aad) {
  unsigned char nonce[12];
  if (RAND_bytes(nonce, sizeof nonce) != 1) throw errors::internal_error("RAND_bytes failed");
  std::string out(reinterpret_cast<const char*>(nonce), sizeof nonce);
  std::string cipher(plain.size() + 16, '\0');
  auto* ctx = EVP_CIPHER_CTX_new();
  int len = 0, total = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), nonce) == 1 &&
            (aad.empty() || EVP_EncryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                                              static_cast<int>(aad.size())) == 1) &&
            EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(cipher.data()), &len,
                              reinterpret_cast<const unsigned char*>(plain.data()),
                              static_cast<int>(plain.size())) == 1;
  total = len;
  ok = ok && EVP_EncryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(cipher.data()) + total, &len) == 1;
  total += len;
  unsigned char tag[16];
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) throw errors::internal_error("sealing a credential failed");
  out.append(cipher.data(), static_cast<std::size_t>(total));
  out.append(reinterpret_cast<const char*>(tag), 16);
  return "v1:" + base64url(reinterpret_cast<const unsigned char*>(out.data()), out.size());
}

std::optional<std::string> unseal(const std::array<unsigned char, 32>& key, std::string_view sealed,
                                  std::string_view aad) {
  if (sealed.rfind("v1:", 0) != 0) return std::nullopt;
  const auto raw = base64url_decode(sealed.substr(3));
  if (!raw || raw->size() < 28) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw->data());
  const auto n = raw->size() - 28;
  std::string plain(n + 16, '\0');
  auto* ctx = EVP_CIPHER_CTX_new();
  int len = 0, total = 0;
  bool ok = ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), bytes) == 1 &&
            (aad.empty() || EVP_DecryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                                              static_cast<int>(aad.size())) == 1) &&
            EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(plain.data()), &len, bytes + 12,
                              static_cast<int>(n)) == 1;
  total = len;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16,
                                 const_cast<unsigned char*>(bytes + 12 + n)) == 1;
  ok = ok && EVP_DecryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(plain.data()) + total, &len) == 1;
  total += len;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) return std::nullopt;
  plain.resize(static_cast<std::size_t>(total));
  return plain;
}

std::string current_token(const Settings& s) {
  std::optional<Tokens> t;
  std::shared_ptr<Flow> flow;
  {
    std::lock_guard lock(s.state->mutex);
    const auto& h = held(s);
    if (!h) return {};
    if (!expiring(*h) || s.state->flow) return h->access_token; // a sign-in runs: never wait here
    t = h;
    flow = s.state->flow = std::make_shared<Flow>();
  }
  FinishFlow finish{s, flow}; // refreshed ahead of expiry, no lock held over the request
  if (auto fresh = stored(s); fresh && fresh->access_token != t->access_token && !expiring(*fresh)) {
    adopt(s, *fresh); // another process refreshed it meanwhile
    finish.token = fresh->access_token;
    return finish.token;
  }
  auto next = refresh(s, *t);
  if (next.tokens) {
    keep(s, *next.tokens);
    finish.token = next.tokens->access_token;
  } else if (next.refused) {
    drop(s, t->access_token);
  } else {
    finish.token = t->access_token; // the refresh could not be made: the token as it is, for now
  }
  return finish.token;
}

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

namespace {

std::string sign_in(const Settings& s, const std::string& challenge, const std::string& refused,
                    std::optional<Tokens> held_tokens, bool step_up);

} // namespace

std::string authorize(const Settings& s, const std::string& challenge, const std::string& refused) {
  const bool step_up = challenge.find("insufficient_scope") != std::string::npos;
  const Consent* consent = s.grant == "authorization_code" ? current_consent() : nullptr;
  for (int attempt = 0;; ++attempt) {
    std::shared_ptr<Flow> flow;
    bool lead = false;
    std::optional<Tokens> t;
    {
      std::lock_guard lock(s.state->mutex); // short: never across HTTP nor the consent wait
      const auto& h = held(s);
      // Another request of this connection refreshed or signed in meanwhile.
      if (h && !step_up && (refused.empty() || refused != h->access_token) && !expiring(*h))
        return h->access_token;
      if (s.state->flow) {
        flow = s.state->flow;
      } else {
        flow = s.state->flow = std::make_shared<Flow>();
        lead = true;
        t = h;
      }
    }
    if (lead) {
      FinishFlow finish{s, flow};
      finish.token = sign_in(s, challenge, refused, std::move(t), step_up);
      return finish.token;
    }
    // Another request of the connection signs in (maybe waiting for a person): wait for it with
    // this request's own stop, then use its token or, when it failed, try once more.
    const EitherStop stop(consent ? consent->stop : std::stop_token{}, s.shutdown);
    const auto bound = (consent ? consent->wait : std::chrono::milliseconds(5 * 60'000)) + std::chrono::seconds(60);
    std::unique_lock wlock(flow->mutex);
    const bool done = flow->cv.wait_for(wlock, stop.token(), bound, [&] { return flow->done; });
    if (!done) {
      if (consent && consent->stop.stop_requested()) throw errors::turn_cancelled();
      throw errors::mcp_http_error(s.connection, 401,
                                   "OAuth: another request's sign-in did not finish in time");
    }
    if (!flow->token.empty() && flow->token != refused) return flow->token;
    if (attempt >= 1)
      throw errors::mcp_http_error(s.connection, 401, "OAuth: the connection's sign-in failed");
  }
}

namespace {

std::string sign_in(const Settings& s, const std::string& challenge, const std::string& refused,
                    std::optional<Tokens> held_tokens, bool step_up) {
  // 403 insufficient_scope (step-up): the held token cannot do it; sign in for the new scope.
  if (step_up && held_tokens) {
    drop(s, held_tokens->access_token);
    held_tokens.reset();
  }
  if (auto& t = held_tokens) {
    if ((refused.empty() || refused != t->access_token) && !expiring(*t)) return t->access_token;
    // Another process may have refreshed or signed in since these were loaded: theirs first.
    if (auto fresh = stored(s); fresh && fresh->access_token != t->access_token &&
                                fresh->access_token != refused && !expiring(*fresh)) {
      adopt(s, *fresh);
      return fresh->access_token;
    }
    auto next = refresh(s, *t); // refused or expiring: the refresh token first
    if (next.tokens && next.tokens->access_token != refused) {
      keep(s, *next.tokens);
      return next.tokens->access_token;
    }
    if (refused == t->access_token || next.refused) {
      if (s.log) s.log("info", "OAuth: the server refused the stored token; it is forgotten");
      drop(s, t->access_token); // evicted (only if still the stored one): the flow below signs in again
    } else {
      std::lock_guard lock(s.state->mutex); // a failed refresh (network): the stored tokens stay
      s.state->tokens.reset();
    }
  }
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
  // RFC 9728 §3.3: metadata found at the root well-known URL was built from the origin, so it
  // may name the origin as its resource (the whole server, this endpoint included).
  bool at_root = false;
  if (!prm) {
    prm = get_json(s, resource_url.origin + "/.well-known/oauth-protected-resource");
    at_root = prm.has_value();
  }
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
    if (claimed != ours && !(at_root && claimed == normal(resource_url.origin))) // RFC 9728 §3.3
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
  // RFC 8414 §3.3: the metadata's issuer must be the issuer it was looked up for. Without
  // resource metadata (2025-03-26 servers) no issuer was named: the metadata at the MCP server's
  // origin speaks for it, and its issuer (and endpoints, checked below) must be on that origin.
  if (meta && !prm) {
    const auto named = str(*meta, "issuer");
    bool same_origin = false;
    try {
      same_origin = !named.empty() && split(s, named).origin == as.origin;
    } catch (const Error&) {
    }
    if (!same_origin)
      throw errors::mcp_http_error(s.connection, 0,
                                   "OAuth: the authorization server metadata is for another origin; "
                                   "refusing to sign in");
    issuer = named;
  } else if (meta) {
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
  if (!prm) // 2025-03-26: the MCP server's own origin authorizes; its endpoints stay there
    for (const auto* url : {&authorization_endpoint, &token_endpoint, &registration_endpoint})
      if (!url->empty() && split(s, *url).origin != as.origin)
        throw errors::mcp_http_error(s.connection, 0,
                                     "OAuth: an endpoint of the MCP server's authorization metadata is "
                                     "on another origin; refusing to sign in");
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
  // Where the browser comes back: with a person to ask (a session's call), hearth's callback
  // route (or a loopback listener of this flow) under a one-use token; else the configured or
  // default redirect URI, which an authorization server that asks nobody redirects to at once.
  const Consent* consent = s.grant == "authorization_code" ? current_consent() : nullptr;
  std::unique_ptr<LoopbackCallback> listener;
  std::string redirect_uri = s.redirect_uri, callback_token;
  if (consent && !s.redirect_configured) {
    callback_token = random_token();
    auto base = consent->callback_base;
    if (base.empty()) {
      listener = std::make_unique<LoopbackCallback>(s.connection);
      base = listener->base();
    }
    while (!base.empty() && base.back() == '/') base.pop_back();
    redirect_uri = base + "/eve/v1/connections/" + percent_encode(s.connection) + "/callback/" + callback_token;
  }
  // 3. The client: configured, else dynamic registration (RFC 7591).
  Tokens granted{.token_endpoint = token_endpoint, .client_id = s.client_id,
                 .client_secret = s.client_secret, .resource = s.mcp_url, .issuer = issuer};
  if (!s.private_key_pem.empty()) granted.auth_method = "private_key_jwt";
  // A client ID metadata document: the configured URL is the client id, no registration.
  if (granted.client_id.empty() && !s.client_metadata_url.empty() && meta &&
      meta->value("client_id_metadata_document_supported", json(false)) == true)
    granted.client_id = s.client_metadata_url;
  std::string scope = challenge_param(challenge, "scope");
  if (scope.empty() && prm && prm->contains("scopes_supported") && (*prm)["scopes_supported"].is_array())
    for (const auto& sc : (*prm)["scopes_supported"])
      if (sc.is_string()) scope += (scope.empty() ? "" : " ") + sc.get<std::string>();
  if (granted.client_id.empty()) {
    if (registration_endpoint.empty())
      throw errors::mcp_config_invalid(s.connection, "the authorization server offers no dynamic registration; "
                                                     "configure auth.oauth.clientId.");
    json request = {{"client_name", "hearth"},
                    {"redirect_uris", {redirect_uri}},
                    {"grant_types", {"authorization_code", "refresh_token"}},
                    {"response_types", {"code"}},
                    {"token_endpoint_auth_method", "none"}};
    if (!scope.empty()) request["scope"] = scope;
    const auto registered = post(s, registration_endpoint, dump_json(request), true, {}, "registration");
    granted.client_id = str(registered, "client_id");
    granted.client_secret = str(registered, "client_secret");
    if (const auto m = str(registered, "token_endpoint_auth_method"); !m.empty()) granted.auth_method = m;
    if (granted.client_id.empty()) throw errors::mcp_http_error(s.connection, 0, "OAuth registration gave no client_id");
  }
  if (!granted.client_secret.empty() && granted.auth_method == "none") {
    granted.auth_method = "client_secret_basic";
    if (meta && meta->contains("token_endpoint_auth_methods_supported") &&
        (*meta)["token_endpoint_auth_methods_supported"].is_array()) {
      const auto& methods = (*meta)["token_endpoint_auth_methods_supported"];
      if (std::find(methods.begin(), methods.end(), json("client_secret_basic")) == methods.end() &&
          std::find(methods.begin(), methods.end(), json("client_secret_post")) != methods.end())
        granted.auth_method = "client_secret_post";
    }
  }
  if (s.grant == "cross_app") { // SEP-990: ID token -> ID-JAG at the IdP -> token here
    if (granted.client_id.empty())
      throw errors::mcp_config_invalid(s.connection, "the cross_app grant needs auth.oauth.clientId.");
    secure(s.idp_token_endpoint);
    std::string exchange = "grant_type=" + percent_encode("urn:ietf:params:oauth:grant-type:token-exchange") +
                           "&requested_token_type=" + percent_encode("urn:ietf:params:oauth:token-type:id-jag") +
                           "&subject_token=" + percent_encode(s.idp_id_token) +
                           "&subject_token_type=" + percent_encode("urn:ietf:params:oauth:token-type:id_token") +
                           "&audience=" + percent_encode(issuer) + "&resource=" + percent_encode(s.mcp_url);
    if (!s.idp_client_id.empty()) exchange += "&client_id=" + percent_encode(s.idp_client_id);
    if (!scope.empty()) exchange += "&scope=" + percent_encode(scope);
    const auto jag = str(post(s, s.idp_token_endpoint, exchange, false, {}, "token exchange at the IdP"),
                         "access_token");
    if (jag.empty()) throw errors::mcp_http_error(s.connection, 0, "OAuth: the IdP's token exchange gave no ID-JAG");
    std::string form = "grant_type=" + percent_encode("urn:ietf:params:oauth:grant-type:jwt-bearer") +
                       "&assertion=" + percent_encode(jag);
    if (!scope.empty()) form += "&scope=" + percent_encode(scope);
    httplib::Headers headers;
    if (granted.auth_method == "client_secret_post") {
      add_client_auth(s, granted, form, headers);
    } else if (!granted.client_secret.empty()) {
      granted.auth_method = "client_secret_basic";
      add_client_auth(s, granted, form, headers);
    } else {
      add_client_auth(s, granted, form, headers);
    }
    granted = tokens_of(post(s, token_endpoint, form, false, headers, "JWT bearer grant"), granted);
    if (granted.access_token.empty())
      throw errors::mcp_http_error(s.connection, 0, "OAuth JWT bearer grant gave no access_token");
    if (s.log) s.log("info", "OAuth: signed in to " + issuer + " with the enterprise IdP's grant");
    keep(s, granted);
    return granted.access_token;
  }
  if (s.grant == "client_credentials") { // SEP-1046: no person, no redirect
    if (s.client_id.empty() || (s.client_secret.empty() && s.private_key_pem.empty()))
      throw errors::mcp_config_invalid(s.connection, "the client_credentials grant needs auth.oauth.clientId and "
                                                     "clientSecret (or privateKeyEnv).");
    std::string form = "grant_type=client_credentials&resource=" + percent_encode(s.mcp_url);
    if (!scope.empty()) form += "&scope=" + percent_encode(scope);
    httplib::Headers headers;
    add_client_auth(s, granted, form, headers);
    granted = tokens_of(post(s, token_endpoint, form, false, headers, "client credentials"), granted);
    if (granted.access_token.empty())
      throw errors::mcp_http_error(s.connection, 0, "OAuth client credentials gave no access_token");
    if (s.log) s.log("info", "OAuth: signed in to " + issuer + " with client credentials");
    keep(s, granted);
    return granted.access_token;
  }
  // 4. Authorization code with PKCE.
  const auto verifier = random_token(), state = random_token();
  const auto resource = s.mcp_url;
  std::string url = authorization_endpoint + (authorization_endpoint.find('?') == std::string::npos ? "?" : "&") +
                    "response_type=code&client_id=" + percent_encode(granted.client_id) +
                    "&redirect_uri=" + percent_encode(redirect_uri) + "&code_challenge=" + s256(verifier) +
                    "&code_challenge_method=S256&state=" + percent_encode(state) + "&resource=" + percent_encode(resource);
  if (!scope.empty()) url += "&scope=" + percent_encode(scope);
  std::string code;
  std::string location;
  int status = 0;
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
    status = res->status;
  }
  if (status >= 300 && status < 400 && location.rfind(redirect_uri, 0) == 0) {
    // The server asked nobody: the answer is in the redirect.
    if (query_param(location, "state") != state)
      throw errors::mcp_http_error(s.connection, 0, "OAuth: the authorization answer has the wrong state");
    code = query_param(location, "code");
    if (code.empty())
      throw errors::mcp_http_error(s.connection, 0, "OAuth authorization refused: " + query_param(location, "error"));
  } else if (consent) {
    // A person consents in a browser: authorization_required names the URL; the callback route
    // hands the code back here.
    auto waiting = std::make_shared<Waiting>();
    waiting->name = s.connection;
    waiting->state = state;
    {
      std::lock_guard glock(g_waiting_mutex);
      if (g_waiting.size() >= k_max_waiting)
        throw errors::mcp_http_error(s.connection, 0, "OAuth: too many sign-ins are waiting for a person");
      g_waiting[callback_token] = waiting;
    }
    struct Forget {
      std::string token;
      ~Forget() {
        std::lock_guard glock(g_waiting_mutex);
        g_waiting.erase(token);
      }
    } forget{callback_token};
    const auto expires = now_s() + std::chrono::duration_cast<std::chrono::seconds>(consent->wait).count();
    if (consent->required)
      consent->required({{"name", s.connection},
                         {"description", s.description.empty() ? "Sign in to " + s.connection : s.description},
                         {"authorization",
                          {{"url", url},
                           {"expiresAt", iso(expires)},
                           {"instructions", "Open the URL in a browser and allow access; hearth continues "
                                            "once the authorization server sends you back."}}}});
    const auto completed = [&](const char* outcome) {
      if (consent->completed) consent->completed({{"name", s.connection}, {"outcome", outcome}});
    };
    {
      std::unique_lock wlock(waiting->mutex);
      const EitherStop stop(consent->stop, s.shutdown); // the turn's or the pool's end
      const bool done = waiting->cv.wait_for(wlock, stop.token(), consent->wait, [&] { return waiting->done; });
      if (!done) {
        completed("timed-out");
        if (consent->stop.stop_requested()) throw errors::turn_cancelled();
        if (s.shutdown.stop_requested())
          throw errors::mcp_http_error(s.connection, 401, "OAuth: the runtime shut down during the sign-in");
        throw errors::mcp_http_error(s.connection, 401, "OAuth: nobody authorized the connection in time");
      }
      code = waiting->code;
      if (code.empty()) {
        completed(waiting->error == "access_denied" ? "declined" : "failed");
        throw errors::mcp_http_error(s.connection, 401,
                                     "OAuth authorization refused: " + text::to_utf8(waiting->error));
      }
    }
    try {
      std::string form = "grant_type=authorization_code&code=" + percent_encode(code) +
                         "&redirect_uri=" + percent_encode(redirect_uri) +
                         "&code_verifier=" + percent_encode(verifier) + "&resource=" + percent_encode(resource);
      httplib::Headers headers;
      add_client_auth(s, granted, form, headers);
      granted = tokens_of(post(s, token_endpoint, form, false, headers, "token exchange"), granted);
      if (granted.access_token.empty())
        throw errors::mcp_http_error(s.connection, 0, "OAuth token exchange gave no access_token");
    } catch (const Error&) {
      completed("failed");
      throw;
    }
    keep(s, granted);
    completed("authorized");
    if (s.log) s.log("info", "OAuth: signed in to " + issuer);
    return granted.access_token;
  } else {
    throw errors::mcp_http_error(
        s.connection, status,
        "OAuth sign-in needs a person: open " + url.substr(0, url.find("&code_challenge")) +
            "… in a browser from an agent session (`hearth connect` or the HTTP API), which "
            "asks for it");
  }
  // 5. The token.
  std::string form = "grant_type=authorization_code&code=" + percent_encode(code) +
                     "&redirect_uri=" + percent_encode(redirect_uri) + "&code_verifier=" + percent_encode(verifier) +
                     "&resource=" + percent_encode(resource);
  httplib::Headers headers;
  add_client_auth(s, granted, form, headers);
  granted = tokens_of(post(s, token_endpoint, form, false, headers, "token exchange"), granted);
  if (granted.access_token.empty())
    throw errors::mcp_http_error(s.connection, 0, "OAuth token exchange gave no access_token");
  keep(s, granted);
  if (s.log) s.log("info", "OAuth: signed in to " + issuer);
  return granted.access_token;
}

} // namespace

} // namespace hearth::mcp::oauth
