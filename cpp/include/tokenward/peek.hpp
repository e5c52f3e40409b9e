// Unverified peeks at a compact JWS, for routing only: which of several verifiers (one per issuer)
// should check a token. The verifier picked then checks everything, the peeked value included;
// nothing read here decides whether a token is good.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tokenward {

// The payload's "iss" when the token is three base64url parts whose middle one is a JSON object
// with a string "iss"; nullopt otherwise (the verifier will say what is wrong). Tokens over
// `max_bytes` are not looked at.
std::optional<std::string> unverified_issuer(std::string_view token, std::size_t max_bytes = 65536);

}  // namespace tokenward
