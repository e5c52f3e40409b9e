// The members of one JWK object, read once from either JSON representation: nlohmann's DOM (a
// mapping given by Python, json.hpp) or simdjson's (JWK and JWKS text, json_doc.hpp). jwk's import
// (jwk_json.cpp) reads only these, so both representations are held to the same checks in the
// same order, with the same messages. Used by jwk_json.cpp and keyset.cpp; not installed.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "tokenward/json.hpp"
#include "tokenward/json_doc.hpp"

namespace tokenward::jwk_detail {

struct member {
  enum class kind : std::uint8_t { absent, string, other };
  kind k = kind::absent;
  std::string_view text;  // kind::string only: a view into the DOM it was read from

  [[nodiscard]] bool present() const noexcept { return k != kind::absent; }
};

// Views into the DOM they were read from: valid while it lives. Members no JWK rule reads are
// not kept.
struct jwk_members {
  bool is_object = false;
  member kty, kid, use, alg, crv;
  member k, n, e, d, p, q, dp, dq, qi, x, y;
  bool has_oth = false;
  // key_ops: whether present and an array; its string elements up to the first one that is not a
  // string, and whether such an element follows them.
  bool has_key_ops = false;
  bool key_ops_is_array = false;
  bool key_ops_non_string = false;
  std::vector<std::string_view> key_ops;
};

jwk_members read_members(const json& j);
jwk_members read_members(simdjson::dom::element e);

// JSON text for a JWK or a JWKS, parsed by simdjson when it accepts the text. When it refuses, the
// text goes through parse_json (nlohmann) instead, whose answer is the one given: the error it
// reports, or (were the two parsers ever to disagree) its DOM. So a text is refused exactly as
// parse_json refuses it. cpp/fuzz/fuzz_json.cpp checks that the two accept the same texts and read
// the same values; cpp/fuzz/fuzz_jwk.cpp that both routes import the same keys.
struct parsed_text {
  std::optional<json_doc> doc;  // simdjson accepted the text
  json dom;                     // otherwise: what parse_json read
};
result<parsed_text> parse_key_text(std::string_view text, const json_limits& limits, std::string_view what);

}  // namespace tokenward::jwk_detail
