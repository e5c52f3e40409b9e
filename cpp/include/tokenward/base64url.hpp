// Strict base64url (RFC 4648 §5) without padding, as JWS requires (RFC 7515 §2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tokenward::b64 {

std::string encode(std::string_view bytes);
// Decodes only the canonical form: URL-safe alphabet, no padding, no whitespace, length not 1 mod 4,
// and unused trailing bits equal to zero. Anything else yields nullopt.
std::optional<std::string> decode(std::string_view text);
// Appends the encoding of `bytes` to `out`.
void encode_append(std::string& out, std::string_view bytes);

}  // namespace tokenward::b64
