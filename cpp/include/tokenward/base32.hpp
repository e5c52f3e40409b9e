// Strict base32 (RFC 4648 §6): the upper-case alphabet A–Z 2–7, without padding, as authenticator
// apps take TOTP secrets (the Key URI format drops the '=' padding).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tokenward/secret.hpp"

namespace tokenward::b32 {

// Upper case, no padding: 8 characters per 5 bytes, the last group cut to what carries data.
std::string encode(std::string_view bytes);
// Decodes only the canonical form: upper-case alphabet, no padding, no whitespace or separators,
// a length that some byte string encodes to (not 1, 3 or 6 mod 8), and unused trailing bits
// equal to zero. Anything else yields nullopt. The bytes land in self-wiping memory: a decoded
// TOTP secret is a key.
std::optional<secret_bytes> decode(std::string_view text);

}  // namespace tokenward::b32
