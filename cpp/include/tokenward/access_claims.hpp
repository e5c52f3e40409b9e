// The claims rules of tokenward's own access tokens (the custom provider's: HS256 debug tokens and
// the key ring's), checked once, here, for both: `token_use` is "access", `sub` a non-empty string,
// `jti` a string, `email` and `scope` strings when present, `cognito:groups` an array of strings
// when present. The registered claims (iss, exp, iat, nbf, required names) are the verifier's
// claims_policy; these come after them (and after field decryption).
#pragma once

#include "tokenward/errc.hpp"
#include "tokenward/json_doc.hpp"

namespace tokenward {

// errc::invalid_claim naming the first rule `claims` breaks; ok otherwise.
status check_access_claims(simdjson::dom::element claims);

}  // namespace tokenward
