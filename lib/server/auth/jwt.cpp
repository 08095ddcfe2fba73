// JWT verification over OpenSSL 3; see jwt.hpp.
#include "server/auth/jwt.hpp"

#include "core/errors.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <cstdio>

namespace hearth::server::auth {
namespace {

using nlohmann::json;

constexpr std::size_t k_max_token = 16 * 1024;
constexpr std::size_t k_max_jwks_keys = 64;

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* key) { return {key, EVP_PKEY_free}; }

/// SHA-256 fetched once: EVP_sha256() makes OpenSSL 3 look the implementation up on every use.
const EVP_MD* sha256() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md != nullptr ? md : EVP_sha256();
}

/// "RS256" for RSA keys, "ES256" for P-256 EC keys, "" for anything else.
std::string alg_of(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) return "RS256";
  if (EVP_PKEY_is_a(key, "EC")) {
    std::array<char, 64> group{};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(),
                                       &len) == 1 &&
        std::string_view(group.data(), len) == "prime256v1")
      return "ES256";
  }
  return "";
}

std::unique_ptr<BIGNUM, decltype(&BN_free)> bignum(std::string_view bytes) {
  return {BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                    static_cast<int>(bytes.size()), nullptr),
          BN_free};
}

/// EVP_PKEY from JWKS members: RSA (n, e) or EC P-256 (x, y). nullptr when unusable.
std::shared_ptr<EVP_PKEY> jwk_key(const json& jwk) {
  auto member = [&jwk](const char* name) -> std::optional<std::string> {
    if (!jwk.contains(name) || !jwk[name].is_string()) return std::nullopt;
    return base64_decode(jwk[name].get<std::string>(), true);
  };
  const std::string kty = jwk.value("kty", "");
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                        OSSL_PARAM_BLD_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> n(nullptr, BN_free), e(nullptr, BN_free);
  std::string point;
  const char* type = nullptr;
  if (kty == "RSA") {
    const auto nb = member("n"), eb = member("e");
    if (!nb || !eb || nb->empty() || eb->empty()) return nullptr;
    n = bignum(*nb);
    e = bignum(*eb);
    if (!n || !e || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()))
      return nullptr;
    type = "RSA";
  } else if (kty == "EC" && jwk.value("crv", "") == "P-256") {
    const auto x = member("x"), y = member("y");
    if (!x || !y || x->size() != 32 || y->size() != 32) return nullptr;
    point = "\x04" + *x + *y;
    if (!OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                          point.size()))
      return nullptr;
    type = "EC";
  } else {
    return nullptr;
  }
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()),
                                                                 OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return nullptr;
  return own(key);
}

bool verify_hs256(std::string_view input, std::string_view sig, const Entry& entry) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  for (const auto& secret : entry.secrets) {
    if (!HMAC(sha256(), secret.data(), static_cast<int>(secret.size()),
              reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac.data(), &len))
      continue;
    if (sig.size() == len && CRYPTO_memcmp(sig.data(), mac.data(), len) == 0) return true;
  }
  return false;
}

/// ES256 signatures are raw r||s (RFC 7518 §3.4); OpenSSL verifies DER ECDSA-Sig-Value.
std::optional<std::string> es256_der(std::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  if (!sig) return std::nullopt;
  auto r = bignum(raw.substr(0, 32)), s = bignum(raw.substr(32));
  if (!r || !s || ECDSA_SIG_set0(sig, r.get(), s.get()) != 1) {
    ECDSA_SIG_free(sig);
    return std::nullopt;
  }
  (void)r.release(); // owned by sig now
  (void)s.release();
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool verify_with_key(EVP_PKEY* key, std::string_view input, std::string_view sig) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, sha256(), nullptr, key) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

bool verify_public(std::string_view alg, const std::string& kid, std::string_view input,
                   std::string_view sig, const Entry& entry) {
  if (!entry.keys) return false;
  std::string der;
  if (alg == "ES256") {
    auto converted = es256_der(sig);
    if (!converted) return false;
    der = std::move(*converted);
    sig = der;
  }
  for (const auto& key : entry.keys->keys) {
    if (key.alg != alg) continue; // the key's type decides, never the token's header alone
    if (!kid.empty() && !key.kid.empty() && key.kid != kid) continue;
    if (verify_with_key(key.pkey.get(), input, sig)) return true;
  }
  return false;
}

bool audience_matches(const json& aud, const std::vector<std::string>& wanted) {
  auto one = [&wanted](const json& v) {
    return v.is_string() &&
           std::find(wanted.begin(), wanted.end(), v.get<std::string>()) != wanted.end();
  };
  if (aud.is_array()) return std::any_of(aud.begin(), aud.end(), one);
  return one(aud);
}

} // namespace

std::optional<std::string> base64_decode(std::string_view text, bool url) {
  static const auto table = [] {
    std::array<signed char, 256> t{};
    t.fill(-1);
    const char* std_chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 62; ++i) t[static_cast<unsigned char>(std_chars[i])] = static_cast<signed char>(i);
    return t;
  }();
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned int acc = 0;
  int bits = 0;
  std::size_t i = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    int v;
    if (c == '=') break;
    if (c == (url ? '-' : '+')) v = 62;
    else if (c == (url ? '_' : '/')) v = 63;
    else v = table[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned int>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  for (; i < text.size(); ++i)
    if (text[i] != '=') return std::nullopt;
  return out;
}

std::shared_ptr<const KeySet> load_pem_keys(const std::filesystem::path& file, std::string_view where) {
  auto set = std::make_shared<KeySet>();
  FILE* fp = std::fopen(file.c_str(), "r");
  if (!fp) throw errors::auth_config_invalid(where, "cannot read " + file.string());
  while (EVP_PKEY* key = PEM_read_PUBKEY(fp, nullptr, nullptr, nullptr)) {
    auto owned = own(key);
    const auto alg = alg_of(key);
    if (alg.empty()) {
      std::fclose(fp);
      throw errors::auth_config_invalid(where, file.string() + ": only RSA and EC P-256 public "
                                                               "keys are supported");
    }
    set->keys.push_back({.kid = "", .alg = alg, .pkey = owned});
  }
  std::fclose(fp);
  if (set->keys.empty())
    throw errors::auth_config_invalid(where, file.string() + ": no PEM public key found");
  return set;
}

std::shared_ptr<const KeySet> load_jwks(const std::filesystem::path& file, std::string_view where) {
  std::string text;
  try {
    text = fs::read_file(file);
  } catch (const Error&) {
    throw errors::auth_config_invalid(where, "cannot read " + file.string());
  }
  const auto doc = hearth::parse_json_or_discarded(text);
  if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array())
    throw errors::auth_config_invalid(where, file.string() + ": expected {\"keys\": [...]}");
  auto set = std::make_shared<KeySet>();
  for (const auto& jwk : doc["keys"]) {
    if (set->keys.size() >= k_max_jwks_keys || !jwk.is_object()) continue;
    if (jwk.contains("use") && jwk["use"] != "sig") continue;
    auto key = jwk_key(jwk);
    if (!key) continue;
    const auto alg = alg_of(key.get());
    if (alg.empty() || (jwk.contains("alg") && jwk["alg"] != alg)) continue;
    set->keys.push_back({.kid = jwk.value("kid", ""), .alg = alg, .pkey = key});
  }
  if (set->keys.empty())
    throw errors::auth_config_invalid(where, file.string() + ": no usable RS256/ES256 key");
  return set;
}

std::optional<json> verify_jwt(std::string_view token, const Entry& entry, std::time_t now,
                               std::string& reason) {
  if (token.size() > k_max_token) return reason = "token too long", std::nullopt;
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return reason = "not a compact JWS", std::nullopt;
  const auto header_text = base64_decode(token.substr(0, dot1), true);
  const auto claims_text = base64_decode(token.substr(dot1 + 1, dot2 - dot1 - 1), true);
  const auto sig = base64_decode(token.substr(dot2 + 1), true);
  if (!header_text || !claims_text || !sig) return reason = "bad base64url", std::nullopt;
  const auto header = hearth::parse_json_or_discarded(*header_text);
  if (!header.is_object() || !header.contains("alg") || !header["alg"].is_string())
    return reason = "bad JOSE header", std::nullopt;
  const auto alg = header["alg"].get<std::string>();
  if (std::find(entry.algorithms.begin(), entry.algorithms.end(), alg) == entry.algorithms.end())
    return reason = "algorithm \"" + alg + "\" is not allowed", std::nullopt;
  const auto input = token.substr(0, dot2);
  const std::string kid = header.contains("kid") && header["kid"].is_string() ? header.value("kid", "") : "";
  const bool ok = alg == "HS256" ? verify_hs256(input, *sig, entry)
                                 : verify_public(alg, kid, input, *sig, entry);
  if (!ok) return reason = "bad signature", std::nullopt;
  auto claims = hearth::parse_json_or_discarded(*claims_text);
  if (!claims.is_object()) return reason = "claims are not an object", std::nullopt;
  const auto leeway = static_cast<double>(entry.leeway.count());
  const auto t = static_cast<double>(now);
  if (!claims.contains("exp") || !claims["exp"].is_number())
    return reason = "missing exp", std::nullopt;
  if (claims["exp"].get<double>() + leeway <= t) return reason = "expired", std::nullopt;
  if (claims.contains("nbf") && (!claims["nbf"].is_number() || claims["nbf"].get<double>() - leeway > t))
    return reason = "not yet valid (nbf)", std::nullopt;
  if (!entry.issuer.empty() && claims.value("iss", json()) != entry.issuer)
    return reason = "wrong issuer", std::nullopt;
  if (!entry.audiences.empty() && (!claims.contains("aud") || !audience_matches(claims["aud"], entry.audiences)))
    return reason = "wrong audience", std::nullopt;
  return claims;
}

} // namespace hearth::server::auth
