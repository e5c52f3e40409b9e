#include "tokenward/verifier.hpp"

#include <algorithm>
#include <chrono>

#include "tokenward/access_claims.hpp"

namespace tokenward {

double verifier::now_seconds() noexcept {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

status verifier::check_keys(const verifier_options& opts, const jwk_set* keys, bool single_key) {
  if (keys == nullptr) return make_error(errc::configuration, "no keys given");
  if (keys->mixes_symmetric_and_asymmetric()) {
    return make_error(errc::configuration,
                      "a key set must not mix secret (oct) keys with public keys: that invites algorithm confusion");
  }
  if (single_key) {
    if (keys->keys().size() != 1) return make_error(errc::configuration, "expected exactly one key");
    const jwk& k = keys->keys().front();
    const bool any = std::any_of(opts.algorithms.begin(), opts.algorithms.end(), [&](alg a) { return k.fits(a); });
    if (!any) return make_error(errc::configuration, "none of the allowed algorithms fits the key");
  }
  return {};
}

result<std::shared_ptr<verifier>> verifier::create(verifier_options opts, std::shared_ptr<const jwk_set> keys,
                                                   bool single_key) {
  if (opts.algorithms.empty()) {
    return make_error(errc::configuration, "algorithms must list at least one algorithm");
  }
  if (opts.claims.leeway < 0) return make_error(errc::configuration, "leeway must not be negative");
  TW_TRY(check_keys(opts, keys.get(), single_key));
  return std::shared_ptr<verifier>(new verifier(std::move(opts), std::move(keys), single_key));
}

status verifier::replace_keys(std::shared_ptr<const jwk_set> keys) {
  TW_TRY(check_keys(opts_, keys.get(), single_key_));
  keys_.store(std::move(keys));
  return {};
}

result<const jwk*> verifier::select_key(const jws::parsed& p, const jwk_set& set) const {
  const alg a = p.algorithm;
  if (single_key_) {
    const jwk& k = set.keys().front();
    TW_TRY(k.check_usable(a, key_op::verify));
    return &k;
  }
  if (p.has_kid) {
    bool ambiguous = false;
    const jwk* k = set.find(p.kid, ambiguous);
    if (ambiguous) return make_error(errc::key_not_found, "several keys share the token's kid");
    if (k == nullptr) return make_error(errc::key_not_found, "no key matches the token's kid");
    if (!k->fits(a)) {
      return make_error(errc::unsupported_algorithm,
                        "algorithm " + std::string(alg_name(a)) + " does not fit the key named by the token's kid");
    }
    if (!k->permits(key_op::verify)) {
      return make_error(errc::key_not_found, "the key named by the token's kid is not for signatures");
    }
    TW_TRY(k->check_usable(a, key_op::verify));
    return k;
  }
  const jwk* only = nullptr;
  std::size_t count = 0;
  for (const auto& k : set.keys()) {
    if (k.fits(a) && k.permits(key_op::verify)) {
      only = &k;
      ++count;
    }
  }
  if (count == 0) return make_error(errc::key_not_found, "no key in the set fits the token");
  if (count > 1) return make_error(errc::key_not_found, "the token has no kid and several keys could verify it");
  TW_TRY(only->check_usable(a, key_op::verify));
  return only;
}

result<jws::parsed> verifier::check(std::string_view token) const {
  auto p = jws::parse(token, opts_.limits);
  if (!p) return p.err();
  const alg a = p->algorithm;
  if (std::find(opts_.algorithms.begin(), opts_.algorithms.end(), a) == opts_.algorithms.end()) {
    return make_error(errc::unsupported_algorithm, "algorithm " + std::string(alg_name(a)) + " is not allowed");
  }
  const auto set = keys_.load();
  auto key = select_key(*p, *set);
  if (!key) return key.err();
  TW_TRY(jws::verify(a, **key, p->signing_input, p->signature));
  if (opts_.typ) {
    if (!p->has_typ) return make_error(errc::invalid_claim, "token header has no 'typ'");
    if (!typ_matches(p->typ, *opts_.typ)) return make_error(errc::invalid_claim, "token header 'typ' is not accepted");
  }
  return p;
}

result<std::string> verifier::verify_signature(std::string_view token) const {
  auto p = check(token);
  if (!p) return p.err();
  return std::move(p->payload);
}

result<json_doc> verifier::checked_claims(std::string_view token, double now, const claims_policy& policy) const {
  auto p = check(token);
  if (!p) return p.err();
  auto claims = json_doc::parse(p->payload, json_limits{opts_.limits.max_token_bytes, opts_.limits.max_depth},
                                "JWT claims");
  if (!claims) return claims.err();
  TW_TRY(check_claims(claims->root(), policy, now));
  return claims;
}

result<json_doc> verifier::verify_doc(std::string_view token, double now) const {
  if (opts_.field_cipher) return make_error(errc::configuration, "a verifier with a field cipher must use verify()");
  auto claims = checked_claims(token, now, opts_.claims);
  if (claims && opts_.access_token) TW_TRY(check_access_claims(claims->root()));
  return claims;
}

result<json> verifier::verify(std::string_view token, double now) const {
  if (!opts_.field_cipher) {
    auto claims = verify_doc(token, now);
    if (!claims) return claims.err();
    return to_json(claims->root());
  }
  // Encrypted members: the registered claims are in clear and are checked first; decryption comes
  // only after they pass. Required names that are not registered claims are looked for afterwards,
  // among the decrypted members.
  claims_policy clear_policy = opts_.claims;
  std::erase_if(clear_policy.required, [](const std::string& name) { return !is_registered_claim(name); });
  auto claims = checked_claims(token, now, clear_policy);
  if (!claims) return claims.err();
  auto plain = opts_.field_cipher->decrypt_claims(to_json(claims->root()));
  if (!plain) return plain.err();
  for (const auto& name : opts_.claims.required) {
    if (!plain->contains(name)) return make_error(errc::missing_claim, "missing required claim '" + name.substr(0, 64) + "'");
  }
  if (opts_.access_token) {
    // The rules read the decrypted members: the same parse the clear path checks.
    auto doc = json_doc::parse(plain->dump(), json_limits{opts_.limits.max_token_bytes, opts_.limits.max_depth},
                               "JWT claims");
    if (!doc) return doc.err();
    TW_TRY(check_access_claims(doc->root()));
  }
  return plain;
}

}  // namespace tokenward
