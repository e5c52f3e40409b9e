// Opaque credentials that are not JWTs: API keys ("vk_" + 256 random bits in base64url).
//
// A store keeps only a key's hash and its display prefix, never the key:
//   hashing key = HKDF-SHA256(secret, salt "", info "tokenward api-key hash v1", 32 bytes)
//   key hash    = hex(HMAC-SHA256(hashing key, the whole key text, "vk_" included))
//   prefix      = the key's first 12 characters ("vk_" and 9 more), to show and to look up by
// The shape is strict: "vk_" then exactly 43 characters of canonical, unpadded base64url (the
// last one carries two unused bits, which must be zero), 46 characters in all.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tokenward/crypto/mac.hpp"
#include "tokenward/errc.hpp"
#include "tokenward/secret.hpp"

namespace tokenward {

inline constexpr std::string_view kApiKeyPrefix = "vk_";
inline constexpr std::size_t kApiKeyRandomBytes = 32;
inline constexpr std::size_t kApiKeyChars = 46;         // "vk_" + 43
inline constexpr std::size_t kApiKeyPrefixChars = 12;   // "vk_" + 9, what is shown and indexed
inline constexpr std::size_t kMinApiKeySecretBytes = 32;
inline constexpr std::string_view kApiKeyHashInfo = "tokenward api-key hash v1";

struct api_key {
  std::string key;     // the credential itself: shown once, never stored
  std::string prefix;  // its first kApiKeyPrefixChars characters
};

class api_key_hasher {
 public:
  // `secret` must hold at least kMinApiKeySecretBytes bytes (errc::invalid_key otherwise).
  static result<api_key_hasher> create(std::string_view secret);

  // A new key from the private DRBG, with its prefix.
  [[nodiscard]] static result<api_key> new_key();
  // hex(HMAC-SHA256) of a key; errc::malformed for anything that is not exactly the key shape.
  [[nodiscard]] result<std::string> hash(std::string_view key) const;
  // Whether `key` hashes to `key_hash` (64 lowercase hex digits), compared in constant time.
  // False for a malformed key or hash.
  [[nodiscard]] bool matches(std::string_view key, std::string_view key_hash) const;

  [[nodiscard]] static bool is_api_key(std::string_view text) noexcept;
  // The display prefix of a key; errc::malformed for a non-key.
  [[nodiscard]] static result<std::string> prefix_of(std::string_view key);

 private:
  explicit api_key_hasher(crypto::hmac_sha256 mac) : mac_(std::move(mac)) {}
  [[nodiscard]] result<crypto::sha256_mac> raw_hash(std::string_view key) const;

  crypto::hmac_sha256 mac_;  // keyed with the derived hashing key (OpenSSL wipes its copy)
};

}  // namespace tokenward
