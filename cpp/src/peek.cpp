#include "tokenward/peek.hpp"

#include "tokenward/base64url.hpp"
#include "tokenward/json_doc.hpp"

namespace tokenward {

std::optional<std::string> unverified_issuer(std::string_view token, std::size_t max_bytes) {
  if (token.size() > max_bytes) return std::nullopt;
  const auto first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const auto second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) return std::nullopt;
  auto payload = b64::decode(token.substr(first + 1, second - first - 1), kJsonPadding);
  if (!payload) return std::nullopt;
  auto doc = json_doc::parse(*payload, json_limits{max_bytes, 16}, "JWT claims");
  if (!doc) return std::nullopt;
  auto iss = doc->root()["iss"];
  std::string_view value;
  if (iss.error() || iss.get(value) != simdjson::SUCCESS) return std::nullopt;
  return std::string(value);
}

}  // namespace tokenward
