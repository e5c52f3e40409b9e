// libFuzzer target: arbitrary bytes as a base32 secret, as a TOTP code to verify and as a typed
// recovery code. Nothing may crash; base32 must round-trip exactly what it accepts; a normalised
// recovery code must have the canonical shape; a code is accepted only if it is the right one.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "tokenward/base32.hpp"
#include "tokenward/recovery_codes.hpp"
#include "tokenward/totp.hpp"

namespace {

std::optional<tokenward::otp::otp_key> make_key() {
  auto k = tokenward::otp::otp_key::create("12345678901234567890", tokenward::otp::mac_digest::sha1, 6);
  if (!k) return std::nullopt;
  return std::move(*k);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto key = make_key();
  static const auto hasher = [] {
    auto h = tokenward::recovery_code_hasher::create(std::string(32, 'h'));
    return h ? std::optional<tokenward::recovery_code_hasher>(std::move(*h)) : std::nullopt;
  }();
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto decoded = tokenward::b32::decode(text)) {
    if (tokenward::b32::encode(decoded->view()) != text) std::abort();  // only the canonical form
    if (decoded->size() >= tokenward::otp::kMinSecretBytes && decoded->size() <= tokenward::otp::kMaxSecretBytes) {
      (void)tokenward::otp::totp_code(decoded->view(), 59, 30, tokenward::otp::mac_digest::sha512, 8);
    }
  }

  if (key) {
    std::uint64_t step = 0;
    for (std::size_t i = 0; i < size && i < 8; ++i) step = (step << 8U) | data[i];
    auto r = key->verify(text, step, 1);
    if (!r) std::abort();  // a code, however malformed, is an answer, not an error
    if (*r) {
      auto expected = key->code(**r);
      if (!expected || *expected != text) std::abort();
    }
  }

  if (auto canonical = tokenward::recovery_code_hasher::normalize(text)) {
    if (canonical->size() != tokenward::kRecoveryCodeChars) std::abort();
    if (!tokenward::b32::decode(*canonical)) std::abort();  // 16 characters: 10 bytes, always
    if (hasher && !hasher->hash(text)) std::abort();
  }
  if (hasher) (void)hasher->find(text, {std::string(64, '0')});
  return 0;
}
