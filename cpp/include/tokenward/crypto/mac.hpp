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

}  // namespace tokenward::crypto
