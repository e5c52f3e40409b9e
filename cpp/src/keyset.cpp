#include "tokenward/keyset.hpp"

#include <algorithm>

namespace tokenward {

result<jwk_set> jwk_set::from_json_text(std::string_view text, const jwks_limits& limits) {
  auto j = parse_json(text, json_limits{limits.max_bytes, 8}, "JWKS");
  if (!j) return make_error(errc::invalid_key, j.err().detail);
  return from_json(*j, limits);
}

result<jwk_set> jwk_set::from_json(const json& j, const jwks_limits& limits) {
  if (!j.is_object()) return make_error(errc::invalid_key, "a JWKS must be a JSON object");
  auto it = j.find("keys");
  if (it == j.end() || !it->is_array()) return make_error(errc::invalid_key, "a JWKS must have a 'keys' array");
  if (it->size() > limits.max_keys) {
    return make_error(errc::invalid_key, "the JWKS holds " + std::to_string(it->size()) + " keys; at most " +
                                             std::to_string(limits.max_keys) + " are accepted");
  }
  jwk_set set;
  set.keys_.reserve(it->size());
  std::size_t index = 0;
  for (const auto& entry : *it) {
    auto k = jwk::from_json(entry);
    if (k) {
      set.keys_.push_back(std::move(*k));
    } else {
      set.skipped_.push_back("key " + std::to_string(index) + ": " + k.err().detail);
      if (entry.is_object()) {
        if (auto kid = entry.find("kid"); kid != entry.end() && kid->is_string()) {
          set.skipped_kids_.push_back(kid->get<std::string>());
        }
      }
    }
    ++index;
  }
  return set;
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
