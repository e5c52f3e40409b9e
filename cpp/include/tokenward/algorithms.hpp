// The JWS algorithms tokenward signs and verifies (RFC 7518 §3, RFC 8037 §3.1) and what each needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <openssl/evp.h>

namespace tokenward {

enum class alg : std::uint8_t { HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA };
inline constexpr std::size_t kAlgCount = 13;

enum class alg_family : std::uint8_t { hmac, rsa_pkcs1, rsa_pss, ecdsa, eddsa };
enum class key_type : std::uint8_t { rsa, ec, okp, oct };
enum class curve : std::uint8_t { none, p256, p384, p521, ed25519 };

// nullopt for unknown names and for "none", which is never an algorithm here.
std::optional<alg> alg_from_name(std::string_view name) noexcept;
std::string_view alg_name(alg a) noexcept;
alg_family family(alg a) noexcept;
// The key type an algorithm needs, and for ECDSA/EdDSA the curve.
key_type required_key_type(alg a) noexcept;
curve required_curve(alg a) noexcept;  // curve::none for HMAC and RSA
// Digest length in bytes (SHA-256/384/512); 0 for EdDSA, which hashes internally.
std::size_t digest_size(alg a) noexcept;
// Prefetched, process-lifetime digest implementation; null for EdDSA.
const EVP_MD* digest(alg a) noexcept;
// Byte length of one ECDSA scalar for the curve (32, 48, 66); 0 for others.
std::size_t ec_scalar_size(curve c) noexcept;
std::string_view curve_name(curve c) noexcept;  // JWK "crv" value
std::optional<curve> curve_from_name(std::string_view name) noexcept;

}  // namespace tokenward
