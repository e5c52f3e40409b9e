// libFuzzer target: arbitrary bytes as a compact JWS through the whole verifier (parse, key
// selection, signature, claims) against a fixed key set of every key type.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "tokenward/verifier.hpp"

namespace {

std::shared_ptr<tokenward::verifier> make_verifier() {
  using namespace tokenward;
  std::vector<jwk> keys;
  for (alg a : {alg::RS256, alg::ES256, alg::ES384, alg::ES512, alg::EdDSA}) {
    auto k = jwk::generate(a);
    if (k) {
      auto pub = k->public_key();
      if (pub) keys.push_back(pub->with_kid(std::string(alg_name(a))));
    }
  }
  verifier_options opts;
  opts.algorithms = {alg::RS256, alg::PS256, alg::ES256, alg::ES384, alg::ES512, alg::EdDSA};
  opts.claims.issuers = {"https://issuer.example"};
  opts.claims.audiences = {"api"};
  auto v = verifier::create(std::move(opts), std::make_shared<const jwk_set>(std::move(keys)), false);
  return v ? *v : nullptr;
}

std::shared_ptr<tokenward::verifier> make_hmac_verifier() {
  using namespace tokenward;
  auto k = jwk::from_secret("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", alg::HS256);
  verifier_options opts;
  opts.algorithms = {alg::HS256, alg::HS384, alg::HS512};
  auto v = verifier::create(std::move(opts), std::make_shared<const jwk_set>(std::vector<jwk>{*k}), true);
  return v ? *v : nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto asym = make_verifier();
  static const auto hmac = make_hmac_verifier();
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  (void)asym->verify(token, 1.7e9);
  (void)hmac->verify(token, 1.7e9);
  (void)hmac->verify_signature(token);
  return 0;
}
