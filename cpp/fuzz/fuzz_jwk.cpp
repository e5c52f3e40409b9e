// libFuzzer target: arbitrary bytes as a JWK, a JWKS and a PEM key.
//
// JWK and JWKS text is imported from simdjson's DOM (falling back on parse_json when simdjson
// refuses it); a mapping from Python goes through nlohmann's DOM. Both routes must give the same
// answer for the same text: the same error, or the same keys and the same skipped entries. A
// disagreement is a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenward/json.hpp"
#include "tokenward/keyset.hpp"

namespace {

using namespace tokenward;

bool same_key(const jwk& a, const jwk& b) {
  return a.type() == b.type() && a.crv() == b.crv() && a.algorithm() == b.algorithm() && a.kid() == b.kid() &&
         a.use() == b.use() && a.key_ops() == b.key_ops() && a.is_private() == b.is_private() &&
         a.rsa_bits() == b.rsa_bits() && a.thumbprint() == b.thumbprint();
}

void check_jwk(std::string_view text) {
  auto from_text = jwk::from_json_text(text);
  auto dom = parse_json(text, json_limits{64 * 1024, 8}, "JWK");
  if (!dom) {
    if (from_text.ok() || from_text.err().detail != dom.err().detail) __builtin_trap();
    return;
  }
  auto from_dom = jwk::from_json(*dom);
  if (from_text.ok() != from_dom.ok()) __builtin_trap();
  if (!from_text.ok()) {
    if (from_text.err().code != from_dom.err().code || from_text.err().detail != from_dom.err().detail) {
      __builtin_trap();
    }
    return;
  }
  if (!same_key(*from_text, *from_dom)) __builtin_trap();
  (void)from_text->to_json(true);
  (void)from_text->public_key();
}

void check_jwks(std::string_view text) {
  const jwks_limits limits{};
  auto from_text = jwk_set::from_json_text(text, limits);
  auto dom = parse_json(text, json_limits{limits.max_bytes, 8}, "JWKS");
  if (!dom) {
    if (from_text.ok() || from_text.err().detail != dom.err().detail) __builtin_trap();
    return;
  }
  auto from_dom = jwk_set::from_json(*dom, limits);
  if (from_text.ok() != from_dom.ok()) __builtin_trap();
  if (!from_text.ok()) {
    if (from_text.err().detail != from_dom.err().detail) __builtin_trap();
    return;
  }
  if (from_text->skipped_reasons() != from_dom->skipped_reasons()) __builtin_trap();
  const auto& a = from_text->keys();
  const auto& b = from_dom->keys();
  if (a.size() != b.size()) __builtin_trap();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same_key(a[i], b[i])) __builtin_trap();
  }
  for (const auto& k : a) {
    bool ambiguous_text = false;
    bool ambiguous_dom = false;
    const jwk* found_text = from_text->find(k.kid(), ambiguous_text);
    const jwk* found_dom = from_dom->find(k.kid(), ambiguous_dom);
    if (ambiguous_text != ambiguous_dom || (found_text == nullptr) != (found_dom == nullptr)) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_jwk(text);
  check_jwks(text);
  (void)jwk::from_pem(text, std::nullopt);
  return 0;
}
