// JWT verification for the `jwt` auth kind (docs/auth.md): HS256 with a shared secret, RS256 and
// ES256 with public keys from a PEM file or a JWKS document, over OpenSSL 3. Internal to auth/.
#pragma once

#include "server/auth/auth.hpp"

#include <openssl/evp.h>

#include <ctime>

namespace hearth::server::auth {

/// One public key: `alg` is "RS256" (RSA) or "ES256" (EC P-256); `kid` may be empty.
struct PublicKey {
  std::string kid{};
  std::string alg{};
  std::shared_ptr<EVP_PKEY> pkey{};
};

struct KeySet {
  std::vector<PublicKey> keys{};
};

/// Every public key in a PEM file (one or more `BEGIN PUBLIC KEY` blocks). Throws
/// errors::auth_config_invalid naming `where` (unreadable, no key, unsupported type).
std::shared_ptr<const KeySet> load_pem_keys(const std::filesystem::path& file, std::string_view where);

/// The RSA (n, e) and EC P-256 (x, y) keys of a JWKS document (`{"keys": [...]}`, ≤ 64 keys);
/// other key types are skipped. Throws errors::auth_config_invalid when none is usable.
std::shared_ptr<const KeySet> load_jwks(const std::filesystem::path& file, std::string_view where);

/// Verifies `token` (compact JWS, ≤ 16 KiB) against `entry` at `now` (Unix seconds): signature
/// with an allowed algorithm and a key of the matching type (`alg: none` and mismatches refused),
/// then `exp` (required), `nbf`, `iss`, `aud` with `entry.leeway`. Returns the claims, or
/// nullopt with `reason` set to a developer-facing explanation. Never throws.
std::optional<nlohmann::json> verify_jwt(std::string_view token, const Entry& entry,
                                         std::time_t now, std::string& reason);

/// base64url (no padding needed) and standard base64 decoding; nullopt on a bad character.
std::optional<std::string> base64_decode(std::string_view text, bool url);

} // namespace hearth::server::auth
