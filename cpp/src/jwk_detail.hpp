// Shared by the jwk_*.cpp files (JSON import/export, PEM import, generation, checks); not installed.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "tokenward/jwk.hpp"
#include "tokenward/ossl.hpp"
#include "tokenward/secret.hpp"

namespace tokenward::jwk_detail {

inline constexpr int kMaxRsaBits = 16384;

error key_error(std::string detail);

// Big-endian bytes <-> BIGNUM. Private components go through the secret_* forms, which wipe.
ossl::bignum to_bn(std::string_view bytes);
ossl::secret_bignum to_secret_bn(const secret_bytes& bytes);
std::string bn_bytes(const BIGNUM* bn, std::size_t pad_to = 0);
secret_bytes secret_bn_bytes(const BIGNUM* bn, std::size_t pad_to = 0);

// jwk_checks.cpp
// An RSA public key we accept: 2048 to 16384 bits, odd modulus, odd exponent in (1, n), no ROCA
// fingerprint. n and e are big-endian bytes (leading zeros allowed); `bits` receives the modulus
// size.
status check_rsa_public(std::string_view n, std::string_view e, int& bits);
// OpenSSL's consistency check: the public key (point on the curve...) or the whole key pair.
status check_pkey(EVP_PKEY* pkey, bool priv, const char* what);
// Whether a key's "alg" suits its type and curve; `crv_text` names the curve in the message.
status check_alg_fits(key_type type, curve crv, std::optional<alg> a, std::string_view crv_text);
// PEM, SSH or JWK text: key material that must never double as an HMAC secret.
bool looks_like_key_text(std::string_view s);

// jwk_json.cpp: the components of an OpenSSL key as JWK members (kty and key material only).
result<json> export_components(EVP_PKEY* pkey, key_type type, curve crv, bool include_private);

}  // namespace tokenward::jwk_detail
