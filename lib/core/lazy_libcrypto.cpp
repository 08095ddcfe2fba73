// OpenSSL's libcrypto functions hearth calls, as trampolines into libcrypto.so.3 loaded on first
// use (lazy_library.hpp). Compiled only with HEARTH_STATIC_DEPS, which then links no libcrypto:
// the static archive put ~340 KB of relocated tables (.data.rel.ro) and a CPU-feature probe at
// load into every process, `hearth --version` included, for the few commands that sign, verify,
// hash or encrypt (JWT auth, OAuth token storage, channel signatures, workspace names). The
// declarations come from OpenSSL's headers, so a changed signature fails to compile here; add a
// function when the link names a new one as undefined. libcpp-httplib (lazy too) needs the same
// libcrypto.so.3, so the process holds one copy of OpenSSL instead of a static and a shared one.
#include "core/lazy_library.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

namespace {

constexpr const char* k_libcrypto = "libcrypto.so.3";

// The real function `name`, resolved once per trampoline.
#define HEARTH_CRYPTO(name, ...)                                                                     \
  static const auto real = reinterpret_cast<decltype(&name)>(hearth::lazy::symbol(k_libcrypto, #name)); \
  return real(__VA_ARGS__)

} // namespace

extern "C" {

// Digests, MACs, randomness.
const EVP_MD* EVP_sha1() { HEARTH_CRYPTO(EVP_sha1); }
const EVP_MD* EVP_sha256() { HEARTH_CRYPTO(EVP_sha256); }
EVP_MD* EVP_MD_fetch(OSSL_LIB_CTX* ctx, const char* algorithm, const char* properties) {
  HEARTH_CRYPTO(EVP_MD_fetch, ctx, algorithm, properties);
}
void EVP_MD_free(EVP_MD* md) { HEARTH_CRYPTO(EVP_MD_free, md); }
int EVP_Digest(const void* data, size_t count, unsigned char* md, unsigned int* size, const EVP_MD* type,
               ENGINE* impl) {
  HEARTH_CRYPTO(EVP_Digest, data, count, md, size, type, impl);
}
unsigned char* SHA256(const unsigned char* d, size_t n, unsigned char* md) { HEARTH_CRYPTO(SHA256, d, n, md); }
EVP_MD_CTX* EVP_MD_CTX_new() { HEARTH_CRYPTO(EVP_MD_CTX_new); }
void EVP_MD_CTX_free(EVP_MD_CTX* ctx) { HEARTH_CRYPTO(EVP_MD_CTX_free, ctx); }
unsigned char* HMAC(const EVP_MD* evp_md, const void* key, int key_len, const unsigned char* data, size_t data_len,
                    unsigned char* md, unsigned int* md_len) {
  HEARTH_CRYPTO(HMAC, evp_md, key, key_len, data, data_len, md, md_len);
}
int RAND_bytes(unsigned char* buf, int num) { HEARTH_CRYPTO(RAND_bytes, buf, num); }
int CRYPTO_memcmp(const void* a, const void* b, size_t len) { HEARTH_CRYPTO(CRYPTO_memcmp, a, b, len); }
void CRYPTO_free(void* ptr, const char* file, int line) { HEARTH_CRYPTO(CRYPTO_free, ptr, file, line); }
int EVP_EncodeBlock(unsigned char* t, const unsigned char* f, int n) { HEARTH_CRYPTO(EVP_EncodeBlock, t, f, n); }

// Signatures (JWT RS256/ES256, OAuth client assertions).
int EVP_DigestSignInit(EVP_MD_CTX* ctx, EVP_PKEY_CTX** pctx, const EVP_MD* type, ENGINE* e, EVP_PKEY* pkey) {
  HEARTH_CRYPTO(EVP_DigestSignInit, ctx, pctx, type, e, pkey);
}
int EVP_DigestSign(EVP_MD_CTX* ctx, unsigned char* sigret, size_t* siglen, const unsigned char* tbs, size_t tbslen) {
  HEARTH_CRYPTO(EVP_DigestSign, ctx, sigret, siglen, tbs, tbslen);
}
int EVP_DigestVerifyInit(EVP_MD_CTX* ctx, EVP_PKEY_CTX** pctx, const EVP_MD* type, ENGINE* e, EVP_PKEY* pkey) {
  HEARTH_CRYPTO(EVP_DigestVerifyInit, ctx, pctx, type, e, pkey);
}
int EVP_DigestVerify(EVP_MD_CTX* ctx, const unsigned char* sigret, size_t siglen, const unsigned char* tbs,
                     size_t tbslen) {
  HEARTH_CRYPTO(EVP_DigestVerify, ctx, sigret, siglen, tbs, tbslen);
}
ECDSA_SIG* ECDSA_SIG_new() { HEARTH_CRYPTO(ECDSA_SIG_new); }
void ECDSA_SIG_free(ECDSA_SIG* sig) { HEARTH_CRYPTO(ECDSA_SIG_free, sig); }
void ECDSA_SIG_get0(const ECDSA_SIG* sig, const BIGNUM** pr, const BIGNUM** ps) {
  HEARTH_CRYPTO(ECDSA_SIG_get0, sig, pr, ps);
}
int ECDSA_SIG_set0(ECDSA_SIG* sig, BIGNUM* r, BIGNUM* s) { HEARTH_CRYPTO(ECDSA_SIG_set0, sig, r, s); }
int i2d_ECDSA_SIG(const ECDSA_SIG* sig, unsigned char** pp) { HEARTH_CRYPTO(i2d_ECDSA_SIG, sig, pp); }
ECDSA_SIG* d2i_ECDSA_SIG(ECDSA_SIG** sig, const unsigned char** pp, long len) {
  HEARTH_CRYPTO(d2i_ECDSA_SIG, sig, pp, len);
}
BIGNUM* BN_bin2bn(const unsigned char* s, int len, BIGNUM* ret) { HEARTH_CRYPTO(BN_bin2bn, s, len, ret); }
int BN_bn2binpad(const BIGNUM* a, unsigned char* to, int tolen) { HEARTH_CRYPTO(BN_bn2binpad, a, to, tolen); }
void BN_free(BIGNUM* a) { HEARTH_CRYPTO(BN_free, a); }

// Keys: PEM files, JWKs built from parameters.
BIO* BIO_new_mem_buf(const void* buf, int len) { HEARTH_CRYPTO(BIO_new_mem_buf, buf, len); }
int BIO_free(BIO* a) { HEARTH_CRYPTO(BIO_free, a); }
EVP_PKEY* PEM_read_bio_PrivateKey(BIO* bp, EVP_PKEY** x, pem_password_cb* cb, void* u) {
  HEARTH_CRYPTO(PEM_read_bio_PrivateKey, bp, x, cb, u);
}
EVP_PKEY* PEM_read_PUBKEY(FILE* fp, EVP_PKEY** x, pem_password_cb* cb, void* u) {
  HEARTH_CRYPTO(PEM_read_PUBKEY, fp, x, cb, u);
}
void EVP_PKEY_free(EVP_PKEY* pkey) { HEARTH_CRYPTO(EVP_PKEY_free, pkey); }
int EVP_PKEY_is_a(const EVP_PKEY* pkey, const char* name) { HEARTH_CRYPTO(EVP_PKEY_is_a, pkey, name); }
int EVP_PKEY_get_base_id(const EVP_PKEY* pkey) { HEARTH_CRYPTO(EVP_PKEY_get_base_id, pkey); }
int EVP_PKEY_get_utf8_string_param(const EVP_PKEY* pkey, const char* key_name, char* str, size_t max_buf_sz,
                                   size_t* out_len) {
  HEARTH_CRYPTO(EVP_PKEY_get_utf8_string_param, pkey, key_name, str, max_buf_sz, out_len);
}
EVP_PKEY_CTX* EVP_PKEY_CTX_new_from_name(OSSL_LIB_CTX* libctx, const char* name, const char* propquery) {
  HEARTH_CRYPTO(EVP_PKEY_CTX_new_from_name, libctx, name, propquery);
}
void EVP_PKEY_CTX_free(EVP_PKEY_CTX* ctx) { HEARTH_CRYPTO(EVP_PKEY_CTX_free, ctx); }
int EVP_PKEY_fromdata_init(EVP_PKEY_CTX* ctx) { HEARTH_CRYPTO(EVP_PKEY_fromdata_init, ctx); }
int EVP_PKEY_fromdata(EVP_PKEY_CTX* ctx, EVP_PKEY** ppkey, int selection, OSSL_PARAM params[]) {
  HEARTH_CRYPTO(EVP_PKEY_fromdata, ctx, ppkey, selection, params);
}
OSSL_PARAM_BLD* OSSL_PARAM_BLD_new() { HEARTH_CRYPTO(OSSL_PARAM_BLD_new); }
void OSSL_PARAM_BLD_free(OSSL_PARAM_BLD* bld) { HEARTH_CRYPTO(OSSL_PARAM_BLD_free, bld); }
int OSSL_PARAM_BLD_push_BN(OSSL_PARAM_BLD* bld, const char* key, const BIGNUM* bn) {
  HEARTH_CRYPTO(OSSL_PARAM_BLD_push_BN, bld, key, bn);
}
int OSSL_PARAM_BLD_push_utf8_string(OSSL_PARAM_BLD* bld, const char* key, const char* buf, size_t bsize) {
  HEARTH_CRYPTO(OSSL_PARAM_BLD_push_utf8_string, bld, key, buf, bsize);
}
int OSSL_PARAM_BLD_push_octet_string(OSSL_PARAM_BLD* bld, const char* key, const void* buf, size_t bsize) {
  HEARTH_CRYPTO(OSSL_PARAM_BLD_push_octet_string, bld, key, buf, bsize);
}
OSSL_PARAM* OSSL_PARAM_BLD_to_param(OSSL_PARAM_BLD* bld) { HEARTH_CRYPTO(OSSL_PARAM_BLD_to_param, bld); }
void OSSL_PARAM_free(OSSL_PARAM* p) { HEARTH_CRYPTO(OSSL_PARAM_free, p); }

// AES-256-GCM (stored OAuth tokens).
const EVP_CIPHER* EVP_aes_256_gcm() { HEARTH_CRYPTO(EVP_aes_256_gcm); }
EVP_CIPHER_CTX* EVP_CIPHER_CTX_new() { HEARTH_CRYPTO(EVP_CIPHER_CTX_new); }
void EVP_CIPHER_CTX_free(EVP_CIPHER_CTX* c) { HEARTH_CRYPTO(EVP_CIPHER_CTX_free, c); }
int EVP_CIPHER_CTX_ctrl(EVP_CIPHER_CTX* ctx, int type, int arg, void* ptr) {
  HEARTH_CRYPTO(EVP_CIPHER_CTX_ctrl, ctx, type, arg, ptr);
}
int EVP_EncryptInit_ex(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, ENGINE* impl, const unsigned char* key,
                       const unsigned char* iv) {
  HEARTH_CRYPTO(EVP_EncryptInit_ex, ctx, cipher, impl, key, iv);
}
int EVP_EncryptUpdate(EVP_CIPHER_CTX* ctx, unsigned char* out, int* outl, const unsigned char* in, int inl) {
  HEARTH_CRYPTO(EVP_EncryptUpdate, ctx, out, outl, in, inl);
}
int EVP_EncryptFinal_ex(EVP_CIPHER_CTX* ctx, unsigned char* out, int* outl) {
  HEARTH_CRYPTO(EVP_EncryptFinal_ex, ctx, out, outl);
}
int EVP_DecryptInit_ex(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, ENGINE* impl, const unsigned char* key,
                       const unsigned char* iv) {
  HEARTH_CRYPTO(EVP_DecryptInit_ex, ctx, cipher, impl, key, iv);
}
int EVP_DecryptUpdate(EVP_CIPHER_CTX* ctx, unsigned char* out, int* outl, const unsigned char* in, int inl) {
  HEARTH_CRYPTO(EVP_DecryptUpdate, ctx, out, outl, in, inl);
}
int EVP_DecryptFinal_ex(EVP_CIPHER_CTX* ctx, unsigned char* outm, int* outl) {
  HEARTH_CRYPTO(EVP_DecryptFinal_ex, ctx, outm, outl);
}

} // extern "C"
