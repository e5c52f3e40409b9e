// The verified-token cache: tokens that already passed every check, found again by the SHA-256 of
// their exact text, so the same token seen again skips the signature, the header and the claims
// checks. An entry keeps that digest and the claims in a compact form of their own (names as
// small numbers into a table of the cache's str objects, values as bytes), about a third of what
// the token text and a Python dict of its claims took; a hit builds a fresh dict from it. In
// front of the entries, a hot tier keeps the token text and the finished dict of the few most
// recently used tokens (kHotEntries), so a token seen again soon is answered without hashing or
// decoding: a copy of the dict. Lives in the binding layer because what it hands out is a Python
// dict.
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

  // Tokens of the hot tier (at most the capacity): a fixed cost of up to this many tokens and
  // dicts, whatever the capacity.
  static constexpr std::size_t kHotEntries = 64;

  // The cache of a `cache_size` argument: null for 0 (no cache); ConfigurationError past
  // kMaxCapacity.
  static std::shared_ptr<token_cache> make(std::size_t capacity, double leeway);

  token_cache(std::size_t capacity, double leeway)
      : capacity_(capacity), hot_capacity_(capacity < kHotEntries ? capacity : kHotEntries), leeway_(leeway) {}
  token_cache(const token_cache&) = delete;
  token_cache& operator=(const token_cache&) = delete;

  // GIL held. A private copy of the cached claims, or a null object on a miss. An entry whose exp
  // has passed, or whose nbf or iat lies ahead (a clock set back), with the verifier's leeway, is
  // dropped and reported as a miss, so the full verification that follows raises
  // ExpiredTokenError or ImmatureTokenError exactly as it would have without the cache.
  py::object get(std::string_view token, double now);
  // GIL held. Whether `token` is cached and still in its time (what get() would answer with
  // claims), without building them: for a caller that remembers what it made of the claims.
  // Counts a hit or a miss as get() does; an entry out of time is dropped.
  bool holds(std::string_view token, double now);
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
  struct hot_entry;
  struct entry {
    digest key{};  // SHA-256 of the token text
    double exp = 0;
    double not_before = 0;  // the later of nbf and iat, or -infinity without either
    std::string claims;     // the compact form (token_cache.cpp)
    bool hot = false;       // whether hot_it is its twin in the hot tier
    std::list<hot_entry>::iterator hot_it{};
  };
  using list_t = std::list<entry>;
  // A hot twin of an entry: it goes when its entry goes, and is found by the token text.
  struct hot_entry {
    std::string token;
    py::object claims;
    list_t::iterator cold;
  };
  using hot_list_t = std::list<hot_entry>;

  // mu_ held. `token` in the hot tier: a hit (counted; it moves to the front of both lists),
  // found but out of time (counted as a miss, its entry dropped), or absent (nothing counted).
  enum class hot_answer { hit, expired, absent };
  hot_answer hot_lookup(std::string_view token, double now, std::vector<py::object>& dropped);
  // mu_ held. Python objects that must be released go to `dropped`, released after the lock.
  void drop_hot(hot_list_t::iterator h, std::vector<py::object>& dropped);
  void drop_entry(list_t::iterator e, std::vector<py::object>& dropped);
  void add_hot(std::string_view token, list_t::iterator e, py::object claims, std::vector<py::object>& dropped);
  [[nodiscard]] bool out_of_time(const entry& e, double now) const {
    return now - leeway_ >= e.exp || now + leeway_ < e.not_before;
  }

  struct digest_hash {
    std::size_t operator()(std::string_view d) const noexcept;
  };

  std::mutex mu_;
  list_t lru_;  // most recent first
  std::unordered_map<std::string_view, list_t::iterator, digest_hash> index_;  // views into entry::key
  hot_list_t hot_;  // most recent first
  std::unordered_map<std::string_view, hot_list_t::iterator> hot_index_;  // views into hot_entry::token
  std::shared_ptr<const name_table> names_ = std::make_shared<const name_table>();
  std::unordered_map<std::string, std::uint16_t> name_ids_;
  std::size_t capacity_;
  std::size_t hot_capacity_;
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
