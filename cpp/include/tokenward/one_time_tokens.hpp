// Single-use tokens for accounts: verifying an address, resetting a password (both sent by
// e-mail), and a password sign-in waiting for its second factor (the mfa_token).
//
// A token is a purpose's prefix and 256 random bits from the private DRBG in base64url:
//   "twv_" + 43 characters for "verify-email", "twr_" + 43 for "reset-password", "twm_" + 43
//   for "mfa" (47 in all).
// A store keeps only the token's hash, made under a key of that purpose alone:
//   hashing key = HKDF-SHA256(secret, salt "", info "tokenward one-time token v1 " + purpose, 32)
//   token hash  = hex(HMAC-SHA256(hashing key, the whole token text, prefix included))
// Two separations keep a token of one purpose from ever serving another: the prefix is
// checked before anything else (a token of another purpose is malformed here), and even the same
// random part under another purpose hashes under another key. The shape is strict, as for API
// keys: exactly 43 characters of canonical unpadded base64url (zero spare bits).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tokenward/crypto/mac.hpp"
#include "tokenward/errc.hpp"

namespace tokenward {

inline constexpr std::size_t kOneTimeTokenRandomBytes = 32;
inline constexpr std::size_t kOneTimeTokenChars = 47;  // 4-character prefix + 43
inline constexpr std::size_t kMinOneTimeTokenSecretBytes = 32;
inline constexpr std::string_view kOneTimeTokenHashInfo = "tokenward one-time token v1 ";

struct one_time_token {
  std::string token;  // sent to the user (in a link), never stored
  std::string hash;   // 64 lowercase hex digits: what the store keeps
};

class one_time_tokens {
 public:
  // `purpose` is "verify-email", "reset-password" or "mfa" (errc::configuration otherwise); `secret` at
  // least kMinOneTimeTokenSecretBytes bytes (errc::invalid_key otherwise).
  static result<one_time_tokens> create(std::string_view secret, std::string_view purpose);

  // A new token of this purpose and its hash.
  [[nodiscard]] result<one_time_token> issue() const;
  // hex(HMAC-SHA256) of a token; errc::malformed for anything that is not a token of this purpose.
  [[nodiscard]] result<std::string> hash(std::string_view token) const;
  // Whether `token` hashes to `token_hash`, compared in constant time; false for a malformed
  // token or hash, or a token of another purpose.
  [[nodiscard]] bool matches(std::string_view token, std::string_view token_hash) const;
  // Whether `text` has the exact shape of a token of this purpose.
  [[nodiscard]] bool is_token(std::string_view text) const noexcept;

  [[nodiscard]] std::string_view purpose() const noexcept { return purpose_; }
  [[nodiscard]] std::string_view prefix() const noexcept { return prefix_; }

 private:
  one_time_tokens(crypto::hmac_sha256 mac, std::string_view purpose, std::string_view prefix)
      : mac_(std::move(mac)), purpose_(purpose), prefix_(prefix) {}

  crypto::hmac_sha256 mac_;
  std::string_view purpose_;  // both point into static tables
  std::string_view prefix_;
};

}  // namespace tokenward
