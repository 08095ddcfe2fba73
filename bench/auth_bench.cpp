// bench_auth: the per-request cost of the route-auth walk (lib/server/auth) for a bearer token
// and an RS256 JWT (key generated here), plus the browser checks. Prints µs per request.
#include "server/auth/auth.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <strings.h>
#include <unistd.h>

using namespace hearth::server::auth;
using nlohmann::json;

namespace {

std::string b64url(std::string_view in) {
  static const char* chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
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
  return out;
}

/// Runs `walk` `n` times and returns µs per call.
template <class F> double per_call(int n, F&& walk) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) walk();
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::micro>(t1 - t0).count() / n;
}

} // namespace

int main() {
  const auto dir = std::filesystem::temp_directory_path() / ("hearth-auth-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  FILE* f = std::fopen((dir / "pub.pem").c_str(), "w");
  PEM_write_PUBKEY(f, key);
  std::fclose(f);
  ::setenv("BENCH_TOKEN", "tok-0123456789abcdef0123456789abcdef", 1);
  Config config;
  config.flue = parse_entries(
      json::array({{{"kind", "bearer"}, {"tokenEnv", "BENCH_TOKEN"}},
                   {{"kind", "jwt"}, {"publicKeyFile", "pub.pem"}, {"audience", "hearth"}}}),
      dir, "bench");
  config.browser.check_host = true;

  const json claims = {{"sub", "u1"}, {"aud", "hearth"}, {"exp", std::time(nullptr) + 3600}};
  const auto input = b64url(json{{"alg", "RS256"}, {"typ", "JWT"}}.dump()) + "." + b64url(claims.dump());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EVP_MD_CTX_free(ctx);
  const auto jwt = input + "." + b64url(sig);

  auto request = [](std::map<std::string, std::string>& headers) {
    return Request{.method = "POST", .path = "/workflows/hello",
                   .header = [&headers](std::string_view name) {
                     for (const auto& [k, v] : headers)
                       if (strcasecmp(k.c_str(), std::string(name).c_str()) == 0) return v;
                     return std::string();
                   },
                   .peer_address = "127.0.0.1", .peer_loopback = true};
  };
  std::map<std::string, std::string> bearer_headers = {
      {"Host", "127.0.0.1:3000"}, {"Content-Type", "application/json"},
      {"Authorization", "Bearer tok-0123456789abcdef0123456789abcdef"}};
  std::map<std::string, std::string> jwt_headers = {
      {"Host", "127.0.0.1:3000"}, {"Content-Type", "application/json"}, {"Authorization", "Bearer " + jwt}};
  const auto bearer_req = request(bearer_headers);
  const auto jwt_req = request(jwt_headers);
  if (!authenticate(config, bearer_req).allowed || !authenticate(config, jwt_req).allowed) {
    std::fprintf(stderr, "bench_auth: the walk refused the benchmark credentials\n");
    return 1;
  }
  const double bearer = per_call(200000, [&] {
    check_browser(config, bearer_req);
    return authenticate(config, bearer_req);
  });
  const double rs256 = per_call(5000, [&] {
    check_browser(config, jwt_req);
    return authenticate(config, jwt_req);
  });
  // The floor: OpenSSL's RSA-2048 verify of the same token alone, for comparison.
  const double verify_only = per_call(5000, [&] {
    EVP_MD_CTX* v = EVP_MD_CTX_new();
    EVP_DigestVerifyInit(v, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestVerify(v, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                     reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(v);
  });
  std::printf("auth walk + browser checks per request: bearer %.2f us (target <= 20), "
              "RS256 JWT %.2f us (target <= 100; OpenSSL verify alone %.2f us)\n",
              bearer, rs256, verify_only);
  EVP_PKEY_free(key);
  std::filesystem::remove_all(dir);
  return 0;
}
