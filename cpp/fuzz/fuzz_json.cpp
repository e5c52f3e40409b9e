// libFuzzer target: the two strict JSON parsers and the base64url decoder.
//
// parse_json (nlohmann, json.hpp) and json_doc (simdjson, json_doc.hpp) must agree: the same texts
// accepted, and the same value read from each. A disagreement is a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenward/base64url.hpp"
#include "tokenward/json.hpp"
#include "tokenward/json_doc.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tokenward;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const json_limits limits{1 << 16, 16};
  auto reference = parse_json(text, limits, "fuzz");
  auto fast = json_doc::parse(std::string(text), limits, "fuzz");
  if (reference.ok() != fast.ok()) __builtin_trap();
  if (reference.ok() && *reference != to_json(fast->root())) __builtin_trap();
  if (auto bytes = b64::decode(text)) {
    // Canonical decoding must round-trip exactly.
    if (b64::encode(*bytes) != text) __builtin_trap();
  }
  return 0;
}
