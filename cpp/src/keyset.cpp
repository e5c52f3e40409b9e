#include "tokenward/keyset.hpp"

#include <algorithm>

#include "jwk_members.hpp"

namespace tokenward {

namespace {

status check_count(std::size_t count, const jwks_limits& limits) {
  if (count <= limits.max_keys) return {};
  return make_error(errc::invalid_key, "the JWKS holds " + std::to_string(count) + " keys; at most " +
                                           std::to_string(limits.max_keys) + " are accepted");
}

}  // namespace

result<jwk_set> jwk_set::from_json_text(std::string_view text, const jwks_limits& limits) {
  auto parsed = jwk_detail::parse_key_text(text, json_limits{limits.max_bytes, 8}, "JWKS");
  if (!parsed) return make_error(errc::invalid_key, parsed.err().detail);
  if (!parsed->doc) return from_json(parsed->dom, limits);
  // The same steps as from_json below, on simdjson's DOM.
  simdjson::dom::object root;
  if (parsed->doc->root().get(root) != simdjson::SUCCESS) {
    return make_error(errc::invalid_key, "a JWKS must be a JSON object");
  }
  simdjson::dom::array entries;
  if (root.at_key("keys").get(entries) != simdjson::SUCCESS) {
    return make_error(errc::invalid_key, "a JWKS must have a 'keys' array");
  }
  // simdjson's size() stops counting at 0xFFFFFF.
  std::size_t count = entries.size();
  if (count >= 0xFFFFFF) {
    count = 0;
    for ([[maybe_unused]] const auto entry : entries) ++count;
  }
  TW_TRY(check_count(count, limits));
  jwk_set set;
  set.keys_.reserve(count);
  std::size_t index = 0;
  for (const auto entry : entries) set.add(index++, jwk_detail::read_members(entry));
  return set;
}

result<jwk_set> jwk_set::from_json(const json& j, const jwks_limits& limits) {
  if (!j.is_object()) return make_error(errc::invalid_key, "a JWKS must be a JSON object");
  auto it = j.find("keys");
  if (it == j.end() || !it->is_array()) return make_error(errc::invalid_key, "a JWKS must have a 'keys' array");
  TW_TRY(check_count(it->size(), limits));
  jwk_set set;
  set.keys_.reserve(it->size());
  std::size_t index = 0;
  for (const auto& entry : *it) set.add(index++, jwk_detail::read_members(entry));
  return set;
}

void jwk_set::add(std::size_t index, const jwk_detail::jwk_members& entry) {
  auto k = jwk::from_members(entry);
  if (k) {
    keys_.push_back(std::move(*k));
    return;
  }
  skipped_.push_back("key " + std::to_string(index) + ": " + k.err().detail);
  if (entry.kid.k == jwk_detail::member::kind::string) skipped_kids_.emplace_back(entry.kid.text);
}

bool jwk_set::mixes_symmetric_and_asymmetric() const noexcept {
  bool sym = false;
  bool asym = false;
  for (const auto& k : keys_) (k.is_symmetric() ? sym : asym) = true;
  return sym && asym;
}

const jwk* jwk_set::find(std::string_view kid, bool& ambiguous) const noexcept {
  const jwk* found = nullptr;
  ambiguous = false;
  for (const auto& k : keys_) {
    if (k.kid() == kid) {
      if (found != nullptr) {
        ambiguous = true;
        return nullptr;
      }
      found = &k;
    }
  }
  if (found != nullptr && std::find(skipped_kids_.begin(), skipped_kids_.end(), kid) != skipped_kids_.end()) {
    ambiguous = true;
    return nullptr;
  }
  return found;
}

}  // namespace tokenward
