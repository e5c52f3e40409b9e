// One-time passwords: HOTP (RFC 4226) and TOTP (RFC 6238) over the HMAC core.
//
//   HOTP(K, C) = Truncate(HMAC(K, C as 8 bytes big-endian)) mod 10^digits, zero-padded
//   TOTP(K, t) = HOTP(K, floor(t / period))          (T0 = 0, t in Unix seconds)
//
// Bounds: secrets of 16 to 64 bytes (RFC 4226 §4 requires at least 128 bits and recommends 160,
// what new_secret() makes); 6 to 8 digits; a period of at least one second; HMAC-SHA1 (what
// authenticator apps assume), HMAC-SHA256 or HMAC-SHA512. Out-of-bounds secrets are
// errc::invalid_key; other out-of-bounds parameters errc::configuration.
//
// Verification compares the code with every step of the window [T - window, T + window], each in
// constant time and with no early exit, and returns the matched step: the caller remembers the
// last accepted step per user and refuses any step at or below it, so a code works once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tokenward/crypto/mac.hpp"
#include "tokenward/errc.hpp"
#include "tokenward/secret.hpp"

namespace tokenward::otp {

using crypto::mac_digest;

inline constexpr std::size_t kMinSecretBytes = 16;
inline constexpr std::size_t kMaxSecretBytes = 64;
inline constexpr std::size_t kSecretBytes = 20;  // 160 bits, RFC 4226's recommendation
inline constexpr int kMinDigits = 6;
inline constexpr int kMaxDigits = 8;
inline constexpr int kMaxWindow = 10;

// "SHA1", "SHA256" or "SHA512", exactly (the Key URI format's names); errc::configuration else.
result<mac_digest> digest_from_name(std::string_view name);
std::string_view digest_name(mac_digest d) noexcept;

// The time step of `at` (Unix seconds, >= 0): floor(at / period), period >= 1.
result<std::uint64_t> time_step(std::int64_t at, std::int64_t period);

// A secret keyed once, for any number of codes; threads share it (it is only read).
class otp_key {
 public:
  static result<otp_key> create(std::string_view secret, mac_digest digest, int digits);

  // RFC 4226 §5.3 dynamic truncation: the 31-bit value before the modulo.
  [[nodiscard]] result<std::uint32_t> truncated(std::uint64_t counter) const;
  [[nodiscard]] result<std::string> code(std::uint64_t counter) const;
  // The step in [step - window, step + window] (clipped to [0, 2^64 - 1]) whose code equals
  // `code`, the latest one if several do; nullopt if none, or if `code` is not exactly `digits`
  // ASCII digits. Every step of the window is computed and compared.
  [[nodiscard]] result<std::optional<std::uint64_t>> verify(std::string_view code, std::uint64_t step,
                                                            int window) const;
  [[nodiscard]] int digits() const noexcept { return digits_; }

 private:
  otp_key(crypto::hmac mac, int digits) : mac_(std::move(mac)), digits_(digits) {}
  crypto::hmac mac_;  // OpenSSL keeps (and wipes) its own copy of the secret
  int digits_;
};

result<std::string> hotp_code(std::string_view secret, std::uint64_t counter, mac_digest digest, int digits);
result<std::string> totp_code(std::string_view secret, std::int64_t at, std::int64_t period, mac_digest digest,
                              int digits);
result<std::optional<std::uint64_t>> totp_verify(std::string_view secret, std::string_view code, std::int64_t at,
                                                 std::int64_t period, mac_digest digest, int digits, int window);

// A new secret from the private DRBG, `size` bytes within the bounds (160 bits by default).
result<secret_bytes> new_secret(std::size_t size = kSecretBytes);

}  // namespace tokenward::otp
