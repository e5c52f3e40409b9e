// The policy of a remote key set's cache: when keys are fresh, when a fetch is due, who runs it,
// how long the last good keys outlive failed fetches. It never opens a socket. A caller asks plan();
// when a fetch is due, exactly one caller gets a ticket, does the request itself (in Python: httpx,
// sync or async) and hands back the body (complete) or the failure (fail). Parsing, the caps on
// size and key count, and the swap of the key set happen here.
//
// Every decision takes `now` (seconds on a monotonic clock chosen by the caller), so tests drive
// time. The current snapshot is an atomically swapped shared_ptr: readers (a verifier about to check
// a signature) never lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "tokenward/errc.hpp"
#include "tokenward/keyset.hpp"

namespace tokenward {

struct jwks_cache_options {
  double ttl = 600.0;         // keys are fresh this long after a good fetch (may be +infinity)
  double cooldown = 30.0;     // at most one fetch started per cooldown, whatever asks
  double max_stale = 86400.0;  // last good keys stay usable this long past ttl while fetches fail
  jwks_limits limits;         // caps on the fetched document
  bool allow_secret_keys = false;  // a published JWKS never holds oct keys; installed sets may
};

class jwks_cache {
 public:
  static constexpr double kNever = -std::numeric_limits<double>::infinity();

  // What the cache holds, replaced as a whole.
  struct snapshot {
    std::uint64_t generation = 0;  // bumped by each good fetch or install; 0: never had keys
    std::shared_ptr<const jwk_set> keys;  // null: no usable keys
    double fresh_until = kNever;   // before this, no refresh is due
    double usable_until = kNever;  // before this, the keys may be used (the stale bound)

    [[nodiscard]] bool usable(double now) const noexcept { return keys != nullptr && now < usable_until; }
    [[nodiscard]] bool fresh(double now) const noexcept { return keys != nullptr && now < fresh_until; }
  };

  enum class ask {
    keys,     // usable keys; a fetch only if none are usable or the fresh period is over
    refresh,  // new keys wanted (an unknown kid), within the cooldown
    force,    // new keys now, whatever the cooldown (start-up warm-up)
  };
  enum class action {
    use,    // take snapshot (which may hold no usable keys: then the keys are unavailable)
    wait,   // a fetch is under way (ticket): wait for it, then read current()
    fetch,  // the caller must fetch now and report with complete(ticket, ...) or fail(ticket, ...)
  };
  struct decision {
    action what = action::use;
    std::uint64_t ticket = 0;
    std::shared_ptr<const snapshot> snap;
  };

  // What settling a fetch did, for the caller's log.
  enum class outcome {
    swapped,      // new keys are in
    kept_stale,   // the fetch failed; the last good keys serve `seconds_left` more
    unavailable,  // the fetch failed and no usable keys remain
  };
  struct settled {
    outcome what = outcome::unavailable;
    double seconds_left = 0;  // kept_stale: how long the last good keys remain usable
    std::size_t key_count = 0;  // swapped: keys in the new set
    std::string error;  // why the fetch failed (empty when swapped)
  };

  static result<std::shared_ptr<jwks_cache>> create(jwks_cache_options opts);

  jwks_cache(const jwks_cache&) = delete;
  jwks_cache& operator=(const jwks_cache&) = delete;

  [[nodiscard]] decision plan(ask what, double now);
  // The fetch of `ticket` brought `body`: parse it (with the caps), refuse a set with no usable key
  // or with secret keys, and swap it in. A body that fails counts as a failed fetch.
  settled complete(std::uint64_t ticket, std::string_view body, double now);
  settled fail(std::uint64_t ticket, std::string reason, double now);
  // Puts a set in directly (a key ring publishing its keys, a test); counts as a good fetch.
  status install(std::shared_ptr<const jwk_set> keys, double now);

  [[nodiscard]] std::shared_ptr<const snapshot> current() const noexcept { return snap_.load(); }
  [[nodiscard]] bool in_flight(std::uint64_t ticket) const;
  [[nodiscard]] std::uint64_t fetch_attempts() const;
  [[nodiscard]] std::optional<std::string> last_error() const;
  [[nodiscard]] const jwks_cache_options& options() const noexcept { return opts_; }

 private:
  explicit jwks_cache(jwks_cache_options opts);
  settled settle(std::uint64_t ticket, result<jwk_set> parsed, double now);
  result<jwk_set> parse(std::string_view body) const;

  const jwks_cache_options opts_;
  std::atomic<std::shared_ptr<const snapshot>> snap_;
  mutable std::mutex mu_;  // guards the fields below and every change of snap_
  std::uint64_t flight_ = 0;  // ticket of the fetch under way; 0: none
  std::uint64_t next_ticket_ = 1;
  std::optional<double> attempted_at_;
  std::uint64_t fetches_ = 0;
  std::optional<std::string> last_error_;
};

}  // namespace tokenward
