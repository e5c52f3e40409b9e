#include "tokenward/access_claims.hpp"

#include <string>
#include <string_view>

namespace tokenward {
namespace {

error not_access(std::string detail) { return make_error(errc::invalid_claim, std::move(detail)); }

}  // namespace

status check_access_claims(simdjson::dom::element claims) {
  simdjson::dom::object c;
  if (claims.get(c) != simdjson::SUCCESS) return make_error(errc::malformed, "JWT claims must be a JSON object");
  simdjson::dom::element v;
  auto has = [&](std::string_view name) { return c.at_key(name).get(v) == simdjson::SUCCESS; };
  if (!has("token_use") || !v.is_string() || v.get_string().value_unsafe() != "access") {
    return not_access("not an access token (token_use is not 'access')");
  }
  if (!has("sub") || !v.is_string() || v.get_string().value_unsafe().empty()) {
    return not_access("'sub' must be a non-empty string");
  }
  if (!has("jti") || !v.is_string()) return not_access("'jti' must be a string");
  if (has("email") && !v.is_string()) return not_access("'email' must be a string");
  if (has("scope") && !v.is_string()) return not_access("'scope' must be a string");
  if (has("cognito:groups")) {
    simdjson::dom::array groups;
    if (v.get(groups) != simdjson::SUCCESS) return not_access("'cognito:groups' must be an array of strings");
    for (const auto g : groups) {
      if (!g.is_string()) return not_access("'cognito:groups' must be an array of strings");
    }
  }
  return {};
}

}  // namespace tokenward
