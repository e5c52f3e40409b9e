// Strict base64url (RFC 4648 §5) without padding, as JWS requires (RFC 7515 §2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tokenward/secret.hpp"

namespace tokenward::b64 {

std::string encode(std::string_view bytes);
// Decodes only the canonical form: URL-safe alphabet, no padding, no whitespace, length not 1 mod 4,
// and unused trailing bits equal to zero. Anything else yields nullopt. `spare` bytes of capacity
// are reserved past the end (a parser that reads ahead, such as simdjson, needs them).
std::optional<std::string> decode(std::string_view text, std::size_t spare = 0);
// The same rules, straight into self-wiping memory (for private key components).
std::optional<secret_bytes> decode_secret(std::string_view text);
// Appends the encoding of `bytes` to `out`.
void encode_append(std::string& out, std::string_view bytes);

}  // namespace tokenward::b64
