// Field encryption of JWT payloads: every member other than the registered claims has its name and
// its value encrypted separately, so a signed token keeps iss/sub/aud/jti/nbf/exp/iat readable and
// checkable while the rest stays confidential.
//
// Three schemes (docs/field-encryption.md describes each byte):
//   tw1           the default. AES-256-GCM, a random 96-bit nonce per field, keys derived with
//                 HKDF-SHA256 from secrets of at least 32 bytes, a key id in every ciphertext and a
//                 key ring (encrypt with the primary key, decrypt with any). Output
//                 "tw1." + base64url(len(kid) || kid || nonce12 || ciphertext || tag16).
//   ignis-legacy  Ignis's original format: AES-256-CBC, key = the secret right-padded with '0' to
//                 32 bytes (or cut to 32), output base64(iv16 || ciphertext). Unauthenticated: only
//                 acceptable inside a signed token.
//   ignis-v3      Ignis's versioned envelope: PBKDF2-HMAC-SHA256 keys, a key id, AES-256-CBC or
//                 AES-256-GCM, output base64(0x01 || len(kid) || kid || iv16 [|| tag16] || ciphertext).
//
// tw1 lives in field_cipher.cpp, the two Ignis formats in field_cipher_ignis.cpp; the AES and KDF
// primitives below them in crypto/aead.hpp and crypto/kdf.hpp.
//
// A field_cipher is immutable once built and safe to share between threads. Every decryption
// failure (bad encoding, unknown key id, truncation, tampering, bad padding, bad plaintext) is
// errc::decryption_failed with one fixed message that says nothing about the cause.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenward/errc.hpp"
#include "tokenward/json.hpp"
#include "tokenward/secret.hpp"

namespace tokenward {

// The claims encrypt_claims() leaves in clear (RFC 7519 §4.1).
bool is_registered_claim(std::string_view name) noexcept;

class field_cipher {
 public:
  enum class scheme { tw1, ignis_legacy, ignis_v3_cbc, ignis_v3_gcm };

  // (key id, secret) pairs, in the caller's order.
  using secrets = std::vector<std::pair<std::string, std::string>>;

  static constexpr std::size_t kMinSecretBytes = 32;   // tw1 secrets
  static constexpr std::size_t kMaxKeyIdBytes = 255;   // one length byte in both envelopes
  static constexpr std::size_t kMaxKeys = 100;
  static constexpr int kIgnisPbkdf2Iterations = 100000;

  // tw1: every secret at least 32 bytes; `primary` must name one of them.
  static result<field_cipher> create(const secrets& keys, std::string_view primary);
  // Ignis legacy: any non-empty secret, taken as Ignis takes it.
  static result<field_cipher> ignis_legacy(std::string_view secret);
  // Ignis v3: PBKDF2 per key (100 000 iterations each, done here, once).
  static result<field_cipher> ignis_v3(const secrets& keys, std::string_view primary, bool gcm);

  field_cipher(field_cipher&&) noexcept = default;
  field_cipher& operator=(field_cipher&&) noexcept = default;
  field_cipher(const field_cipher&) = delete;
  field_cipher& operator=(const field_cipher&) = delete;
  ~field_cipher() = default;

  // One field on its own (not bound to a claim name).
  [[nodiscard]] result<std::string> encrypt(std::string_view plaintext) const;
  [[nodiscard]] result<std::string> decrypt(std::string_view ciphertext) const;

  // A claims object: registered claims copied, null members dropped, the rest encrypted.
  [[nodiscard]] result<json> encrypt_claims(const json& claims) const;
  // The inverse; any member that is neither registered, null nor a valid ciphertext pair fails.
  [[nodiscard]] result<json> decrypt_claims(const json& claims) const;

  [[nodiscard]] scheme kind() const noexcept { return scheme_; }
  [[nodiscard]] std::string_view scheme_name() const noexcept;
  [[nodiscard]] const std::string& primary_key_id() const noexcept { return keys_[primary_].id; }
  [[nodiscard]] std::vector<std::string> key_ids() const;
  // Size of the IV (nonce) every ciphertext of this scheme carries.
  [[nodiscard]] std::size_t iv_size() const noexcept;

  // Test-only: encrypts one field with a caller-chosen IV so that known answers can be reproduced.
  // Reusing an IV destroys the confidentiality of CBC and GCM alike: nothing outside the known-answer
  // tests may call this (the binding exposes it as tokenward._core._field_encrypt_with_iv).
  [[nodiscard]] result<std::string> encrypt_with_fixed_iv_for_tests(std::string_view plaintext,
                                                                    std::string_view iv) const;

 private:
  struct key_entry {
    std::string id;
    secret_bytes key;  // 32 bytes, wiped when the cipher goes
  };

  field_cipher(scheme s, std::vector<key_entry> keys, std::size_t primary)
      : scheme_(s), keys_(std::move(keys)), primary_(primary) {}

  [[nodiscard]] const key_entry* find(std::string_view id) const noexcept;
  [[nodiscard]] static std::string_view key_of(const key_entry& k) noexcept {
    return k.key.view();
  }
  // `context` is authenticated (tw1 only): "" for a lone field, "name" or "value:<name>" for claims.
  [[nodiscard]] result<std::string> seal(std::string_view plaintext, std::string_view context,
                                         std::string_view fixed_iv) const;
  [[nodiscard]] result<std::string> open(std::string_view ciphertext, std::string_view context) const;
  [[nodiscard]] result<std::string> value_plaintext(const std::string& name, const json& value) const;
  [[nodiscard]] result<json> value_from_plaintext(const std::string& name, std::string&& plaintext) const;
  // tw1 (field_cipher.cpp).
  [[nodiscard]] result<std::string> seal_tw1(const key_entry& k, std::string_view iv, std::string_view plaintext,
                                             std::string_view context) const;
  [[nodiscard]] result<std::string> open_tw1(std::string_view ciphertext, std::string_view context) const;
  // Ignis legacy and v3 (field_cipher_ignis.cpp): no context, values as Ignis writes them.
  [[nodiscard]] result<std::string> seal_ignis(const key_entry& k, std::string_view iv,
                                               std::string_view plaintext) const;
  [[nodiscard]] result<std::string> open_ignis(std::string_view ciphertext) const;
  [[nodiscard]] static result<std::string> ignis_value_plaintext(const std::string& name, const json& value);
  [[nodiscard]] static result<json> ignis_value_from_plaintext(const std::string& name, std::string&& plaintext);

  scheme scheme_;
  std::vector<key_entry> keys_;
  std::size_t primary_;
};

}  // namespace tokenward
