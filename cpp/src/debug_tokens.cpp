#include "tokenward/debug_tokens.hpp"

#include <openssl/crypto.h>

#include <array>
#include <cstdint>

#include "tokenward/base64url.hpp"
#include "tokenward/crypto/kdf.hpp"
#include "tokenward/crypto/mac.hpp"
#include "tokenward/crypto/random.hpp"
#include "tokenward/jws.hpp"
#include "tokenward/ossl.hpp"

namespace tokenward {
namespace {

constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kRefreshRandomBytes = 32;  // 256 bits
constexpr std::size_t kRefreshEncodedChars = 43;  // base64url of 32 bytes, unpadded
constexpr std::size_t kJtiBytes = 16;
constexpr std::int64_t kMaxLifetime = std::int64_t{10} * 366 * 24 * 3600;
constexpr std::int64_t kMaxTime = std::int64_t{1} << 40;
constexpr std::size_t kMaxRefreshTokenBytes = 1024;
constexpr std::string_view kSigningInfo = "tokenward/custom/access-token/v1";
constexpr std::string_view kHashInfo = "tokenward/custom/refresh-hash/v1";
constexpr std::string_view kSuccessorInfo = "tokenward/custom/refresh-successor/v1";

std::string join_scopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) {
    if (!out.empty()) out.push_back(' ');
    out += s;
  }
  return out;
}

constexpr std::array<std::string_view, 16> kReservedClaims = {
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "token_use", "scope", "groups", "email", "cognito:groups",
    "client_id", "auth_time", "typ"};

}  // namespace

bool is_reserved_access_claim(std::string_view name) noexcept {
  for (const auto reserved : kReservedClaims) {
    if (name == reserved) return true;
  }
  return false;
}

debug_tokens::debug_tokens(debug_token_options opts, jwk signing_key, std::shared_ptr<verifier> v, secret_bytes hash_key,
                           secret_bytes successor_key)
    : opts_(std::move(opts)),
      signing_key_(std::move(signing_key)),
      verifier_(std::move(v)),
      hash_key_(std::move(hash_key)),
      successor_key_(std::move(successor_key)) {}

result<std::shared_ptr<const debug_tokens>> debug_tokens::create(std::string_view secret, debug_token_options opts) {
  if (secret.size() < kMinDebugSecretBytes) {
    return make_error(errc::configuration, "the secret must be at least " + std::to_string(kMinDebugSecretBytes) +
                                               " bytes long (it has " + std::to_string(secret.size()) + ")");
  }
  if (opts.issuer.empty()) return make_error(errc::configuration, "the issuer must not be empty");
  if (opts.leeway < 0) return make_error(errc::configuration, "leeway must not be negative");
  if (opts.max_token_bytes < 256) return make_error(errc::configuration, "max_token_bytes must be at least 256");

  // HKDF-SHA256 (RFC 5869) with an empty salt, the info naming the purpose.
  auto signing = crypto::hkdf_sha256(secret, {}, kSigningInfo, kKeyBytes);
  if (!signing) return signing.err();
  auto hash_key = crypto::hkdf_sha256(secret, {}, kHashInfo, kKeyBytes);
  if (!hash_key) return hash_key.err();
  auto successor_key = crypto::hkdf_sha256(secret, {}, kSuccessorInfo, kKeyBytes);
  if (!successor_key) return successor_key.err();

  auto key = jwk::from_secret(signing->view(), alg::HS256);
  if (!key) return key.err();

  verifier_options vo;
  vo.algorithms = {alg::HS256};
  vo.claims.issuers = {opts.issuer};
  vo.claims.leeway = opts.leeway;
  vo.claims.required = {"exp", "iat", "sub", "jti", "token_use"};
  vo.typ = std::string(kAccessTokenTyp);
  vo.access_token = true;
  vo.limits.max_token_bytes = opts.max_token_bytes;
  auto v = verifier::create(std::move(vo), std::make_shared<const jwk_set>(std::vector<jwk>{*key}), true);
  if (!v) return v.err();

  return std::shared_ptr<const debug_tokens>(new debug_tokens(std::move(opts), std::move(*key), std::move(*v),
                                                              std::move(*hash_key), std::move(*successor_key)));
}

result<std::shared_ptr<const debug_tokens>> debug_tokens::create_random(debug_token_options opts) {
  auto secret = crypto::random_secret(kKeyBytes);
  if (!secret) return secret.err();
  return create(secret->view(), std::move(opts));
}

result<std::string> debug_tokens::issue_access(const debug_identity& who, std::int64_t iat, std::int64_t lifetime,
                                               std::string_view jti, const json& extra) const {
  if (!extra.is_null()) {
    if (!extra.is_object()) return make_error(errc::configuration, "extra claims must be a JSON object");
    for (const auto& [name, value] : extra.items()) {
      if (name.empty()) return make_error(errc::configuration, "an extra claim needs a name");
      if (is_reserved_access_claim(name)) {
        return make_error(errc::configuration, "the claim '" + name + "' is reserved: an access token sets it itself");
      }
    }
  }
  if (who.sub.empty()) return make_error(errc::configuration, "an access token needs a subject");
  if (lifetime <= 0 || lifetime > kMaxLifetime) {
    return make_error(errc::configuration, "the access token lifetime must be between 1 second and 10 years");
  }
  if (iat < 0 || iat > kMaxTime) return make_error(errc::configuration, "the issue time is out of range");
  std::string id;
  if (jti.empty()) {
    auto r = random_id(kJtiBytes);
    if (!r) return r.err();
    id = std::move(*r);
  } else {
    id = std::string(jti);
  }
  json claims = json::object();
  claims["iss"] = opts_.issuer;
  claims["sub"] = who.sub;
  if (!who.email.empty()) claims["email"] = who.email;
  claims["cognito:groups"] = who.groups;
  claims["scope"] = join_scopes(who.scopes);
  claims["iat"] = iat;
  claims["exp"] = iat + lifetime;
  claims["jti"] = std::move(id);
  if (!who.sid.empty()) claims["sid"] = who.sid;
  claims["token_use"] = "access";
  if (extra.is_object()) {
    std::string extra_text;
    try {
      extra_text = extra.dump(-1, ' ', false, json::error_handler_t::strict);
    } catch (const json::exception&) {
      return make_error(errc::configuration, "extra claims must be valid UTF-8");
    }
    if (extra_text.size() > kMaxExtraClaimsBytes) {
      return make_error(errc::configuration, "the extra claims take " + std::to_string(extra_text.size()) +
                                                 " bytes as JSON, more than " +
                                                 std::to_string(kMaxExtraClaimsBytes));
    }
    for (const auto& [name, value] : extra.items()) claims[name] = value;
  }
  json header = json::object();
  header["alg"] = "HS256";
  header["typ"] = std::string(kAccessTokenTyp);
  std::string payload;
  try {
    payload = claims.dump(-1, ' ', false, json::error_handler_t::strict);
  } catch (const json::exception&) {
    return make_error(errc::configuration, "access token claims must be valid UTF-8");
  }
  auto token = jws::encode(header, payload, alg::HS256, signing_key_);
  if (token && token->size() > opts_.max_token_bytes) {
    return make_error(errc::configuration, "the access token would take " + std::to_string(token->size()) +
                                               " bytes, more than the " + std::to_string(opts_.max_token_bytes) +
                                               " a verifier accepts");
  }
  return token;
}

result<json_doc> debug_tokens::verify_access(std::string_view token, double now) const {
  return verifier_->verify_doc(token, now);  // the access-token rules are the verifier's (access_token)
}

result<std::string> debug_tokens::new_refresh_token() {
  auto bytes = crypto::random_secret(kRefreshRandomBytes);
  if (!bytes) return bytes.err();
  std::string out(kRefreshTokenPrefix);
  b64::encode_append(out, bytes->view());
  return out;
}

bool debug_tokens::is_refresh_token(std::string_view token) noexcept {
  if (token.size() != kRefreshTokenPrefix.size() + kRefreshEncodedChars) return false;
  if (token.substr(0, kRefreshTokenPrefix.size()) != kRefreshTokenPrefix) return false;
  const auto decoded = b64::decode(token.substr(kRefreshTokenPrefix.size()));
  return decoded && decoded->size() == kRefreshRandomBytes;
}

result<std::string> debug_tokens::successor_refresh_token(std::string_view previous) const {
  if (!is_refresh_token(previous)) return make_error(errc::malformed, "not a refresh token");
  auto mac = jws::hmac(alg::HS256, successor_key_.view(), previous);
  if (!mac) return mac.err();
  std::string out(kRefreshTokenPrefix);
  b64::encode_append(out, *mac);
  OPENSSL_cleanse(mac->data(), mac->size());
  return out;
}

result<std::string> debug_tokens::refresh_token_hash(std::string_view token) const {
  if (token.size() > kMaxRefreshTokenBytes) return make_error(errc::malformed, "refresh token is too long");
  auto mac = jws::hmac(alg::HS256, hash_key_.view(), token);
  if (!mac) return mac.err();
  return crypto::to_hex(*mac);
}

result<std::string> debug_tokens::random_id(std::size_t bytes) {
  if (bytes == 0 || bytes > 64) return make_error(errc::configuration, "an id has between 1 and 64 random bytes");
  auto raw = crypto::random_bytes(bytes);
  if (!raw) return raw.err();
  return b64::encode(*raw);
}

}  // namespace tokenward
