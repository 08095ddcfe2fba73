// Webhook signature checks; see signatures.hpp.
#include "triggers/signatures.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <optional>

namespace hearth::triggers {
namespace {

std::string mac(Digest digest, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(digest == Digest::sha1 ? EVP_sha1() : EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

/// A decimal Unix timestamp of at most 12 digits, or nullopt.
std::optional<std::int64_t> parse_timestamp(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  std::int64_t v = 0;
  for (const char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

Verdict fail(const char* reason) { return Verdict{.ok = false, .reason = reason}; }

bool within(std::int64_t ts, std::int64_t now_s, std::int64_t tolerance_s) {
  return ts >= now_s - tolerance_s && ts <= now_s + tolerance_s;
}

} // namespace

std::string hmac_hex(Digest digest, std::string_view key, std::string_view data) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : mac(digest, key, data)) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

std::string hmac_base64(Digest digest, std::string_view key, std::string_view data) {
  const auto raw = mac(digest, key, data);
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(raw.data()),
                                static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  const auto n = std::min(a.size(), b.size());
  const bool same = n == 0 || CRYPTO_memcmp(a.data(), b.data(), n) == 0;
  return same && a.size() == b.size();
}

Verdict verify_slack(std::string_view secret, std::string_view timestamp,
                     std::string_view signature, std::string_view body, std::int64_t now_s,
                     std::int64_t tolerance_s) {
  const auto ts = parse_timestamp(timestamp);
  if (!ts || signature.empty()) return fail("Missing or malformed Slack signature headers.");
  if (!within(*ts, now_s, tolerance_s)) return fail("The signed timestamp is outside the allowed window.");
  std::string base = "v0:";
  base.append(timestamp).append(":").append(body);
  const auto expected = "v0=" + hmac_hex(Digest::sha256, secret, base);
  if (!equal_constant_time(expected, signature)) return fail("The signature does not match.");
  return Verdict{.ok = true};
}

Verdict verify_github(std::string_view secret, std::string_view signature, std::string_view body) {
  if (signature.empty()) return fail("Missing X-Hub-Signature-256 header.");
  const auto expected = "sha256=" + hmac_hex(Digest::sha256, secret, body);
  if (!equal_constant_time(expected, signature)) return fail("The signature does not match.");
  return Verdict{.ok = true};
}

Verdict verify_generic(const GenericScheme& scheme, std::string_view secret,
                       std::string_view signature, std::string_view timestamp,
                       std::string_view body, std::int64_t now_s) {
  if (signature.empty()) return fail("Missing signature header.");
  std::string signed_bytes;
  if (scheme.timestamped) {
    const auto ts = parse_timestamp(timestamp);
    if (!ts) return fail("Missing or malformed timestamp header.");
    if (!within(*ts, now_s, scheme.tolerance_s))
      return fail("The signed timestamp is outside the allowed window.");
    signed_bytes.append(timestamp).append(".");
  }
  signed_bytes.append(body);
  const auto expected = scheme.prefix + (scheme.base64 ? hmac_base64(scheme.digest, secret, signed_bytes)
                                                       : hmac_hex(scheme.digest, secret, signed_bytes));
  if (!equal_constant_time(expected, signature)) return fail("The signature does not match.");
  return Verdict{.ok = true};
}

std::string sha256_hex(std::string_view data) {
  static const char* hex = "0123456789abcdef";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

} // namespace hearth::triggers
