// Key derivation: HKDF-SHA256 (RFC 5869) and PBKDF2-HMAC-SHA256 (RFC 8018 §5.2). Derived keys come
// back in self-wiping memory. Arguments out of range are errc::configuration.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tokenward/errc.hpp"
#include "tokenward/secret.hpp"

namespace tokenward::crypto {

// `size` is 1 to 255 * 32 bytes.
result<secret_bytes> hkdf_sha256(std::string_view ikm, std::string_view salt, std::string_view info,
                                 std::size_t size);
result<secret_bytes> pbkdf2_sha256(std::string_view password, std::string_view salt, std::uint32_t iterations,
                                   std::size_t size);

}  // namespace tokenward::crypto
