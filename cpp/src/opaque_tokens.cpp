#include "tokenward/opaque_tokens.hpp"

#include <array>

#include "tokenward/base64url.hpp"
#include "tokenward/crypto/random.hpp"
#include "tokenward/crypto/kdf.hpp"

namespace tokenward {
namespace {


error not_a_key() { return make_error(errc::malformed, "not an API key (expected 'vk_' and 43 base64url characters)"); }

}  // namespace

result<api_key_hasher> api_key_hasher::create(std::string_view secret) {
  if (secret.size() < kMinApiKeySecretBytes) {
    return make_error(errc::invalid_key, "the API-key secret must be at least " + std::to_string(kMinApiKeySecretBytes) +
                                             " bytes long (it has " + std::to_string(secret.size()) + ")");
  }
  auto derived = crypto::hkdf_sha256(secret, {}, kApiKeyHashInfo, crypto::kSha256Bytes);
  if (!derived) return derived.err();
  auto mac = crypto::hmac_sha256::create(derived->view());
  if (!mac) return mac.err();
  return api_key_hasher(std::move(*mac));
}

result<api_key> api_key_hasher::new_key() {
  auto raw = crypto::random_secret(kApiKeyRandomBytes);
  if (!raw) return raw.err();
  api_key out;
  out.key.reserve(kApiKeyChars);
  out.key = kApiKeyPrefix;
  b64::encode_append(out.key, raw->view());
  if (out.key.size() != kApiKeyChars) return make_error(errc::internal, "API key of the wrong length");
  out.prefix = out.key.substr(0, kApiKeyPrefixChars);
  return out;
}

bool api_key_hasher::is_api_key(std::string_view text) noexcept {
  if (text.size() != kApiKeyChars || text.substr(0, kApiKeyPrefix.size()) != kApiKeyPrefix) return false;
  const auto decoded = b64::decode_secret(text.substr(kApiKeyPrefix.size()));
  return decoded && decoded->size() == kApiKeyRandomBytes;
}

result<std::string> api_key_hasher::prefix_of(std::string_view key) {
  if (!is_api_key(key)) return not_a_key();
  return std::string(key.substr(0, kApiKeyPrefixChars));
}

result<crypto::sha256_mac> api_key_hasher::raw_hash(std::string_view key) const {
  if (!is_api_key(key)) return not_a_key();
  return mac_.mac(key);
}

result<std::string> api_key_hasher::hash(std::string_view key) const {
  auto m = raw_hash(key);
  if (!m) return m.err();
  return crypto::to_hex(crypto::mac_text(*m));
}

bool api_key_hasher::matches(std::string_view key, std::string_view key_hash) const {
  crypto::sha256_mac expected{};
  if (!crypto::mac_from_hex(key_hash, expected)) return false;
  auto m = raw_hash(key);
  if (!m) return false;
  return crypto::equal_constant_time(crypto::mac_text(*m), crypto::mac_text(expected));
}

}  // namespace tokenward
