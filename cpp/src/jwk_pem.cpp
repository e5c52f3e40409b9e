// PEM import: SubjectPublicKeyInfo, PKCS#8, PKCS#1, SEC1 or an X.509 certificate. The decoded
// EVP_PKEY becomes the key itself after the same checks a JWK gets (jwk_checks.cpp); nothing is
// exported and re-imported on the way. PEM export: SubjectPublicKeyInfo or unencrypted PKCS#8.
#include <openssl/decoder.h>
#include <openssl/pem.h>

#include <array>

#include "jwk_detail.hpp"

namespace tokenward {

using jwk_detail::key_error;

result<jwk> jwk::from_pkey(EVP_PKEY* owned, std::optional<alg> a) {
  ossl::pkey holder(owned);
  jwk k;
  k.alg_ = a;
  std::string crv_text;
  switch (EVP_PKEY_get_base_id(owned)) {
    case EVP_PKEY_RSA: k.type_ = key_type::rsa; break;
    case EVP_PKEY_ED25519:
      k.type_ = key_type::okp;
      k.crv_ = curve::ed25519;
      crv_text = "Ed25519";
      break;
    case EVP_PKEY_EC: {
      k.type_ = key_type::ec;
      char name[64] = {0};
      std::size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(owned, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1) {
        ossl::clear_errors();
        return key_error("could not read the EC curve");
      }
      const std::string_view g(name, len);
      if (g == "prime256v1" || g == "P-256") k.crv_ = curve::p256;
      else if (g == "secp384r1" || g == "P-384") k.crv_ = curve::p384;
      else if (g == "secp521r1" || g == "P-521") k.crv_ = curve::p521;
      else return key_error("EC curve " + std::string(g) + " is not supported");
      crv_text = std::string(curve_name(k.crv_));
      break;
    }
    default:
      return key_error("only RSA, EC (P-256/384/521) and Ed25519 keys are supported");
  }
  TW_TRY(jwk_detail::check_alg_fits(k.type_, k.crv_, a, crv_text));

  switch (k.type_) {
    case key_type::rsa: {
      auto n = ossl::get_bn(owned, OSSL_PKEY_PARAM_RSA_N);
      auto e = ossl::get_bn(owned, OSSL_PKEY_PARAM_RSA_E);
      if (!n || !e) {
        ossl::clear_errors();
        return make_error(errc::internal, "could not read the RSA key");
      }
      TW_TRY(jwk_detail::check_rsa_public(jwk_detail::bn_bytes(n.get()), jwk_detail::bn_bytes(e.get()), k.rsa_bits_));
      k.private_ = static_cast<bool>(ossl::get_secret_bn(owned, OSSL_PKEY_PARAM_RSA_D));
      if (k.private_) {
        int factors = 0;
        for (const char* param : {OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_RSA_EXPONENT1,
                                  OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1}) {
          if (ossl::get_secret_bn(owned, param)) ++factors;
        }
        if (factors != 0 && factors != 5) return key_error("RSA private JWK must have all of p, q, dp, dq, qi or none");
        if (factors == 5) TW_TRY(jwk_detail::check_pkey(owned, true, "RSA private key"));
      }
      break;
    }
    case key_type::ec:
      k.private_ = static_cast<bool>(ossl::get_secret_bn(owned, OSSL_PKEY_PARAM_PRIV_KEY));
      TW_TRY(jwk_detail::check_pkey(owned, k.private_, "EC key"));
      break;
    case key_type::okp: {
      std::size_t len = 0;
      k.private_ = EVP_PKEY_get_raw_private_key(owned, nullptr, &len) == 1 && len == 32;
      break;
    }
    case key_type::oct:
      break;
  }
  ossl::clear_errors();
  k.adopt(holder.release());
  return k;
}

result<jwk> jwk::from_pem(std::string_view pem, std::optional<alg> a) {
  if (pem.size() > 64 * 1024) return key_error("PEM input is larger than 64 KiB");
  ossl::bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return make_error(errc::internal, "out of memory");
  if (pem.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
    ossl::x509 cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    ossl::clear_errors();
    if (!cert) return key_error("could not read the X.509 certificate");
    EVP_PKEY* pub = X509_get_pubkey(cert.get());
    if (pub == nullptr) return key_error("the certificate holds no usable public key");
    return from_pkey(pub, a);
  }
  if (pem.find("ENCRYPTED") != std::string_view::npos) {
    return key_error("encrypted PEM keys are not supported; decrypt the key first");
  }
  EVP_PKEY* out = nullptr;
  OSSL_DECODER_CTX* raw_ctx = OSSL_DECODER_CTX_new_for_pkey(&out, "PEM", nullptr, nullptr, 0, nullptr, nullptr);
  std::unique_ptr<OSSL_DECODER_CTX, ossl::deleter<OSSL_DECODER_CTX_free>> dctx(raw_ctx);
  if (!dctx) return make_error(errc::internal, "OpenSSL could not create a decoder");
  const auto* data = reinterpret_cast<const unsigned char*>(pem.data());
  std::size_t len = pem.size();
  const int rc = OSSL_DECODER_from_data(dctx.get(), &data, &len);
  ossl::clear_errors();
  if (rc != 1 || out == nullptr) return key_error("could not read a PEM public or private key");
  return from_pkey(out, a);
}

result<std::string> jwk::to_pem(bool include_private) const {
  if (type_ == key_type::oct) return key_error("an HMAC (oct) key has no PEM form; export it as a JWK");
  if (include_private && !private_) return key_error("a public key has no private PEM form");
  // The private form goes through OpenSSL's secure-heap BIO, which wipes its buffer when freed.
  ossl::bio bio(BIO_new(include_private ? BIO_s_secmem() : BIO_s_mem()));
  if (!bio) return make_error(errc::internal, "out of memory");
  const int rc = include_private
                     ? PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr)
                     : PEM_write_bio_PUBKEY(bio.get(), pkey_.get());
  ossl::clear_errors();
  if (rc != 1) return make_error(errc::internal, "OpenSSL could not write the PEM");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  if (size <= 0 || data == nullptr) return make_error(errc::internal, "OpenSSL wrote an empty PEM");
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace tokenward
