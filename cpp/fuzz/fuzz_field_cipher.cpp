// libFuzzer target: arbitrary bytes as a field ciphertext and as an encrypted claims object, for
// the tw1 scheme and both Ignis schemes. Decryption must fail cleanly, never crash or leak.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "tokenward/field_cipher.hpp"

namespace {

using tokenward::field_cipher;

std::optional<field_cipher> make(int which) {
  const field_cipher::secrets keys{{"k1", std::string(40, 'a')}, {"k2", std::string(40, 'b')}};
  auto c = which == 0   ? field_cipher::create(keys, "k1")
           : which == 1 ? field_cipher::ignis_legacy("my-app-secret")
                        : field_cipher::ignis_v3({{"0", "my-app-secret"}}, "0", true);
  if (!c) return std::nullopt;
  return std::move(*c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto tw1 = make(0);
  static const auto legacy = make(1);
  static const auto v3 = make(2);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto* c : {&tw1, &legacy, &v3}) {
    if (!c->has_value()) continue;
    (void)(*c)->decrypt(text);
    auto j = tokenward::parse_json(text, tokenward::json_limits{1 << 16, 16}, "fuzz");
    if (j) (void)(*c)->decrypt_claims(*j);
  }
  return 0;
}
