#include "tokenward/crypto/kdf.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <climits>

#include "tokenward/ossl.hpp"

namespace tokenward::crypto {
namespace {

bool fits_int(std::size_t n) noexcept { return n <= static_cast<std::size_t>(INT_MAX); }

// OSSL_PARAM octet strings must not point at null, even when empty.
void* param_ptr(std::string_view s) noexcept {
  static unsigned char empty = 0;
  return s.empty() ? static_cast<void*>(&empty) : const_cast<char*>(s.data());
}

}  // namespace

result<secret_bytes> hkdf_sha256(std::string_view ikm, std::string_view salt, std::string_view info,
                                 std::size_t size) {
  if (size == 0 || size > 255 * 32) return make_error(errc::configuration, "HKDF-SHA256 output is 1 to 8160 bytes");
  static const ossl::kdf hkdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!hkdf) return make_error(errc::internal, "HKDF unavailable");
  ossl::kdf_ctx ctx(EVP_KDF_CTX_new(hkdf.get()));
  if (!ctx) return make_error(errc::internal, "out of memory");
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, param_ptr(ikm), ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, param_ptr(salt), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, param_ptr(info), info.size()),
      OSSL_PARAM_construct_end(),
  };
  secret_bytes out(size);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    ossl::clear_errors();
    return make_error(errc::internal, "HKDF failed");
  }
  return out;
}

result<secret_bytes> pbkdf2_sha256(std::string_view password, std::string_view salt, std::uint32_t iterations,
                                   std::size_t size) {
  if (iterations == 0 || iterations > static_cast<std::uint32_t>(INT_MAX)) {
    return make_error(errc::configuration, "PBKDF2 needs 1 to 2^31-1 iterations");
  }
  if (size == 0 || !fits_int(size) || !fits_int(password.size()) || !fits_int(salt.size())) {
    return make_error(errc::configuration, "PBKDF2 sizes out of range");
  }
  secret_bytes out(size);
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        static_cast<int>(iterations), EVP_sha256(), static_cast<int>(size), out.data()) != 1) {
    ossl::clear_errors();
    return make_error(errc::internal, "PBKDF2 failed");
  }
  return out;
}

}  // namespace tokenward::crypto
