// Strict JSON for tokens and keys: RFC 8259 via nlohmann/json, plus what JOSE needs on top of it:
// a duplicate member name anywhere is an error (RFC 7515 §5.2 allows rejecting them, and we do),
// nesting depth and input size are bounded, integers must fit 64 bits, and parsing stops at the
// first violation.
#pragma once

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenward/errc.hpp"

namespace tokenward {

using json = nlohmann::json;

struct json_limits {
  std::size_t max_bytes = 1 << 20;
  std::size_t max_depth = 32;
};

// On failure the code is errc::malformed and `what` names the kind of document in the message.
result<json> parse_json(std::string_view text, const json_limits& limits, std::string_view what);

}  // namespace tokenward
