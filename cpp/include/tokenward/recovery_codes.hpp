// Recovery codes: single-use second factors for a lost authenticator, kept like API keys.
//
// A code is 80 bits from the private DRBG in base32 (RFC 4648 alphabet A–Z 2–7), shown in four
// groups of four: "ABCD-EFGH-IJKL-MNOP". What a person types back is normalised first (letters
// upper-cased, dashes and spaces dropped), so "abcd efgh ijkl mnop" is the same code. A store
// keeps only a code's hash:
//   hashing key = HKDF-SHA256(secret, salt "", info "tokenward recovery-code hash v1", 32 bytes)
//   code hash   = hex(HMAC-SHA256(hashing key, the 16 normalised characters))
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenward/crypto/mac.hpp"
#include "tokenward/errc.hpp"

namespace tokenward {

inline constexpr std::size_t kRecoveryCodeRandomBytes = 10;  // 80 bits
inline constexpr std::size_t kRecoveryCodeChars = 16;        // base32 characters, dashes apart
inline constexpr std::size_t kRecoveryCodeMaxInput = 64;     // longer input is refused unread
inline constexpr std::size_t kMaxRecoveryCodes = 100;
inline constexpr std::size_t kMinRecoveryCodeSecretBytes = 32;
inline constexpr std::string_view kRecoveryCodeHashInfo = "tokenward recovery-code hash v1";

class recovery_code_hasher {
 public:
  // `secret` must hold at least 32 bytes (errc::invalid_key otherwise).
  static result<recovery_code_hasher> create(std::string_view secret);

  // `count` new codes (1 to 100) in their display form.
  [[nodiscard]] static result<std::vector<std::string>> new_codes(std::size_t count);
  // The 16 canonical characters of what a person typed, or nullopt when it cannot be a code.
  [[nodiscard]] static std::optional<std::string> normalize(std::string_view text);
  // hex(HMAC-SHA256) of the normalised code; errc::malformed when it cannot be a code.
  [[nodiscard]] result<std::string> hash(std::string_view code) const;
  // The index in `hashes` of the one that `code` hashes to, or nullopt. Every stored hash is
  // compared, in constant time, with no early exit; a malformed hash never matches.
  [[nodiscard]] result<std::optional<std::size_t>> find(std::string_view code,
                                                        const std::vector<std::string>& hashes) const;

 private:
  explicit recovery_code_hasher(crypto::hmac_sha256 mac) : mac_(std::move(mac)) {}
  crypto::hmac_sha256 mac_;
};

}  // namespace tokenward
