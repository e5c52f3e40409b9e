// The verified-token cache: tokens that already passed every check, found again by the SHA-256 of
// their exact text, so the same token seen again skips the signature, the header and the claims
// checks. An entry keeps that digest and the claims in a compact form of their own (names as
// small numbers into a table of the cache's str objects, values as bytes), about a third of what
// the token text and a Python dict of its claims took; a hit builds a fresh dict from it. Lives
// in the binding layer because what it hands out is a Python dict.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common.hpp"

namespace tokenward::bindings {

class token_cache {
 public:
  // Tokens longer than this are verified every time, so memory stays bounded by
  // capacity × (compact claims of at most this size).
  static constexpr std::size_t kMaxTokenBytes = 8 * 1024;

  static constexpr std::size_t kMaxCapacity = 1'000'000;

  // Claim names kept as shared str objects; past this many distinct names, further names are
  // stored inline in each entry (and made afresh on each hit), so the table stays bounded.
  static constexpr std::size_t kMaxNames = 1024;

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
  // GIL held. Remembers claims that just passed verification; tokens without a numeric exp, and
  // claims holding anything but JSON values, are never cached.
  void put(std::string_view token, const py::object& claims);
  // GIL held. Forgets everything (the key set changed).
  void clear();
  py::dict info();

  using digest = std::array<unsigned char, 32>;
  // The claim names of the compact form, shared by every entry; replaced, never changed in place,
  // so a hit can keep using the table it started with.
  using name_table = std::vector<py::object>;

 private:
  struct entry {
    digest key{};  // SHA-256 of the token text
    double exp = 0;
    double not_before = 0;  // the later of nbf and iat, or -infinity without either
    std::string claims;     // the compact form (token_cache.cpp)
  };
  using list_t = std::list<entry>;

  struct digest_hash {
    std::size_t operator()(std::string_view d) const noexcept;
  };

  std::mutex mu_;
  list_t lru_;  // most recent first
  std::unordered_map<std::string_view, list_t::iterator, digest_hash> index_;  // views into entry::key
  std::shared_ptr<const name_table> names_ = std::make_shared<const name_table>();
  std::unordered_map<std::string, std::uint16_t> name_ids_;
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
