// Webhook signature verification over the exact delivered bytes (seed 003, "Flue channels",
// "Verified ingress"): Slack's v0 signing secret, GitHub's X-Hub-Signature-256 and a generic HMAC.
// Every comparison is constant-time (CRYPTO_memcmp) and nothing here parses the body.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hearth::triggers {

enum class Digest { sha256, sha1 };

/// HMAC of `data` under `key` as lowercase hex (OpenSSL).
std::string hmac_hex(Digest digest, std::string_view key, std::string_view data);

/// HMAC of `data` under `key` as standard base64.
std::string hmac_base64(Digest digest, std::string_view key, std::string_view data);

/// Constant-time equality of two strings (different lengths compare unequal, still touching
/// min(length) bytes).
bool equal_constant_time(std::string_view a, std::string_view b);

/// The outcome of a check: ok, or a fixed reason (safe to return to the caller).
struct Verdict {
  bool ok = false;
  std::string reason{};
};

/// Slack: `X-Slack-Signature` must be `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` under
/// the signing secret, and `X-Slack-Request-Timestamp` within `tolerance_s` (Slack: 300) of
/// `now_s` (seconds since the epoch).
Verdict verify_slack(std::string_view secret, std::string_view timestamp,
                     std::string_view signature, std::string_view body, std::int64_t now_s,
                     std::int64_t tolerance_s = 300);

/// GitHub: `X-Hub-Signature-256` must be `sha256=` + hex HMAC-SHA256 of the body.
Verdict verify_github(std::string_view secret, std::string_view signature, std::string_view body);

/// A generic HMAC webhook (docs/triggers.md "webhook"): the header value, after an optional
/// `prefix`, must be the hex (or base64) HMAC of the body, or of `{timestamp}.{body}` when a
/// timestamp header is configured (then also within `tolerance_s` of `now_s`).
struct GenericScheme {
  Digest digest = Digest::sha256;
  std::string prefix{};        // e.g. "sha256="
  bool base64 = false;         // encoding of the signature: hex (default) or base64
  bool timestamped = false;    // sign "{timestamp}.{body}" and check the window
  std::int64_t tolerance_s = 300;
};
Verdict verify_generic(const GenericScheme& scheme, std::string_view secret,
                       std::string_view signature, std::string_view timestamp,
                       std::string_view body, std::int64_t now_s);

/// Lowercase hex SHA-256 of `data` (dedup keys over signed material).
std::string sha256_hex(std::string_view data);

} // namespace hearth::triggers
