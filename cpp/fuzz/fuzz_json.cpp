// libFuzzer target: the strict JSON parser and the base64url decoder on their own.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tokenward/base64url.hpp"
#include "tokenward/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tokenward;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)parse_json(text, json_limits{1 << 16, 16}, "fuzz");
  if (auto bytes = b64::decode(text)) {
    // Canonical decoding must round-trip exactly.
    if (b64::encode(*bytes) != text) __builtin_trap();
  }
  return 0;
}
