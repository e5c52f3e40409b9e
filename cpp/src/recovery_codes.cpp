#include "tokenward/recovery_codes.hpp"

#include <cstdint>

#include "tokenward/base32.hpp"
#include "tokenward/crypto/kdf.hpp"
#include "tokenward/crypto/random.hpp"

namespace tokenward {
namespace {

constexpr std::size_t kGroupChars = 4;

bool is_base32_char(char c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'); }

error not_a_code() {
  return make_error(errc::malformed, "not a recovery code (expected 16 characters A-Z and 2-7, dashes and spaces aside)");
}

}  // namespace

result<recovery_code_hasher> recovery_code_hasher::create(std::string_view secret) {
  if (secret.size() < kMinRecoveryCodeSecretBytes) {
    return make_error(errc::invalid_key, "the recovery-code secret must be at least " +
                                             std::to_string(kMinRecoveryCodeSecretBytes) + " bytes long (it has " +
                                             std::to_string(secret.size()) + ")");
  }
  auto derived = crypto::hkdf_sha256(secret, {}, kRecoveryCodeHashInfo, crypto::kSha256Bytes);
  if (!derived) return derived.err();
  auto mac = crypto::hmac_sha256::create(derived->view());
  if (!mac) return mac.err();
  return recovery_code_hasher(std::move(*mac));
}

result<std::vector<std::string>> recovery_code_hasher::new_codes(std::size_t count) {
  if (count < 1 || count > kMaxRecoveryCodes) {
    return make_error(errc::configuration, "the number of recovery codes must be 1 to " + std::to_string(kMaxRecoveryCodes));
  }
  std::vector<std::string> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto raw = crypto::random_secret(kRecoveryCodeRandomBytes);
    if (!raw) return raw.err();
    const std::string plain = b32::encode(raw->view());
    if (plain.size() != kRecoveryCodeChars) return make_error(errc::internal, "recovery code of the wrong length");
    std::string shown;
    shown.reserve(kRecoveryCodeChars + kRecoveryCodeChars / kGroupChars - 1);
    for (std::size_t j = 0; j < plain.size(); ++j) {
      if (j != 0 && j % kGroupChars == 0) shown.push_back('-');
      shown.push_back(plain[j]);
    }
    out.push_back(std::move(shown));
  }
  return out;
}

std::optional<std::string> recovery_code_hasher::normalize(std::string_view text) {
  if (text.size() > kRecoveryCodeMaxInput) return std::nullopt;
  std::string out;
  out.reserve(kRecoveryCodeChars);
  for (char c : text) {
    if (c == '-' || c == ' ') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!is_base32_char(c) || out.size() == kRecoveryCodeChars) return std::nullopt;
    out.push_back(c);
  }
  if (out.size() != kRecoveryCodeChars) return std::nullopt;
  return out;
}

result<std::string> recovery_code_hasher::hash(std::string_view code) const {
  auto canonical = normalize(code);
  if (!canonical) return not_a_code();
  auto m = mac_.mac(*canonical);
  if (!m) return m.err();
  return crypto::to_hex(crypto::mac_text(*m));
}

result<std::optional<std::size_t>> recovery_code_hasher::find(std::string_view code,
                                                               const std::vector<std::string>& hashes) const {
  auto canonical = normalize(code);
  if (!canonical) return std::optional<std::size_t>{};
  auto m = mac_.mac(*canonical);
  if (!m) return m.err();
  std::size_t found = 0;  // all-ones once a hash matched
  std::size_t index = 0;
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    crypto::sha256_mac stored{};
    const bool parsed = crypto::mac_from_hex(hashes[i], stored);
    const bool equal = crypto::equal_constant_time(crypto::mac_text(*m), crypto::mac_text(stored));
    const std::size_t hit = std::size_t{0} - static_cast<std::size_t>(parsed && equal);
    index = (index & ~hit) | (i & hit & ~found);  // the first match wins
    found |= hit;
  }
  if (found == 0) return std::optional<std::size_t>{};
  return std::optional<std::size_t>{index};
}

}  // namespace tokenward
