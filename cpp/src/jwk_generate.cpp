// Key generation: RSA (2048 to 16384 bits), EC P-256/384/521, Ed25519 and HMAC secrets from the
// private DRBG. A generated key goes through the same import as a PEM key; its kid is its thumbprint.
#include "jwk_detail.hpp"
#include "tokenward/crypto/random.hpp"

namespace tokenward {

using jwk_detail::key_error;

result<jwk> jwk::generate(alg a, int rsa_bits) {
  if (family(a) == alg_family::hmac) {
    auto secret = crypto::random_secret(digest_size(a));
    if (!secret) return secret.err();
    auto k = from_secret(secret->view(), a);
    if (!k) return k;
    return k->with_kid(k->thumbprint());
  }
  EVP_PKEY* raw = nullptr;
  switch (family(a)) {
    case alg_family::rsa_pkcs1:
    case alg_family::rsa_pss:
      if (rsa_bits < kMinRsaBits || rsa_bits > jwk_detail::kMaxRsaBits) return key_error("RSA keys must have 2048 to 16384 bits");
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(rsa_bits));
      break;
    case alg_family::ecdsa: {
      const std::string group(curve_name(required_curve(a)));
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group.c_str());
      break;
    }
    case alg_family::eddsa:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    case alg_family::hmac:
      break;
  }
  ossl::clear_errors();
  if (raw == nullptr) return make_error(errc::internal, "key generation failed");
  auto k = from_pkey(raw, a);
  if (!k) return k;
  return k->with_kid(k->thumbprint());
}

}  // namespace tokenward
