// Authenticated and unauthenticated AES: AES-GCM (any non-empty IV) and AES-CBC with PKCS#7
// padding. Keys of 16, 24 or 32 bytes select AES-128/192/256. Authentication and padding failures
// are errc::decryption_failed with one fixed message; arguments out of range are
// errc::configuration. The field cipher builds its formats on these; the Wycheproof known-answer
// tests call them through private hooks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tokenward/errc.hpp"

namespace tokenward::crypto {

inline constexpr std::size_t kGcmTagBytes = 16;
inline constexpr std::size_t kAesBlockBytes = 16;

// The one error every failed decryption reports: the caller learns that it failed, nothing more.
error decryption_failed();

// Returns ciphertext || tag16.
result<std::string> aes_gcm_encrypt(std::string_view key, std::string_view iv, std::string_view aad,
                                    std::string_view plaintext);
result<std::string> aes_gcm_decrypt(std::string_view key, std::string_view iv, std::string_view aad,
                                    std::string_view ciphertext, std::string_view tag);
// PKCS#7 padding; the IV is 16 bytes.
result<std::string> aes_cbc_encrypt(std::string_view key, std::string_view iv, std::string_view plaintext);
result<std::string> aes_cbc_decrypt(std::string_view key, std::string_view iv, std::string_view ciphertext);

}  // namespace tokenward::crypto
