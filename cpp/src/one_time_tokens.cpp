#include "tokenward/one_time_tokens.hpp"

#include <array>

#include "tokenward/base64url.hpp"
#include "tokenward/crypto/kdf.hpp"
#include "tokenward/crypto/random.hpp"

namespace tokenward {
namespace {

struct purpose_entry {
  std::string_view purpose;
  std::string_view prefix;
};

constexpr std::array<purpose_entry, 3> kPurposes{{
    {"verify-email", "twv_"},
    {"reset-password", "twr_"},
    {"mfa", "twm_"},
}};


}  // namespace

result<one_time_tokens> one_time_tokens::create(std::string_view secret, std::string_view purpose) {
  const purpose_entry* entry = nullptr;
  for (const auto& e : kPurposes) {
    if (e.purpose == purpose) entry = &e;
  }
  if (entry == nullptr) {
    return make_error(errc::configuration,
                      "the purpose of one-time tokens must be 'verify-email', 'reset-password' or 'mfa'");
  }
  if (secret.size() < kMinOneTimeTokenSecretBytes) {
    return make_error(errc::invalid_key, "the one-time token secret must be at least " +
                                             std::to_string(kMinOneTimeTokenSecretBytes) + " bytes long (it has " +
                                             std::to_string(secret.size()) + ")");
  }
  const std::string info = std::string(kOneTimeTokenHashInfo) + std::string(entry->purpose);
  auto derived = crypto::hkdf_sha256(secret, {}, info, crypto::kSha256Bytes);
  if (!derived) return derived.err();
  auto mac = crypto::hmac_sha256::create(derived->view());
  if (!mac) return mac.err();
  return one_time_tokens(std::move(*mac), entry->purpose, entry->prefix);
}

bool one_time_tokens::is_token(std::string_view text) const noexcept {
  if (text.size() != kOneTimeTokenChars || text.substr(0, prefix_.size()) != prefix_) return false;
  const auto decoded = b64::decode_secret(text.substr(prefix_.size()));
  return decoded && decoded->size() == kOneTimeTokenRandomBytes;
}

result<one_time_token> one_time_tokens::issue() const {
  auto raw = crypto::random_secret(kOneTimeTokenRandomBytes);
  if (!raw) return raw.err();
  one_time_token out;
  out.token.reserve(kOneTimeTokenChars);
  out.token = prefix_;
  b64::encode_append(out.token, raw->view());
  auto h = hash(out.token);
  if (!h) return make_error(errc::internal, "one-time token of the wrong shape");
  out.hash = std::move(*h);
  return out;
}

result<std::string> one_time_tokens::hash(std::string_view token) const {
  if (!is_token(token)) {
    return make_error(errc::malformed, "not a " + std::string(purpose_) + " token (expected '" + std::string(prefix_) +
                                           "' and 43 base64url characters)");
  }
  auto m = mac_.mac(token);
  if (!m) return m.err();
  return crypto::to_hex(crypto::mac_text(*m));
}

bool one_time_tokens::matches(std::string_view token, std::string_view token_hash) const {
  crypto::sha256_mac expected{};
  if (!crypto::mac_from_hex(token_hash, expected) || !is_token(token)) return false;
  auto m = mac_.mac(token);
  if (!m) return false;
  return crypto::equal_constant_time(crypto::mac_text(*m), crypto::mac_text(expected));
}

}  // namespace tokenward
