// Message authentication: HMAC-SHA256 under a key prepared once, constant-time comparison, hex.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "tokenward/errc.hpp"
#include "tokenward/ossl.hpp"

namespace tokenward::crypto {

inline constexpr std::size_t kSha256Bytes = 32;
using sha256_mac = std::array<unsigned char, kSha256Bytes>;

// HMAC-SHA256 keyed once: each mac() duplicates the keyed context (EVP_MAC_CTX_dup) instead of
// fetching HMAC and keying it again. The template is only read, so threads share one object.
// OpenSSL keeps its own copy of the key inside the context and wipes it when the context goes.
class hmac_sha256 {
 public:
  static result<hmac_sha256> create(std::string_view key);
  [[nodiscard]] result<sha256_mac> mac(std::string_view data) const;

 private:
  explicit hmac_sha256(ossl::mac_ctx keyed) : keyed_(std::move(keyed)) {}
  ossl::mac_ctx keyed_;
};

// Equal sizes and equal bytes, in time that depends only on the size (CRYPTO_memcmp).
[[nodiscard]] bool equal_constant_time(std::string_view a, std::string_view b) noexcept;

// Lowercase hexadecimal.
[[nodiscard]] std::string to_hex(std::string_view bytes);

// A MAC's bytes as text, for equal_constant_time and to_hex.
[[nodiscard]] inline std::string_view mac_text(const sha256_mac& m) noexcept {
  return {reinterpret_cast<const char*>(m.data()), m.size()};
}

// A stored MAC: exactly 64 lowercase hex digits into `out`; false for anything else. A stored
// hash is no secret, so this may stop at the first bad digit.
[[nodiscard]] bool mac_from_hex(std::string_view hex, sha256_mac& out) noexcept;

}  // namespace tokenward::crypto

namespace tokenward::crypto {

// HMAC over SHA-1, SHA-256 or SHA-512 (RFC 2104), keyed once like hmac_sha256: what HOTP and TOTP
// (RFC 4226, RFC 6238) need. SHA-1 is here for those two only, where HMAC-SHA-1 remains sound.
enum class mac_digest { sha1, sha256, sha512 };

inline constexpr std::size_t kMaxMacBytes = 64;

struct mac_value {
  std::array<unsigned char, kMaxMacBytes> bytes{};
  std::size_t size = 0;
};

class hmac {
 public:
  static result<hmac> create(mac_digest digest, std::string_view key);
  [[nodiscard]] result<mac_value> mac(std::string_view data) const;
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  hmac(ossl::mac_ctx keyed, std::size_t size) : keyed_(std::move(keyed)), size_(size) {}
  ossl::mac_ctx keyed_;
  std::size_t size_;
};

}  // namespace tokenward::crypto
