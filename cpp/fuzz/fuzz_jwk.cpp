// libFuzzer target: arbitrary bytes as a JWK, a JWKS and a PEM key.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tokenward/keyset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tokenward;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto k = jwk::from_json_text(text)) {
    (void)k->thumbprint();
    (void)k->to_json(true);
    (void)k->public_key();
  }
  (void)jwk_set::from_json_text(text);
  (void)jwk::from_pem(text, std::nullopt);
  return 0;
}
