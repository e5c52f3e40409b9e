#include "tokenward/key_ring.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "tokenward/jws.hpp"
#include "tokenward/ossl.hpp"

namespace tokenward {

namespace {

int rank(ring_state s) {
  switch (s) {
    case ring_state::current: return 0;
    case ring_state::next: return 1;
    case ring_state::previous: return 2;
  }
  return 2;
}

}  // namespace

result<jwk> key_ring::prepare(const jwk& k, alg a) {
  if (!k.is_private()) return make_error(errc::invalid_key, "a key ring holds private keys (it signs)");
  if (k.algorithm() && *k.algorithm() != a) {
    return make_error(errc::invalid_key, "the key's algorithm " + std::string(alg_name(*k.algorithm())) +
                                             " is not the ring's " + std::string(alg_name(a)));
  }
  if (!k.fits(a)) return make_error(errc::invalid_key, "the key does not fit " + std::string(alg_name(a)));
  TW_TRY(k.check_usable(a, key_op::sign));
  auto j = k.to_json(true);
  if (!j) return j.err();
  (*j)["alg"] = std::string(alg_name(a));
  (*j)["use"] = "sig";
  j->erase("key_ops");
  j->erase("kid");
  auto named = jwk::from_json(*j);
  if (!named) return named.err();
  return named->with_kid(named->thumbprint());
}

result<jwk> key_ring::new_key(alg a) {
  auto k = jwk::generate(a);
  if (!k) return k.err();
  return prepare(*k, a);
}

result<std::shared_ptr<key_ring>> key_ring::create(alg a, double retain, std::vector<ring_key> keys) {
  if (std::isnan(retain) || retain < 0 || std::isinf(retain)) {
    return make_error(errc::configuration, "the retention (max token lifetime + leeway) must be a finite number >= 0");
  }
  std::size_t current = 0;
  std::size_t next = 0;
  for (auto& rk : keys) {
    auto named = prepare(rk.key, a);
    if (!named) return named.err();
    rk.key = std::move(*named);
    current += rk.state == ring_state::current;
    next += rk.state == ring_state::next;
  }
  if (current != 1) return make_error(errc::configuration, "a key ring needs exactly one current key");
  if (next > 1) return make_error(errc::configuration, "a key ring has at most one next key");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    for (std::size_t k = i + 1; k < keys.size(); ++k) {
      if (keys[i].key.kid() == keys[k].key.kid()) return make_error(errc::configuration, "a key appears twice in the ring");
    }
  }
  jwks_cache_options opts;
  opts.ttl = std::numeric_limits<double>::infinity();
  opts.cooldown = 0;
  opts.max_stale = 0;
  opts.allow_secret_keys = true;
  auto cache = jwks_cache::create(opts);
  if (!cache) return cache.err();
  std::shared_ptr<key_ring> ring(new key_ring(a, retain, std::move(*cache)));
  std::lock_guard lock(ring->mu_);
  ring->keys_ = std::move(keys);
  ring->order();
  TW_TRY(ring->publish());
  return ring;
}

bool key_ring::symmetric() const noexcept { return family(alg_) == alg_family::hmac; }

void key_ring::order() {
  std::stable_sort(keys_.begin(), keys_.end(), [](const ring_key& x, const ring_key& y) {
    if (rank(x.state) != rank(y.state)) return rank(x.state) < rank(y.state);
    return x.retired_at > y.retired_at;  // the most recently retired first
  });
}

status key_ring::publish() {
  std::vector<jwk> out;
  out.reserve(keys_.size());
  for (const auto& rk : keys_) {
    if (rk.key.is_symmetric()) {
      out.push_back(rk.key);
    } else {
      auto pub = rk.key.public_key();
      if (!pub) return pub.err();
      out.push_back(std::move(*pub));
    }
  }
  return published_->install(std::make_shared<const jwk_set>(std::move(out)), 0);
}

result<std::string> key_ring::rotate(double now) {
  std::lock_guard lock(mu_);
  auto next = std::find_if(keys_.begin(), keys_.end(), [](const ring_key& k) { return k.state == ring_state::next; });
  if (next == keys_.end()) {
    auto fresh = new_key(alg_);
    if (!fresh) return fresh.err();
    keys_.push_back(ring_key{std::move(*fresh), ring_state::next, 0});
    next = keys_.end() - 1;
  }
  next->state = ring_state::current;
  const std::string kid = next->key.kid();
  for (auto& k : keys_) {
    if (k.state == ring_state::current && k.key.kid() != kid) {
      k.state = ring_state::previous;
      k.retired_at = now;
    }
  }
  std::erase_if(keys_, [&](const ring_key& k) { return k.state == ring_state::previous && now >= k.retired_at + retain_; });
  order();
  TW_TRY(publish());
  return kid;
}

result<std::string> key_ring::stage_next() {
  std::lock_guard lock(mu_);
  for (const auto& k : keys_) {
    if (k.state == ring_state::next) return k.key.kid();
  }
  auto fresh = new_key(alg_);
  if (!fresh) return fresh.err();
  const std::string kid = fresh->kid();
  keys_.push_back(ring_key{std::move(*fresh), ring_state::next, 0});
  order();
  TW_TRY(publish());
  return kid;
}

bool key_ring::prune(double now) {
  std::lock_guard lock(mu_);
  const auto dropped =
      std::erase_if(keys_, [&](const ring_key& k) { return k.state == ring_state::previous && now >= k.retired_at + retain_; });
  if (dropped == 0) return false;
  (void)publish();  // the remaining keys were published before: this cannot fail
  return true;
}

result<std::string> key_ring::sign(const json& claims, const json& extra_header) const {
  if (!claims.is_object()) return make_error(errc::configuration, "claims must be a JSON object");
  if (!extra_header.is_null() && !extra_header.is_object()) return make_error(errc::configuration, "headers must be a JSON object");
  json header = extra_header.is_object() ? extra_header : json::object();
  for (const char* name : {"alg", "kid", "crit", "jwk", "jku", "x5u", "x5c"}) {
    if (header.contains(name)) return make_error(errc::configuration, std::string("a key ring sets no '") + name + "' header");
  }
  const jwk key = [&] {
    std::lock_guard lock(mu_);
    return keys_.front().key;  // ordered: the current key first
  }();
  header["alg"] = std::string(alg_name(alg_));
  if (!header.contains("typ")) header["typ"] = "JWT";
  header["kid"] = key.kid();
  const std::string payload = claims.dump(-1, ' ', false, json::error_handler_t::strict);
  return jws::encode(header, payload, alg_, key);
}

std::vector<ring_key> key_ring::keys() const {
  std::lock_guard lock(mu_);
  return keys_;
}

std::string key_ring::current_kid() const {
  std::lock_guard lock(mu_);
  return keys_.front().key.kid();
}

result<json> key_ring::public_jwks() const {
  json out = json::object();
  out["keys"] = json::array();
  if (symmetric()) return out;
  for (const auto& rk : keys()) {
    auto pub = rk.key.public_key();
    if (!pub) return pub.err();
    auto j = pub->to_json(false);
    if (!j) return j.err();
    (*j)["kid"] = rk.key.kid();
    (*j)["alg"] = std::string(alg_name(alg_));
    (*j)["use"] = "sig";
    out["keys"].push_back(std::move(*j));
  }
  return out;
}

result<std::string> private_pem(const std::vector<ring_key>& keys) {
  std::string out;
  for (const auto& rk : keys) {
    if (rk.key.is_symmetric() || rk.key.pkey() == nullptr) {
      return make_error(errc::configuration, "HMAC keys have no PEM form; save the ring as a JWK set");
    }
    ossl::bio mem(BIO_new(BIO_s_secmem()));
    if (!mem) return make_error(errc::internal, "cannot allocate a memory BIO");
    if (PEM_write_bio_PrivateKey(mem.get(), rk.key.pkey(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
      return make_error(errc::internal, "cannot write the key as PEM");
    }
    char* data = nullptr;
    const long n = BIO_get_mem_data(mem.get(), &data);
    if (n <= 0 || data == nullptr) return make_error(errc::internal, "cannot write the key as PEM");
    out.append(data, static_cast<std::size_t>(n));
  }
  return out;  // the secure-heap BIOs are wiped as they are freed; the caller wipes `out`
}

}  // namespace tokenward
