#include "tokenward/jwks_cache.hpp"

#include <algorithm>
#include <cmath>

namespace tokenward {

namespace {

bool non_negative(double v) { return !std::isnan(v) && v >= 0; }

}  // namespace

jwks_cache::jwks_cache(jwks_cache_options opts) : opts_(std::move(opts)), snap_(std::make_shared<const snapshot>()) {}

result<std::shared_ptr<jwks_cache>> jwks_cache::create(jwks_cache_options opts) {
  if (!non_negative(opts.ttl) || opts.ttl == 0) return make_error(errc::configuration, "ttl must be > 0");
  if (!non_negative(opts.cooldown) || std::isinf(opts.cooldown)) {
    return make_error(errc::configuration, "cooldown must be a finite number >= 0");
  }
  if (!non_negative(opts.max_stale)) return make_error(errc::configuration, "max_stale must be >= 0");
  if (opts.limits.max_keys < 1) return make_error(errc::configuration, "max_keys must be at least 1");
  return std::shared_ptr<jwks_cache>(new jwks_cache(std::move(opts)));
}

jwks_cache::decision jwks_cache::plan(ask what, double now) {
  std::lock_guard lock(mu_);
  auto snap = snap_.load();
  const bool usable = snap->usable(now);
  if (what == ask::keys && usable && now < snap->fresh_until) return {action::use, 0, std::move(snap)};
  if (flight_ != 0) {
    // Someone is fetching. Callers that only need keys keep using the cached ones meanwhile.
    if (usable && what == ask::keys) return {action::use, 0, std::move(snap)};
    return {action::wait, flight_, std::move(snap)};
  }
  const bool cooled = !attempted_at_ || now >= *attempted_at_ + opts_.cooldown;
  if (!cooled && what != ask::force) return {action::use, 0, std::move(snap)};
  attempted_at_ = now;
  ++fetches_;
  flight_ = next_ticket_++;
  return {action::fetch, flight_, std::move(snap)};
}

result<jwk_set> jwks_cache::parse(std::string_view body) const {
  auto set = jwk_set::from_json_text(body, opts_.limits);
  if (!set) return make_error(errc::invalid_key, "not a usable JWKS: " + set.err().detail);
  if (!opts_.allow_secret_keys &&
      std::any_of(set->keys().begin(), set->keys().end(), [](const jwk& k) { return k.is_symmetric(); })) {
    return make_error(errc::invalid_key, "the set holds secret (oct) keys; a public JWKS never does");
  }
  if (set->keys().empty()) {
    std::string why;
    const auto& skipped = set->skipped_reasons();
    for (std::size_t i = 0; i < skipped.size() && i < 3; ++i) why += (i ? "; " : "") + skipped[i];
    return make_error(errc::invalid_key, "no usable key (" + (why.empty() ? std::string("the set is empty") : why) + ")");
  }
  return set;
}

jwks_cache::settled jwks_cache::complete(std::uint64_t ticket, std::string_view body, double now) {
  return settle(ticket, parse(body), now);  // parsing needs no lock
}

jwks_cache::settled jwks_cache::fail(std::uint64_t ticket, std::string reason, double now) {
  return settle(ticket, make_error(errc::internal, std::move(reason)), now);
}

jwks_cache::settled jwks_cache::settle(std::uint64_t ticket, result<jwk_set> parsed, double now) {
  std::lock_guard lock(mu_);
  if (flight_ == ticket) flight_ = 0;
  const auto old = snap_.load();
  settled out;
  if (parsed) {
    auto next = std::make_shared<snapshot>();
    next->generation = old->generation + 1;
    next->keys = std::make_shared<const jwk_set>(std::move(*parsed));
    next->fresh_until = now + opts_.ttl;
    next->usable_until = now + opts_.ttl + opts_.max_stale;
    out.what = outcome::swapped;
    out.key_count = next->keys->keys().size();
    snap_.store(std::move(next));
    last_error_.reset();
    return out;
  }
  out.error = parsed.err().detail;
  last_error_ = out.error;
  if (old->usable(now)) {
    out.what = outcome::kept_stale;
    out.seconds_left = old->usable_until - now;
    return out;
  }
  if (old->keys) {  // past the stale bound: drop them for good
    auto next = std::make_shared<snapshot>(*old);
    next->keys.reset();
    next->usable_until = now;
    snap_.store(std::move(next));
  }
  out.what = outcome::unavailable;
  return out;
}

status jwks_cache::install(std::shared_ptr<const jwk_set> keys, double now) {
  if (!keys) return make_error(errc::configuration, "no keys given");
  if (!opts_.allow_secret_keys &&
      std::any_of(keys->keys().begin(), keys->keys().end(), [](const jwk& k) { return k.is_symmetric(); })) {
    return make_error(errc::configuration, "this cache does not hold secret (oct) keys");
  }
  std::lock_guard lock(mu_);
  const auto old = snap_.load();
  auto next = std::make_shared<snapshot>();
  next->generation = old->generation + 1;
  next->keys = std::move(keys);
  next->fresh_until = now + opts_.ttl;
  next->usable_until = now + opts_.ttl + opts_.max_stale;
  snap_.store(std::move(next));
  last_error_.reset();
  return {};
}

bool jwks_cache::in_flight(std::uint64_t ticket) const {
  std::lock_guard lock(mu_);
  return ticket != 0 && flight_ == ticket;
}

std::uint64_t jwks_cache::fetch_attempts() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

std::optional<std::string> jwks_cache::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

}  // namespace tokenward
