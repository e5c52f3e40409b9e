// The verified-token cache: claims of tokens that already passed every check, keyed by the exact
// token text, so the same token seen again skips parsing and cryptography. Lives in the binding
// layer because what it keeps is the finished Python dict.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common.hpp"

namespace tokenward::bindings {

class token_cache {
 public:
  // Tokens longer than this are verified every time, so memory stays bounded by
  // capacity × (kMaxTokenBytes + claims).
  static constexpr std::size_t kMaxTokenBytes = 8 * 1024;

  static constexpr std::size_t kMaxCapacity = 1'000'000;

  // The cache of a `cache_size` argument: null for 0 (no cache); ConfigurationError past
  // kMaxCapacity.
  static std::shared_ptr<token_cache> make(std::size_t capacity, double leeway);

  token_cache(std::size_t capacity, double leeway) : capacity_(capacity), leeway_(leeway) {}
  token_cache(const token_cache&) = delete;
  token_cache& operator=(const token_cache&) = delete;

  // GIL held. A private copy of the cached claims, or a null object on a miss. An entry whose exp
  // has passed, or whose nbf or iat lies ahead (a clock set back), with the verifier's leeway, is
  // dropped and reported as a miss, so the full verification that follows raises
  // ExpiredTokenError or ImmatureTokenError exactly as it would have without the cache.
  py::object get(std::string_view token, double now);
  // GIL held. Remembers claims that just passed verification; tokens without a numeric exp are
  // never cached.
  void put(std::string_view token, const py::object& claims);
  // GIL held. Forgets everything (the key set changed).
  void clear();
  py::dict info();

 private:
  struct entry {
    std::string token;
    double exp;
    double not_before;  // the later of nbf and iat, or -infinity without either
    py::object claims;
  };
  using list_t = std::list<entry>;

  std::mutex mu_;
  list_t lru_;  // most recent first
  std::unordered_map<std::string_view, list_t::iterator> index_;  // views into entry::token
  std::size_t capacity_;
  double leeway_;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

// GIL held. The claims of `token` from `cache` (null: no cache) when it holds them, else from
// `verify()`, which checks the token in full (releasing the GIL itself) and returns its claims
// as a dict; claims that passed are remembered.
template <class Verify>
py::object through_cache(token_cache* cache, std::string_view token, double now, Verify&& verify) {
  if (cache != nullptr) {
    if (py::object hit = cache->get(token, now)) return hit;
  }
  py::object claims = verify();
  if (cache != nullptr) cache->put(token, claims);
  return claims;
}

}  // namespace tokenward::bindings
