// JSON Web Keys (RFC 7517, RFC 7518 §6, RFC 8037 §2): import, export, generation, thumbprints.
// A jwk is immutable and cheap to copy (its OpenSSL key and secret bytes are shared).
// cpp/src: jwk.cpp (contexts, secret keys), jwk_json.cpp (JWK JSON in and out), jwk_pem.cpp (PEM
// and certificates, straight from the EVP_PKEY), jwk_generate.cpp, jwk_checks.cpp (strength, fit,
// use/key_ops, thumbprint). Private components are decoded into secret_bytes (secret.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

#include "tokenward/algorithms.hpp"
#include "tokenward/errc.hpp"
#include "tokenward/json.hpp"
#include "tokenward/ossl.hpp"
#include "tokenward/secret.hpp"

namespace tokenward {

namespace jwk_detail {
struct jwk_members;  // cpp/src/jwk_members.hpp
}

inline constexpr int kMinRsaBits = 2048;

enum class key_op : std::uint8_t { sign, verify };

// HMAC (RFC 2104) for HS256/384/512 under an oct key, with the key schedule done once: for each
// digest, a hash context that has absorbed K0 ^ ipad and one that has absorbed K0 ^ opad (K0: the
// key, or its hash when longer than the block, zero-padded to the block). A MAC copies the two
// states in turn into the calling thread's scratch context (EVP_MD_CTX_copy_ex) instead of
// duplicating a keyed EVP_MAC context. The templates are only read, so threads share them;
// OpenSSL wipes their states when they are freed.
class hmac_templates {
 public:
  explicit hmac_templates(std::string_view secret);
  hmac_templates(const hmac_templates&) = delete;
  hmac_templates& operator=(const hmac_templates&) = delete;
  ~hmac_templates() = default;
  // HMAC of `data` with the digest of `a` into `out` (digest_size(a) bytes); false when `a` is not
  // an HMAC algorithm or OpenSSL failed (the caller then falls back to a one-shot MAC).
  [[nodiscard]] bool mac(alg a, std::string_view data, unsigned char* out) const noexcept;

 private:
  struct pads {
    ossl::md_ctx inner;  // after K0 ^ ipad
    ossl::md_ctx outer;  // after K0 ^ opad
  };
  std::array<pads, 3> pads_{};
};

// Verification contexts of one asymmetric key, kept so that a verify does not build them anew.
// RS*, PS* and ES*: a few idle EVP_PKEY_CTX per algorithm, each already through
// EVP_PKEY_verify_init with its digest and padding set (jws::verify prepares them). A context
// serves one verify at a time: take() hands it out, give_back() returns it after a successful
// verify (one that failed is freed instead). Guarded by a mutex, so threads share the pool.
// EdDSA: a DigestVerifyInit'd template that is only read (EVP_MD_CTX_copy_ex), so needs no lock.
class verify_contexts {
 public:
  static constexpr std::size_t kIdlePerAlg = 8;

  explicit verify_contexts(EVP_PKEY* key);  // the key is only read here (Ed25519: the template)
  verify_contexts(const verify_contexts&) = delete;
  verify_contexts& operator=(const verify_contexts&) = delete;
  ~verify_contexts() = default;

  // An idle context for `a`, or null when none is idle (the caller then prepares a new one).
  [[nodiscard]] ossl::pkey_ctx take(alg a) noexcept;
  // Keeps `ctx` (prepared for `a`) for the next verify, or frees it when kIdlePerAlg are idle.
  void give_back(alg a, ossl::pkey_ctx ctx) noexcept;
  // The EdDSA template (Ed25519 keys only; null otherwise or if OpenSSL could not make it).
  [[nodiscard]] const EVP_MD_CTX* eddsa_template() const noexcept { return eddsa_.get(); }

 private:
  std::mutex mu_;
  std::array<std::array<ossl::pkey_ctx, kIdlePerAlg>, kAlgCount> idle_{};
  std::array<std::uint8_t, kAlgCount> idle_count_{};
  ossl::md_ctx eddsa_;
};

class jwk {
 public:
  static result<jwk> from_json(const json& j);
  static result<jwk> from_json_text(std::string_view text);
  // The import behind both: one JWK object's members, read from either DOM (cpp/src only).
  static result<jwk> from_members(const jwk_detail::jwk_members& m);
  // PEM: SubjectPublicKeyInfo, PKCS#8, PKCS#1 (RSA), SEC1 (EC) or an X.509 certificate. Encrypted
  // PEM is refused. `a` fixes the key's algorithm (and must suit the key).
  static result<jwk> from_pem(std::string_view pem, std::optional<alg> a);
  static result<jwk> from_secret(std::string_view secret, std::optional<alg> a);
  // RSA keys are 2048 bits, HMAC keys as long as the hash; the kid is the RFC 7638 thumbprint.
  static result<jwk> generate(alg a, int rsa_bits = kMinRsaBits);

  [[nodiscard]] result<json> to_json(bool include_private) const;
  // SubjectPublicKeyInfo PEM, or PKCS#8 with `include_private` (unencrypted). Asymmetric keys only.
  [[nodiscard]] result<std::string> to_pem(bool include_private) const;
  [[nodiscard]] std::string thumbprint() const;  // RFC 7638, SHA-256, base64url
  [[nodiscard]] result<jwk> public_key() const;

  [[nodiscard]] key_type type() const noexcept { return type_; }
  [[nodiscard]] curve crv() const noexcept { return crv_; }
  [[nodiscard]] std::optional<alg> algorithm() const noexcept { return alg_; }
  [[nodiscard]] const std::string& kid() const noexcept { return kid_; }
  [[nodiscard]] const std::string& use() const noexcept { return use_; }
  [[nodiscard]] const std::vector<std::string>& key_ops() const noexcept { return key_ops_; }
  [[nodiscard]] bool is_private() const noexcept { return private_; }
  [[nodiscard]] bool is_symmetric() const noexcept { return type_ == key_type::oct; }
  [[nodiscard]] EVP_PKEY* pkey() const noexcept { return pkey_.get(); }
  [[nodiscard]] std::string_view secret() const noexcept { return secret_ ? secret_->view() : std::string_view{}; }
  [[nodiscard]] int rsa_bits() const noexcept { return rsa_bits_; }
  [[nodiscard]] const hmac_templates* hmac() const noexcept { return hmac_.get(); }
  // Shared by every copy of this key; internally locked, hence usable through a const jwk.
  [[nodiscard]] verify_contexts* contexts() const noexcept { return contexts_.get(); }

  // Whether this key fits algorithm `a` by type, curve and its own "alg". Says nothing of use.
  [[nodiscard]] bool fits(alg a) const noexcept;
  // Whether "use" and "key_ops" permit the operation (RFC 7517 §4.2, §4.3).
  [[nodiscard]] bool permits(key_op op) const noexcept;
  // Everything needed before signing or verifying with `a`: fit, permission, strength.
  [[nodiscard]] status check_usable(alg a, key_op op) const;

  jwk with_kid(std::string kid) const {
    jwk copy = *this;
    copy.kid_ = std::move(kid);
    return copy;
  }

 private:
  jwk() = default;
  static result<jwk> from_pkey(EVP_PKEY* owned, std::optional<alg> a);
  void adopt(EVP_PKEY* owned);  // the checked asymmetric key, with its verification contexts
  status set_common(const jwk_detail::jwk_members& m);

  key_type type_ = key_type::oct;
  curve crv_ = curve::none;
  std::optional<alg> alg_;
  std::string kid_;
  std::string use_;
  std::vector<std::string> key_ops_;
  bool private_ = false;
  int rsa_bits_ = 0;
  std::shared_ptr<EVP_PKEY> pkey_;
  std::shared_ptr<const secret_bytes> secret_;
  std::shared_ptr<const hmac_templates> hmac_;
  std::shared_ptr<verify_contexts> contexts_;
};

}  // namespace tokenward
