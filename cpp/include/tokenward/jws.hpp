// JWS compact serialization (RFC 7515 §7.1): signing, verification and strict parsing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tokenward/algorithms.hpp"
#include "tokenward/errc.hpp"
#include "tokenward/json.hpp"
#include "tokenward/jwk.hpp"

namespace tokenward::jws {

struct limits {
  std::size_t max_token_bytes = 64 * 1024;
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_depth = 16;
};

// Signature primitives over the JWS signing input. ECDSA signatures are the fixed-length R||S form
// of RFC 7518 §3.4. Neither looks at "use"/"key_ops": key selection does that.
result<std::string> sign(alg a, const jwk& key, std::string_view input);
status verify(alg a, const jwk& key, std::string_view input, std::string_view signature);
// Plain HMAC with no key-length policy, for known-answer tests of the primitive.
result<std::string> hmac(alg a, std::string_view key, std::string_view data);

struct parsed {
  std::string_view signing_input;  // views into the token passed to parse()
  std::string_view payload_b64;
  std::string payload;  // with kJsonPadding (json_doc.hpp) bytes of spare capacity
  std::string signature;
  alg algorithm = alg::HS256;
  std::string kid;
  bool has_kid = false;
  std::string typ;
  bool has_typ = false;
};

// Splits and decodes a compact JWS and checks its header; the signature is not verified here.
result<parsed> parse(std::string_view token, const limits& lim);
// Decodes the header only (for inspection, no verification).
result<json> header_of(std::string_view token, const limits& lim);

// Builds a compact JWS: `header` must already hold "alg" (and whatever else the caller wants).
result<std::string> encode(const json& header, std::string_view payload, alg a, const jwk& key);

}  // namespace tokenward::jws
