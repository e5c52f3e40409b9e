// Tokens of tokenward's own ("custom") auth provider, for local development and debug logins.
//
// Access tokens are HS256 JWTs (header typ "at+jwt", RFC 9068) carrying iss, sub, email,
// cognito:groups, scope, iat, exp, jti, sid and token_use "access", plus any extra claims the
// caller adds (under names none of those, see is_reserved_access_claim). Refresh tokens are
// not JWTs at all: "twr_" followed by 256 random bits in base64url, so neither kind can pass as
// the other.
//
// Every key comes from the one configured secret through HKDF-SHA256 (RFC 5869) with a label per
// purpose, so the signing key, the key that hashes refresh tokens for storage and the key that
// derives a rotated refresh token are independent:
//   signing key    = HKDF(secret, salt "", info "tokenward/custom/access-token/v1", 32 bytes)
//   hash key       = HKDF(secret, salt "", info "tokenward/custom/refresh-hash/v1", 32 bytes)
//   successor key  = HKDF(secret, salt "", info "tokenward/custom/refresh-successor/v1", 32 bytes)
// A stored refresh token hash is hex(HMAC-SHA256(hash key, token)). The refresh token that replaces
// token T on rotation is "twr_" + base64url(HMAC-SHA256(successor key, T)): a duplicate refresh of T
// inside the grace window can then hand out the same new token without it ever being stored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenward/errc.hpp"
#include "tokenward/json.hpp"
#include "tokenward/jwk.hpp"
#include "tokenward/verifier.hpp"

namespace tokenward {

inline constexpr std::size_t kMinDebugSecretBytes = 32;
inline constexpr std::string_view kRefreshTokenPrefix = "twr_";
inline constexpr std::string_view kAccessTokenTyp = "at+jwt";
// The most an access token's extra claims may take, serialised as JSON.
inline constexpr std::size_t kMaxExtraClaimsBytes = 4096;

// Whether `name` is a claim an access token sets itself (or a registered one): extra claims may
// not use it.
[[nodiscard]] bool is_reserved_access_claim(std::string_view name) noexcept;

// Who an access token is for. `scopes` become the space-separated "scope" claim.
struct debug_identity {
  std::string sub;
  std::string email;
  std::vector<std::string> groups;
  std::vector<std::string> scopes;
  std::string sid;  // the session (refresh-token family) the token was minted in; empty: none
};

struct debug_token_options {
  std::string issuer = "tokenward";
  double leeway = 0;                  // seconds, for exp and iat
  std::size_t max_token_bytes = 8192;  // access tokens are small; anything larger is refused unread
};

class debug_tokens {
 public:
  // `secret` must hold at least kMinDebugSecretBytes bytes.
  static result<std::shared_ptr<const debug_tokens>> create(std::string_view secret, debug_token_options opts);
  // A secret of 32 random bytes that lives only inside this object (and dies with the process).
  static result<std::shared_ptr<const debug_tokens>> create_random(debug_token_options opts);

  // Mints an access token issued at `iat` (whole seconds) that lives `lifetime` seconds. An empty
  // `jti` means a fresh random one; passing the jti and iat of an earlier token re-creates it
  // byte for byte. `extra` (a JSON object, or null for none) adds claims of the caller's own: a
  // reserved name (is_reserved_access_claim), more than kMaxExtraClaimsBytes, or a token past
  // max_token_bytes is errc::configuration.
  [[nodiscard]] result<std::string> issue_access(const debug_identity& who, std::int64_t iat, std::int64_t lifetime,
                                                 std::string_view jti, const json& extra = nullptr) const;
  // Signature, typ, issuer, time claims, then token_use == "access" and the claim types.
  [[nodiscard]] result<json_doc> verify_access(std::string_view token, double now) const;

  // A new refresh token: the prefix and 256 random bits in base64url.
  [[nodiscard]] static result<std::string> new_refresh_token();
  // The refresh token that replaces `previous` on rotation (deterministic, see above).
  [[nodiscard]] result<std::string> successor_refresh_token(std::string_view previous) const;
  // hex(HMAC-SHA256(hash key, token)): what a store keeps instead of the token.
  [[nodiscard]] result<std::string> refresh_token_hash(std::string_view token) const;
  // Whether `token` has the exact shape of a refresh token (prefix + 43 base64url characters).
  [[nodiscard]] static bool is_refresh_token(std::string_view token) noexcept;
  // `bytes` random bytes in base64url, for ids (jti, session families).
  [[nodiscard]] static result<std::string> random_id(std::size_t bytes);

  [[nodiscard]] const std::string& issuer() const noexcept { return opts_.issuer; }

 private:
  debug_tokens(debug_token_options opts, jwk signing_key, std::shared_ptr<verifier> v, secret_bytes hash_key,
               secret_bytes successor_key);

  debug_token_options opts_;
  jwk signing_key_;
  std::shared_ptr<verifier> verifier_;
  secret_bytes hash_key_;
  secret_bytes successor_key_;
};

}  // namespace tokenward
