// RAII owners for every OpenSSL handle the core uses. Nothing in the core holds a raw OpenSSL
// pointer past the statement that created it.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace tokenward::ossl {

template <auto Fn>
struct deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Fn(p);
  }
};

using pkey = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY_free>>;
using pkey_ctx = std::unique_ptr<EVP_PKEY_CTX, deleter<EVP_PKEY_CTX_free>>;
using md_ctx = std::unique_ptr<EVP_MD_CTX, deleter<EVP_MD_CTX_free>>;
using md = std::unique_ptr<EVP_MD, deleter<EVP_MD_free>>;
using mac = std::unique_ptr<EVP_MAC, deleter<EVP_MAC_free>>;
using mac_ctx = std::unique_ptr<EVP_MAC_CTX, deleter<EVP_MAC_CTX_free>>;
using cipher = std::unique_ptr<EVP_CIPHER, deleter<EVP_CIPHER_free>>;
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, deleter<EVP_CIPHER_CTX_free>>;
using kdf = std::unique_ptr<EVP_KDF, deleter<EVP_KDF_free>>;
using kdf_ctx = std::unique_ptr<EVP_KDF_CTX, deleter<EVP_KDF_CTX_free>>;
using bio = std::unique_ptr<BIO, deleter<BIO_free_all>>;
using bignum = std::unique_ptr<BIGNUM, deleter<BN_free>>;
// A BIGNUM holding a private value: BN_clear_free wipes its digits before freeing them.
using secret_bignum = std::unique_ptr<BIGNUM, deleter<BN_clear_free>>;
using bn_ctx = std::unique_ptr<BN_CTX, deleter<BN_CTX_free>>;
using param_bld = std::unique_ptr<OSSL_PARAM_BLD, deleter<OSSL_PARAM_BLD_free>>;
using params = std::unique_ptr<OSSL_PARAM, deleter<OSSL_PARAM_free>>;
using x509 = std::unique_ptr<X509, deleter<X509_free>>;
using ec_group = std::unique_ptr<EC_GROUP, deleter<EC_GROUP_free>>;
using ec_point = std::unique_ptr<EC_POINT, deleter<EC_POINT_free>>;

// Reads one BIGNUM parameter of a key; null when absent.
inline bignum get_bn(const EVP_PKEY* key, const char* name) {
  BIGNUM* out = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &out) != 1) return bignum{};
  return bignum{out};
}

// The same for a private component (RSA d, p, q, ..., EC d).
inline secret_bignum get_secret_bn(const EVP_PKEY* key, const char* name) {
  BIGNUM* out = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &out) != 1) return secret_bignum{};
  return secret_bignum{out};
}

// Drains OpenSSL's thread-local error queue so a failure never leaks into the next call.
inline void clear_errors() noexcept { ERR_clear_error(); }

}  // namespace tokenward::ossl
