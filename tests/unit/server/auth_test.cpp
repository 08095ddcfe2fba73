// lib/server/auth: the route-auth walk (localDev, bearer, basic, jwt, exec), fail-closed defaults
// and the browser checks. JWT keys are generated here with OpenSSL, per test run.
#include "server/auth/auth.hpp"
#include "server/auth/jwt.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <strings.h>

#include <cstdlib>
#include <ctime>
#include <map>

using namespace hearth::server::auth;
using nlohmann::json;

namespace {

std::string b64url(std::string_view in, bool url = true) {
  const char* chars = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned int acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(chars[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(chars[(acc << (6 - bits)) & 63]);
  while (!url && out.size() % 4 != 0) out.push_back('=');
  return out;
}

using KeyPtr = std::shared_ptr<EVP_PKEY>;
KeyPtr rsa_key() { return {EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)), EVP_PKEY_free}; }
KeyPtr ec_key() { return {EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free}; }

std::string pem_of(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

std::string sign(EVP_PKEY* key, std::string_view input) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  return sig;
}

/// DER ECDSA-Sig-Value -> raw r||s (32 bytes each), as JWS ES256 wants.
std::string der_to_raw(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  std::string out(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(out.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(out.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return out;
}

std::string jwt(const json& header, const json& claims, EVP_PKEY* key, const std::string& hs = "") {
  const auto input = b64url(header.dump()) + "." + b64url(claims.dump());
  std::string sig;
  const auto alg = header.value("alg", "");
  if (alg == "HS256") {
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), hs.data(), static_cast<int>(hs.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    sig.assign(reinterpret_cast<char*>(mac), len);
  } else if (alg == "RS256") {
    sig = sign(key, input);
  } else if (alg == "ES256") {
    sig = der_to_raw(sign(key, input));
  }
  return input + "." + b64url(sig);
}

/// A request with the given headers, from loopback unless `peer` says otherwise.
struct FakeRequest {
  std::map<std::string, std::string> headers{};
  std::string method = "POST", path = "/workflows/hello", peer = "127.0.0.1";
  Protocol protocol = Protocol::flue;
  bool health = false;

  Request get() const {
    return {.method = method, .path = path, .query = "",
            .header = [this](std::string_view name) {
              for (const auto& [k, v] : headers)
                if (strcasecmp(k.c_str(), std::string(name).c_str()) == 0) return v;
              return std::string();
            },
            .peer_address = peer, .peer_loopback = is_loopback_address(peer),
            .protocol = protocol, .health = health};
  }
};

Decision walk(const Config& config, const FakeRequest& r) { return authenticate(config, r.get()); }

Config with(const json& entries, const std::filesystem::path& base = ".") {
  Config c;
  c.flue = parse_entries(entries, base, "hearth.json");
  c.eve = c.flue;
  return c;
}

long long now() { return static_cast<long long>(std::time(nullptr)); }

} // namespace

TEST_SUITE("server.auth") {

TEST_CASE("no auth configured fails closed: 401 with WWW-Authenticate, health stays public") {
  Config config;
  const auto d = walk(config, {});
  CHECK_FALSE(d.allowed);
  CHECK(d.error->info().http_status == 401);
  CHECK(d.error->info().type == "unauthorized");
  CHECK(d.www_authenticate == "Bearer");
  FakeRequest health{.method = "GET", .path = "/eve/v1/health", .protocol = Protocol::eve,
                     .health = true};
  CHECK(walk(config, health).allowed);
}

TEST_CASE("--insecure-no-auth lets everyone in as anonymous") {
  Config config;
  config.insecure_no_auth = true;
  const auto d = walk(config, {});
  REQUIRE(d.allowed);
  CHECK(d.invoker.id == "anonymous");
}

TEST_CASE("localDev accepts loopback peers only while dev runs") {
  auto config = with(json::array({{{"kind", "localDev"}}}));
  CHECK_FALSE(walk(config, {}).allowed); // not dev (hearth start)
  config.dev = true;
  const auto d = walk(config, {});
  REQUIRE(d.allowed);
  CHECK(d.invoker.id.rfind("local:", 0) == 0);
  CHECK(d.select_profiles);
  CHECK_FALSE(walk(config, {.peer = "10.1.2.3"}).allowed);
  CHECK(walk(config, {.peer = "::1"}).allowed);
  CHECK(walk(config, {.peer = "::ffff:127.0.0.1"}).allowed);
}

TEST_CASE("bearer: the right token is accepted, a wrong one is 401") {
  ::setenv("HEARTH_TEST_TOKEN", "s3cret-token", 1);
  const auto config = with(json::array(
      {{{"kind", "bearer"}, {"tokenEnv", "HEARTH_TEST_TOKEN"},
        {"invoker", {{"id", "ci"}, {"kind", "service"}, {"meta", {{"team", "ops"}}}}}}}));
  const auto ok = walk(config, {.headers = {{"Authorization", "Bearer s3cret-token"}}});
  REQUIRE(ok.allowed);
  CHECK(ok.invoker.to_json() == json{{"id", "ci"}, {"kind", "service"}, {"meta", {{"team", "ops"}}}});
  CHECK(ok.entry == "hearth.json auth[0]");
  const auto wrong = walk(config, {.headers = {{"Authorization", "Bearer s3cret-tokex"}}});
  CHECK_FALSE(wrong.allowed);
  CHECK(wrong.error->info().http_status == 401);
  CHECK(wrong.error->info().dev.find("not recognised") != std::string::npos);
  CHECK_FALSE(walk(config, {}).allowed);
  CHECK_FALSE(walk(config, {.headers = {{"Authorization", "Basic czNjcmV0LXRva2Vu"}}}).allowed);
}

TEST_CASE("an auth entry naming an unset variable is a configuration error") {
  ::unsetenv("HEARTH_TEST_UNSET");
  CHECK_THROWS_WITH_AS(with(json::array({{{"kind", "bearer"}, {"tokenEnv", "HEARTH_TEST_UNSET"}}})),
                       doctest::Contains("HEARTH_TEST_UNSET is not set"), hearth::Error);
  CHECK_THROWS_WITH_AS(with(json::array({{{"kind", "magic"}}})),
                       doctest::Contains("unknown kind"), hearth::Error);
}

TEST_CASE("basic: user and password from the environment") {
  ::setenv("HEARTH_TEST_USER", "ada", 1);
  ::setenv("HEARTH_TEST_PASS", "pw:with:colons", 1);
  const auto config = with(json::array(
      {{{"kind", "basic"}, {"userEnv", "HEARTH_TEST_USER"}, {"passwordEnv", "HEARTH_TEST_PASS"}}}));
  const auto ok = walk(config, {.headers = {{"Authorization", "Basic " + b64url("ada:pw:with:colons", false)}}});
  REQUIRE(ok.allowed);
  CHECK(ok.invoker.id == "basic:ada");
  const auto bad = walk(config, {.headers = {{"Authorization", "Basic " + b64url("ada:nope", false)}}});
  CHECK_FALSE(bad.allowed);
  CHECK(bad.www_authenticate.find("Basic") != std::string::npos);
}

TEST_CASE("the first entry that accepts wins") {
  ::setenv("HEARTH_TEST_TOKEN", "s3cret-token", 1);
  auto config = with(json::array({{{"kind", "localDev"}},
                                  {{"kind", "bearer"}, {"tokenEnv", "HEARTH_TEST_TOKEN"}}}));
  config.dev = true;
  CHECK(walk(config, {}).invoker.kind == "local");
  const auto remote = walk(config, {.headers = {{"Authorization", "Bearer s3cret-token"}},
                                    .peer = "192.0.2.1"});
  REQUIRE(remote.allowed);
  CHECK(remote.invoker.id == "bearer");
}

TEST_CASE("jwt RS256 from a PEM file: valid, expired, wrong audience, wrong key, alg none") {
  TempProject dir;
  const auto key = rsa_key();
  const auto other = rsa_key();
  dir.write("keys/pub.pem", pem_of(key.get()));
  const auto config = with(json::array({{{"kind", "jwt"}, {"publicKeyFile", "keys/pub.pem"},
                                         {"issuer", "https://issuer.test"}, {"audience", "hearth"},
                                         {"claims", {{"label", "email"}, {"meta", {"org"}}}}}}),
                           dir.root());
  const json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  const json claims = {{"sub", "user-42"}, {"email", "u@example.com"}, {"org", "acme"},
                       {"iss", "https://issuer.test"}, {"aud", "hearth"}, {"exp", now() + 600}};
  auto bearer = [](const std::string& token) {
    return FakeRequest{.headers = {{"Authorization", "Bearer " + token}}};
  };
  const auto valid = walk(config, bearer(jwt(header, claims, key.get())));
  REQUIRE(valid.allowed);
  CHECK(valid.invoker.to_json() == json{{"id", "user-42"}, {"kind", "user"},
                                        {"label", "u@example.com"}, {"meta", {{"org", "acme"}}}});
  auto expired = claims;
  expired["exp"] = now() - 3600;
  auto wrong_aud = claims;
  wrong_aud["aud"] = "someone-else";
  json none_header = {{"alg", "none"}};
  const auto none_token = b64url(none_header.dump()) + "." + b64url(claims.dump()) + ".";
  for (const auto& [name, token] :
       std::vector<std::pair<std::string, std::string>>{
           {"expired", jwt(header, expired, key.get())},
           {"wrong audience", jwt(header, wrong_aud, key.get())},
           {"wrong key", jwt(header, claims, other.get())},
           {"alg none", none_token},
           {"HS256 signed with the public key", jwt({{"alg", "HS256"}}, claims, nullptr,
                                                    pem_of(key.get()))}}) {
    CAPTURE(name);
    const auto d = walk(config, bearer(token));
    CHECK_FALSE(d.allowed);
    CHECK(d.error->info().http_status == 401);
  }
}

TEST_CASE("jwt HS256 with a secret from the environment, leeway on exp and nbf") {
  ::setenv("HEARTH_TEST_JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
  const auto config = with(json::array({{{"kind", "jwt"}, {"secretEnv", "HEARTH_TEST_JWT_SECRET"},
                                         {"leewaySeconds", 30}}}));
  const std::string secret = "0123456789abcdef0123456789abcdef";
  const json header = {{"alg", "HS256"}};
  auto token = [&](json claims) {
    return FakeRequest{.headers = {{"Authorization", "Bearer " + jwt(header, claims, nullptr, secret)}}};
  };
  CHECK(walk(config, token({{"sub", "a"}, {"exp", now() - 10}})).allowed); // within leeway
  CHECK_FALSE(walk(config, token({{"sub", "a"}, {"exp", now() - 60}})).allowed);
  CHECK_FALSE(walk(config, token({{"sub", "a"}, {"exp", now() + 60}, {"nbf", now() + 120}})).allowed);
  CHECK_FALSE(walk(config, token({{"sub", "a"}})).allowed); // exp is required
  CHECK_FALSE(walk(config, FakeRequest{.headers = {{"Authorization", "Bearer " +
      jwt(header, {{"sub", "a"}, {"exp", now() + 60}}, nullptr, "another secret")}}}).allowed);
}

TEST_CASE("jwt ES256 from a JWKS file (EC P-256 x/y)") {
  TempProject dir;
  const auto key = ec_key();
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x);
  EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y);
  std::string xb(32, '\0'), yb(32, '\0');
  BN_bn2binpad(x, reinterpret_cast<unsigned char*>(xb.data()), 32);
  BN_bn2binpad(y, reinterpret_cast<unsigned char*>(yb.data()), 32);
  BN_free(x);
  BN_free(y);
  dir.write("jwks.json", json{{"keys", {{{"kty", "EC"}, {"crv", "P-256"}, {"kid", "k1"},
                                          {"x", b64url(xb)}, {"y", b64url(yb)}}}}}.dump());
  const auto config = with(json::array({{{"kind", "jwt"}, {"jwksFile", "jwks.json"}}}), dir.root());
  const json claims = {{"sub", "svc"}, {"exp", now() + 60}};
  const auto ok = walk(config, {.headers = {{"Authorization", "Bearer " + jwt({{"alg", "ES256"},
      {"kid", "k1"}}, claims, key.get())}}});
  CHECK(ok.allowed);
  const auto other = ec_key();
  CHECK_FALSE(walk(config, {.headers = {{"Authorization", "Bearer " + jwt({{"alg", "ES256"}},
      claims, other.get())}}}).allowed);
  // RS256 is not allowed by an EC-only key set
  const auto rsa = rsa_key();
  CHECK_FALSE(walk(config, {.headers = {{"Authorization", "Bearer " + jwt({{"alg", "RS256"}},
      claims, rsa.get())}}}).allowed);
}

TEST_CASE("exec: the verifier reads the request as JSON and answers allow + invoker or deny") {
  TempProject dir;
  dir.write("verify.py",
            "#!/usr/bin/env python3\nimport json, sys\nreq = json.load(sys.stdin)\n"
            "ok = req['headers'].get('x-api-key') == 'k-1' and req['path'] == '/workflows/hello'\n"
            "print(json.dumps({'allow': True, 'invoker': {'id': 'exec:k-1', 'kind': 'key'}} if ok "
            "else {'allow': False}))\n",
            true);
  const auto config = with(json::array({{{"kind", "exec"}, {"command", {"./verify.py"}},
                                         {"timeoutMs", 5000}}}),
                           dir.root());
  const auto ok = walk(config, {.headers = {{"X-Api-Key", "k-1"}}});
  REQUIRE(ok.allowed);
  CHECK(ok.invoker.id == "exec:k-1");
  CHECK_FALSE(walk(config, {.headers = {{"X-Api-Key", "k-2"}}}).allowed);
}

TEST_CASE("browser: Host outside loopback is refused when checked") {
  Config config;
  config.browser.check_host = true;
  auto host = [&](const std::string& h) {
    return check_browser(config, FakeRequest{.headers = {{"Host", h}}}.get());
  };
  CHECK(host("evil.test").status == 403);
  CHECK(host("evil.test:3583").error->info().type == "forbidden");
  CHECK(host("localhost:3583").status == 0);
  CHECK(host("127.0.0.1:3583").status == 0);
  CHECK(host("[::1]:3583").status == 0);
  CHECK(host("app.localhost").status == 0);
  config.browser.hosts = {"agent.example.com"};
  CHECK(host("agent.example.com:443").status == 0);
}

TEST_CASE("browser: cross-origin requests need the allow-list; preflight is answered") {
  Config config;
  const FakeRequest page{.headers = {{"Host", "127.0.0.1:3583"}, {"Origin", "https://evil.test"},
                                     {"Content-Type", "application/json"}}};
  CHECK(check_browser(config, page.get()).status == 403);
  const FakeRequest same{.headers = {{"Host", "127.0.0.1:3583"}, {"Origin", "http://127.0.0.1:3583"},
                                     {"Content-Type", "application/json"}}};
  CHECK(check_browser(config, same.get()).status == 0);
  config.browser.origins = {"https://app.test"};
  FakeRequest allowed = page;
  allowed.headers["Origin"] = "https://app.test";
  const auto a = check_browser(config, allowed.get());
  CHECK(a.status == 0);
  CHECK(a.headers.at(0) == std::pair<std::string, std::string>{"Access-Control-Allow-Origin",
                                                                 "https://app.test"});
  FakeRequest preflight = allowed;
  preflight.method = "OPTIONS";
  preflight.headers["Access-Control-Request-Method"] = "POST";
  preflight.headers["Access-Control-Request-Headers"] = "authorization, content-type";
  const auto p = check_browser(config, preflight.get());
  CHECK(p.status == 204);
  CHECK_FALSE(p.error);
}

TEST_CASE("browser: text/plain and form bodies are refused on JSON routes") {
  Config config;
  for (const char* type : {"text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                           "multipart/form-data; boundary=x"}) {
    CAPTURE(type);
    const auto a = check_browser(config, FakeRequest{.headers = {{"Content-Type", type}},
                                                     .path = "/eve/v1/session"}.get());
    CHECK(a.status == 415);
  }
  CHECK(check_browser(config, FakeRequest{.headers = {{"Content-Type", "application/json"}}}.get())
            .status == 0);
}

TEST_CASE("equal_secret compares whole values") {
  CHECK(equal_secret("abc", "abc"));
  CHECK_FALSE(equal_secret("abc", "abd"));
  CHECK_FALSE(equal_secret("abc", "abcd"));
}

} // TEST_SUITE
