// An immutable set of keys (RFC 7517 §5). Built once, then shared by any number of verifiers and
// threads without locks; a refresh builds a new set.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenward/jwk.hpp"

namespace tokenward {

struct jwks_limits {
  std::size_t max_bytes = 1 << 20;  // 1 MiB
  std::size_t max_keys = 100;
};

class jwk_set {
 public:
  jwk_set() = default;
  explicit jwk_set(std::vector<jwk> keys) : keys_(std::move(keys)) {}

  // Parses {"keys": [...]}. Keys of unknown type or algorithm, keys not for signatures and keys that
  // fail validation are skipped (and counted), never trusted; the set itself must be well-formed.
  static result<jwk_set> from_json_text(std::string_view text, const jwks_limits& limits = {});
  static result<jwk_set> from_json(const json& j, const jwks_limits& limits = {});

  [[nodiscard]] const std::vector<jwk>& keys() const noexcept { return keys_; }
  [[nodiscard]] std::size_t skipped() const noexcept { return skipped_.size(); }
  [[nodiscard]] const std::vector<std::string>& skipped_reasons() const noexcept { return skipped_; }
  [[nodiscard]] bool mixes_symmetric_and_asymmetric() const noexcept;
  // The single key with this kid, or nullptr; sets `ambiguous` when several keys share it.
  [[nodiscard]] const jwk* find(std::string_view kid, bool& ambiguous) const noexcept;

 private:
  // Imports one entry of the "keys" array (the `index`th), or records why it was skipped.
  void add(std::size_t index, const jwk_detail::jwk_members& entry);

  std::vector<jwk> keys_;
  std::vector<std::string> skipped_;
  // kids of skipped entries: a kid the published set uses more than once stays ambiguous even
  // when only one of its keys could be imported.
  std::vector<std::string> skipped_kids_;
};

}  // namespace tokenward
