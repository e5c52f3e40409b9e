// An issuer's signing keys: the current key, which signs; previous keys, still published so that
// the tokens they signed verify until those expire; optionally a next key, published ahead of its
// use so that verifiers holding a cached copy of the set know it before its first token.
//
// Every key is private, carries its algorithm, and is named by its RFC 7638 thumbprint. The ring
// publishes its verification set through a jwks_cache (fresh forever), which a verifier reads as
// it reads a remote set: a rotation is seen by the next verification, without locks.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tokenward/algorithms.hpp"
#include "tokenward/errc.hpp"
#include "tokenward/json.hpp"
#include "tokenward/jwk.hpp"
#include "tokenward/jwks_cache.hpp"
#include "tokenward/keyset.hpp"

namespace tokenward {

enum class ring_state : std::uint8_t { current, next, previous };

struct ring_key {
  jwk key;
  ring_state state = ring_state::previous;
  double retired_at = 0;  // previous keys: when they stopped signing (seconds since the epoch)
};

class key_ring {
 public:
  // `retain`: how long a key that stopped signing stays published — the longest lifetime of a
  // token it signed plus the verifiers' leeway. `keys` must hold exactly one current key and at
  // most one next key, all private, all fitting `a`; kid and alg are set here.
  static result<std::shared_ptr<key_ring>> create(alg a, double retain, std::vector<ring_key> keys);
  // A new key for `a`, ready for a ring (kid = thumbprint, alg set).
  static result<jwk> new_key(alg a);
  // `k` checked and named for a ring of algorithm `a`.
  static result<jwk> prepare(const jwk& k, alg a);

  key_ring(const key_ring&) = delete;
  key_ring& operator=(const key_ring&) = delete;

  // The next key (or a new one) becomes current; the current one becomes previous, retired `now`.
  // Previous keys past `retain` are dropped. Returns the new current kid.
  result<std::string> rotate(double now);
  // Publishes a new next key (replacing none: an existing next key is kept). Returns its kid.
  result<std::string> stage_next();
  // Drops previous keys retired more than `retain` before `now`; true if any was dropped.
  bool prune(double now);

  // A compact JWS of `claims` by the current key; `extra_header` may add members but never alg,
  // kid or crit.
  [[nodiscard]] result<std::string> sign(const json& claims, const json& extra_header) const;

  [[nodiscard]] std::vector<ring_key> keys() const;  // current first, then next, then previous
  [[nodiscard]] std::string current_kid() const;
  // Public members only: each key with kid, alg and use "sig". Empty for an HMAC ring.
  [[nodiscard]] result<json> public_jwks() const;
  // The keys a verifier uses (public halves; the secrets themselves for an HMAC ring).
  [[nodiscard]] std::shared_ptr<jwks_cache> published() const noexcept { return published_; }
  [[nodiscard]] alg algorithm() const noexcept { return alg_; }
  [[nodiscard]] double retain() const noexcept { return retain_; }
  [[nodiscard]] bool symmetric() const noexcept;

 private:
  key_ring(alg a, double retain, std::shared_ptr<jwks_cache> published)
      : alg_(a), retain_(retain), published_(std::move(published)) {}
  status publish();  // under mu_
  void order();      // under mu_

  const alg alg_;
  const double retain_;
  std::shared_ptr<jwks_cache> published_;
  mutable std::mutex mu_;
  std::vector<ring_key> keys_;
};

// The private keys as concatenated PKCS#8 PEM blocks (current first); asymmetric keys only.
result<std::string> private_pem(const std::vector<ring_key>& keys);

}  // namespace tokenward
