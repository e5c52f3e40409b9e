#include "tokenward/field_cipher.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdint>

#include "field_cipher_detail.hpp"
#include "tokenward/base64url.hpp"
#include "tokenward/crypto/aead.hpp"
#include "tokenward/crypto/kdf.hpp"
#include "tokenward/crypto/random.hpp"

namespace tokenward {

namespace field_cipher_detail {

bool valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1FU;
    } else if ((c & 0xF0U) == 0xE0) {
      len = 3;
      cp = c & 0x0FU;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07U;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const unsigned cc = p[i + k];
      if ((cc & 0xC0U) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3FU);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
    i += len;
  }
  return true;
}

std::string compact(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace field_cipher_detail

namespace {

using namespace field_cipher_detail;

constexpr std::string_view kTw1Prefix = "tw1.";
constexpr std::string_view kHkdfSalt = "tokenward/field-cipher/v1";
constexpr std::string_view kHkdfInfoPrefix = "tw1/aes-256-gcm/";
constexpr std::string_view kNameContext = "name";
constexpr std::string_view kValueContextPrefix = "value:";

bool valid_utf8_json(const json& j, std::size_t depth) noexcept {
  if (depth > kMaxValueDepth) return false;
  switch (j.type()) {
    case json::value_t::string: return valid_utf8(j.get_ref<const std::string&>());
    case json::value_t::array:
      return std::all_of(j.begin(), j.end(), [&](const json& v) { return valid_utf8_json(v, depth + 1); });
    case json::value_t::object:
      for (const auto& [k, v] : j.items()) {
        if (!valid_utf8(k) || !valid_utf8_json(v, depth + 1)) return false;
      }
      return true;
    case json::value_t::binary:
    case json::value_t::discarded: return false;
    default: return true;
  }
}

}  // namespace

bool is_registered_claim(std::string_view name) noexcept {
  return name == "iss" || name == "sub" || name == "aud" || name == "jti" || name == "nbf" || name == "exp" ||
         name == "iat";
}

namespace field_cipher_detail {

status check_ring(const field_cipher::secrets& keys, std::string_view primary) {
  if (keys.empty()) return make_error(errc::configuration, "a field cipher needs at least one key");
  if (keys.size() > field_cipher::kMaxKeys) return make_error(errc::configuration, "a field cipher holds at most 100 keys");
  bool found = false;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& id = keys[i].first;
    if (id.empty() || id.size() > field_cipher::kMaxKeyIdBytes) {
      return make_error(errc::configuration, "key ids are 1 to 255 bytes");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (keys[j].first == id) return make_error(errc::configuration, "key ids must be unique");
    }
    found = found || id == primary;
  }
  if (!found) return make_error(errc::configuration, "the primary key id names none of the keys");
  return {};
}

std::size_t index_of(const field_cipher::secrets& keys, std::string_view id) {
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].first == id) return i;
  }
  return 0;
}

}  // namespace field_cipher_detail

result<field_cipher> field_cipher::create(const secrets& keys, std::string_view primary) {
  TW_TRY(check_ring(keys, primary));
  std::vector<key_entry> ring;
  ring.reserve(keys.size());
  for (const auto& [id, secret] : keys) {
    if (secret.size() < kMinSecretBytes) {
      return make_error(errc::configuration, "field cipher secrets must be at least 32 bytes");
    }
    auto k = crypto::hkdf_sha256(secret, kHkdfSalt, std::string(kHkdfInfoPrefix) + id, kKeyBytes);
    if (!k) return k.err();
    ring.push_back(key_entry{id, std::move(*k)});
  }
  return field_cipher(scheme::tw1, std::move(ring), index_of(keys, primary));
}

std::string_view field_cipher::scheme_name() const noexcept {
  switch (scheme_) {
    case scheme::tw1: return "tw1-aes-256-gcm";
    case scheme::ignis_legacy: return "ignis-legacy-aes-256-cbc";
    case scheme::ignis_v3_cbc: return "ignis-v3-aes-256-cbc";
    case scheme::ignis_v3_gcm: return "ignis-v3-aes-256-gcm";
  }
  return "?";
}

std::vector<std::string> field_cipher::key_ids() const {
  std::vector<std::string> out;
  if (scheme_ == scheme::ignis_legacy) return out;
  out.reserve(keys_.size());
  for (const auto& k : keys_) out.push_back(k.id);
  return out;
}

std::size_t field_cipher::iv_size() const noexcept { return scheme_ == scheme::tw1 ? kGcmNonceBytes : kIgnisIvBytes; }

const field_cipher::key_entry* field_cipher::find(std::string_view id) const noexcept {
  for (const auto& k : keys_) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

result<std::string> field_cipher::seal(std::string_view plaintext, std::string_view context,
                                       std::string_view fixed_iv) const {
  const key_entry& k = keys_[primary_];
  std::string iv(iv_size(), '\0');
  if (!fixed_iv.empty()) {
    if (fixed_iv.size() != iv.size()) return make_error(errc::configuration, "wrong IV size for this scheme");
    iv.assign(fixed_iv);
  } else {
    TW_TRY(crypto::random_fill(reinterpret_cast<unsigned char*>(iv.data()), iv.size()));
  }
  if (scheme_ == scheme::tw1) return seal_tw1(k, iv, plaintext, context);
  return seal_ignis(k, iv, plaintext);
}

result<std::string> field_cipher::open(std::string_view ciphertext, std::string_view context) const {
  if (scheme_ == scheme::tw1) return open_tw1(ciphertext, context);
  return open_ignis(ciphertext);
}

// tw1: "tw1." + base64url(len(kid) || kid || nonce12 || ciphertext || tag16), the prefix, the
// key-id header and the context authenticated as AAD.
result<std::string> field_cipher::seal_tw1(const key_entry& k, std::string_view iv, std::string_view plaintext,
                                           std::string_view context) const {
  std::string header(1, static_cast<char>(k.id.size()));
  header += k.id;
  std::string aad(kTw1Prefix);
  aad += header;
  aad += context;
  auto sealed = crypto::aes_gcm_encrypt(key_of(k), iv, aad, plaintext);
  if (!sealed) return sealed.err();
  std::string body = std::move(header);
  body += iv;
  body += *sealed;
  std::string out(kTw1Prefix);
  b64::encode_append(out, body);
  return out;
}

result<std::string> field_cipher::open_tw1(std::string_view ciphertext, std::string_view context) const {
  if (ciphertext.substr(0, kTw1Prefix.size()) != kTw1Prefix) return decrypt_failed();
  auto raw = b64::decode(ciphertext.substr(kTw1Prefix.size()));
  if (!raw || raw->empty()) return decrypt_failed();
  const std::string_view body(*raw);
  const std::size_t id_len = static_cast<unsigned char>(body[0]);
  if (id_len == 0 || body.size() < 1 + id_len + kGcmNonceBytes + kTagBytes) return decrypt_failed();
  const key_entry* k = find(body.substr(1, id_len));
  if (k == nullptr) return decrypt_failed();
  std::string aad(kTw1Prefix);
  aad += body.substr(0, 1 + id_len);
  aad += context;
  const std::string_view rest = body.substr(1 + id_len);
  const std::string_view nonce = rest.substr(0, kGcmNonceBytes);
  const std::string_view sealed = rest.substr(kGcmNonceBytes);
  auto pt = crypto::aes_gcm_decrypt(key_of(*k), nonce, aad, sealed.substr(0, sealed.size() - kTagBytes),
                                    sealed.substr(sealed.size() - kTagBytes));
  if (!pt) return decrypt_failed();
  return pt;
}

result<std::string> field_cipher::encrypt(std::string_view plaintext) const { return seal(plaintext, {}, {}); }

result<std::string> field_cipher::decrypt(std::string_view ciphertext) const { return open(ciphertext, {}); }

result<std::string> field_cipher::encrypt_with_fixed_iv_for_tests(std::string_view plaintext,
                                                                  std::string_view iv) const {
  if (iv.size() != iv_size()) return make_error(errc::configuration, "wrong IV size for this scheme");
  return seal(plaintext, {}, iv);
}

result<std::string> field_cipher::value_plaintext(const std::string& name, const json& value) const {
  if (!valid_utf8_json(value, 0)) return make_error(errc::configuration, "claim values must be valid UTF-8 JSON");
  if (scheme_ == scheme::tw1) return compact(value);
  return ignis_value_plaintext(name, value);
}

result<json> field_cipher::value_from_plaintext(const std::string& name, std::string&& plaintext) const {
  if (scheme_ != scheme::tw1) return ignis_value_from_plaintext(name, std::move(plaintext));
  auto v = parse_json(plaintext, json_limits{plaintext.size(), kMaxValueDepth}, "field");
  if (!v) return decrypt_failed();
  return v;
}

result<json> field_cipher::encrypt_claims(const json& claims) const {
  if (!claims.is_object()) return make_error(errc::configuration, "claims must be a JSON object");
  json out = json::object();
  for (const auto& [name, value] : claims.items()) {
    if (is_registered_claim(name)) {
      out[name] = value;
      continue;
    }
    if (value.is_null()) continue;
    if (!valid_utf8(name)) return make_error(errc::configuration, "claim names must be valid UTF-8");
    auto plaintext = value_plaintext(name, value);
    if (!plaintext) return plaintext.err();
    auto sealed_name = seal(name, kNameContext, {});
    if (!sealed_name) return sealed_name.err();
    auto sealed_value = seal(*plaintext, std::string(kValueContextPrefix) + name, {});
    OPENSSL_cleanse(plaintext->data(), plaintext->size());
    if (!sealed_value) return sealed_value.err();
    if (out.contains(*sealed_name)) return make_error(errc::internal, "ciphertext collision");
    out[std::move(*sealed_name)] = std::move(*sealed_value);
  }
  return out;
}

result<json> field_cipher::decrypt_claims(const json& claims) const {
  if (!claims.is_object()) return decrypt_failed();
  json out = json::object();
  // Registered claims first, so that no decrypted name can stand in for one of them.
  for (const auto& [name, value] : claims.items()) {
    if (is_registered_claim(name)) out[name] = value;
  }
  for (const auto& [name, value] : claims.items()) {
    if (is_registered_claim(name) || value.is_null()) continue;
    if (!value.is_string()) return decrypt_failed();
    auto plain_name = open(name, kNameContext);
    if (!plain_name || !valid_utf8(*plain_name)) return decrypt_failed();
    if (is_registered_claim(*plain_name) || out.contains(*plain_name)) return decrypt_failed();
    auto plaintext = open(value.get_ref<const std::string&>(), std::string(kValueContextPrefix) + *plain_name);
    if (!plaintext) return decrypt_failed();
    auto v = value_from_plaintext(*plain_name, std::move(*plaintext));
    if (!v) return v.err();
    out[std::move(*plain_name)] = std::move(*v);
  }
  return out;
}

}  // namespace tokenward
