// Registered claim checks (RFC 7519 §4.1): time claims with leeway, exact issuer, audience.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tokenward/errc.hpp"
#include "tokenward/json.hpp"
#include "tokenward/json_doc.hpp"

namespace tokenward {

struct claims_policy {
  std::vector<std::string> issuers;    // empty: iss not checked
  std::vector<std::string> audiences;  // empty: a token that names an audience is refused
  double leeway = 0;                   // seconds, applied to exp, nbf and iat
  std::vector<std::string> required;   // claims that must be present
};

// Checks a claims object (as json_doc parsed it) at time `now` (seconds since the epoch).
status check_claims(simdjson::dom::element claims, const claims_policy& policy, double now);

// Media type comparison of RFC 7515 §4.1.9: case-insensitive, "application/" may be omitted.
bool typ_matches(std::string_view header_typ, std::string_view expected);

}  // namespace tokenward
