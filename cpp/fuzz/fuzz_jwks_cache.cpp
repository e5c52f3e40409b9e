// libFuzzer target: the JWKS cache's policy under arbitrary sequences of asks, reports and time
// steps, with arbitrary bytes as fetched bodies. Aborts if a second fetch is handed out while one is
// under way, or if the cache reports usable keys it does not hold.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tokenward/jwks_cache.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tokenward;
  jwks_cache_options opts;
  opts.ttl = 10;
  opts.cooldown = 3;
  opts.max_stale = 20;
  auto made = jwks_cache::create(opts);
  if (!made) std::abort();
  auto& cache = *made;
  double now = 0;
  std::uint64_t ticket = 0;
  std::size_t i = 0;
  while (i < size) {
    const std::uint8_t op = data[i++];
    now += op >> 4;
    switch (op & 3) {
      case 0: {
        const auto what = static_cast<jwks_cache::ask>(((op >> 2) & 3) % 3);
        const auto d = cache->plan(what, now);
        if (d.what == jwks_cache::action::fetch) {
          if (ticket != 0) std::abort();  // single flight
          ticket = d.ticket;
        }
        if (d.what == jwks_cache::action::wait && d.ticket != ticket) std::abort();
        break;
      }
      case 1:
        if (ticket != 0) {
          const std::size_t n = std::min<std::size_t>(size - i, static_cast<std::size_t>(op) * 8);
          (void)cache->complete(ticket, std::string_view(reinterpret_cast<const char*>(data + i), n), now);
          i += n;
          ticket = 0;
        }
        break;
      case 2:
        if (ticket != 0) {
          (void)cache->fail(ticket, "fuzz", now);
          ticket = 0;
        }
        break;
      default: {
        const auto snap = cache->current();
        if (snap->usable(now) && (!snap->keys || snap->keys->keys().empty())) std::abort();
        break;
      }
    }
  }
  return 0;
}
