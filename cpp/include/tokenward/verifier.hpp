// A compiled verification policy: allowed algorithms, keys, claim rules and size limits. A verifier
// is immutable apart from its key set, which is swapped atomically, so one verifier serves any
// number of threads without locks.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenward/claims.hpp"
#include "tokenward/field_cipher.hpp"
#include "tokenward/json_doc.hpp"
#include "tokenward/jws.hpp"
#include "tokenward/keyset.hpp"

namespace tokenward {

struct verifier_options {
  std::vector<alg> algorithms;  // the allow-list; required, never empty
  claims_policy claims;
  std::optional<std::string> typ;  // header typ to require, if any
  jws::limits limits;
  // Decrypts the payload's encrypted members after the signature and the claims have passed.
  std::shared_ptr<const tokenward::field_cipher> field_cipher;
  // The claims rules of tokenward's own access tokens (access_claims.hpp), checked last (after
  // decryption): the custom provider's tokens, HS256 or signed by a key ring.
  bool access_token = false;
};

class verifier {
 public:
  // `single_key` says the set came from one key passed directly: its kid is then not matched.
  static result<std::shared_ptr<verifier>> create(verifier_options opts, std::shared_ptr<const jwk_set> keys,
                                                  bool single_key);

  // Signature, then header policy, then claims; returns the claims object.
  [[nodiscard]] result<json> verify(std::string_view token, double now) const;
  // The same checks as verify(), with the claims left in simdjson's parse instead of a DOM; the
  // fast path of the Python binding. Refused for a verifier with a field cipher: use verify().
  [[nodiscard]] result<json_doc> verify_doc(std::string_view token, double now) const;
  // Signature and header policy only; returns the payload bytes (for JWS that are not JWTs).
  [[nodiscard]] result<std::string> verify_signature(std::string_view token) const;

  // Swaps in a new key set (checked as create() checks it); readers never wait.
  status replace_keys(std::shared_ptr<const jwk_set> keys);
  [[nodiscard]] std::shared_ptr<const jwk_set> keys() const { return keys_.load(); }
  [[nodiscard]] const verifier_options& options() const noexcept { return opts_; }
  [[nodiscard]] bool single_key() const noexcept { return single_key_; }

  static double now_seconds() noexcept;

 private:
  verifier(verifier_options opts, std::shared_ptr<const jwk_set> keys, bool single_key)
      : opts_(std::move(opts)), keys_(std::move(keys)), single_key_(single_key) {}
  static status check_keys(const verifier_options& opts, const jwk_set* keys, bool single_key);
  [[nodiscard]] result<jws::parsed> check(std::string_view token) const;
  // check(), then the claims parsed and checked against `policy`.
  [[nodiscard]] result<json_doc> checked_claims(std::string_view token, double now, const claims_policy& policy) const;
  [[nodiscard]] result<const jwk*> select_key(const jws::parsed& p, const jwk_set& set) const;

  verifier_options opts_;
  std::atomic<std::shared_ptr<const jwk_set>> keys_;
  bool single_key_;
};

}  // namespace tokenward
