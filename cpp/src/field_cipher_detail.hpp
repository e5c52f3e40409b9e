// Shared by field_cipher.cpp (tw1 and the claims walk) and field_cipher_ignis.cpp; not installed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tokenward/crypto/aead.hpp"
#include "tokenward/field_cipher.hpp"
#include "tokenward/json.hpp"

namespace tokenward::field_cipher_detail {

// Constants of the formats. docs/field-encryption.md documents each one; changing any of them
// breaks every ciphertext already written.
inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kGcmNonceBytes = 12;
inline constexpr std::size_t kIgnisIvBytes = 16;
inline constexpr std::size_t kTagBytes = crypto::kGcmTagBytes;
inline constexpr std::size_t kBlockBytes = crypto::kAesBlockBytes;
inline constexpr std::size_t kMaxValueDepth = 64;  // what the binding accepts when serialising a value

// One message for every decryption failure.
inline error decrypt_failed() { return crypto::decryption_failed(); }

bool valid_utf8(std::string_view s) noexcept;
// Compact JSON text, as JSON.stringify writes it. Callers check UTF-8 first.
std::string compact(const json& j);

// A key ring's ids: 1 to kMaxKeys keys, ids of 1 to 255 bytes, unique, `primary` among them.
status check_ring(const field_cipher::secrets& keys, std::string_view primary);
std::size_t index_of(const field_cipher::secrets& keys, std::string_view id);

}  // namespace tokenward::field_cipher_detail
