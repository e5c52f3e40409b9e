// jwk's core: the prepared HMAC and verification contexts, adoption of a checked key, secret
// (oct) keys, the public half. JSON import/export is in jwk_json.cpp, PEM import in jwk_pem.cpp,
// generation in jwk_generate.cpp, checks and the thumbprint in jwk_checks.cpp.
#include "tokenward/jwk.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

#include "jwk_detail.hpp"

namespace tokenward {

namespace {

EVP_MAC* hmac_implementation() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);  // kept for the process
  return mac;
}

}  // namespace

hmac_templates::hmac_templates(std::string_view secret) {
  EVP_MAC* mac = hmac_implementation();
  if (mac == nullptr) return;
  const std::array<alg, 3> algs{alg::HS256, alg::HS384, alg::HS512};
  for (std::size_t i = 0; i < algs.size(); ++i) {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    if (ctx == nullptr) continue;
    char md_name[16];
    const auto name = EVP_MD_get0_name(digest(algs[i]));
    std::snprintf(md_name, sizeof md_name, "%s", name != nullptr ? name : "");
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, md_name, 0),
                                 OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), params) != 1) {
      EVP_MAC_CTX_free(ctx);
      ossl::clear_errors();
      continue;
    }
    ctx_[i] = ctx;
  }
}

hmac_templates::~hmac_templates() {
  for (auto* c : ctx_) EVP_MAC_CTX_free(c);
}

EVP_MAC_CTX* hmac_templates::fresh(alg a) const noexcept {
  const std::size_t i = a == alg::HS256 ? 0 : a == alg::HS384 ? 1 : a == alg::HS512 ? 2 : 3;
  if (i > 2 || ctx_[i] == nullptr) return nullptr;
  return EVP_MAC_CTX_dup(ctx_[i]);
}

verify_contexts::verify_contexts(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) return;
  // Ed25519 has no EVP_PKEY_verify in OpenSSL 3.0, only the one-shot EVP_DigestVerify, after which
  // a context cannot be used again; copying this template is cheaper than a fresh init.
  ossl::md_ctx t(EVP_MD_CTX_new());
  if (t && EVP_DigestVerifyInit(t.get(), nullptr, nullptr, nullptr, key) == 1) eddsa_ = std::move(t);
  ossl::clear_errors();
}

ossl::pkey_ctx verify_contexts::take(alg a) noexcept {
  const auto i = static_cast<std::size_t>(a);
  const std::lock_guard lock(mu_);
  if (idle_count_[i] == 0) return {};
  return std::move(idle_[i][--idle_count_[i]]);
}

void verify_contexts::give_back(alg a, ossl::pkey_ctx ctx) noexcept {
  const auto i = static_cast<std::size_t>(a);
  {
    const std::lock_guard lock(mu_);
    if (idle_count_[i] < kIdlePerAlg) {
      idle_[i][idle_count_[i]++] = std::move(ctx);
      return;
    }
  }
  // A full pool: `ctx` is freed here, outside the lock.
}

namespace jwk_detail {

error key_error(std::string detail) { return make_error(errc::invalid_key, std::move(detail)); }

ossl::bignum to_bn(std::string_view bytes) {
  return ossl::bignum(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()), nullptr));
}

// BN_FLG_SECURE (BN_secure_new) also makes OSSL_PARAM_BLD_to_param put the value in the block
// that OSSL_PARAM_free wipes.
ossl::secret_bignum to_secret_bn(const secret_bytes& bytes) {
  ossl::secret_bignum bn(BN_secure_new());
  if (!bn || BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), bn.get()) == nullptr) return {};
  return bn;
}

std::string bn_bytes(const BIGNUM* bn, std::size_t pad_to) {
  const int n = BN_num_bytes(bn);
  std::string out(std::max<std::size_t>(static_cast<std::size_t>(n), pad_to), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  return out;
}

secret_bytes secret_bn_bytes(const BIGNUM* bn, std::size_t pad_to) {
  const int n = BN_num_bytes(bn);
  secret_bytes out(std::max<std::size_t>(static_cast<std::size_t>(n), pad_to));
  if (!out.empty()) BN_bn2binpad(bn, out.data(), static_cast<int>(out.size()));
  return out;
}

}  // namespace jwk_detail

using jwk_detail::key_error;

void jwk::adopt(EVP_PKEY* owned) {
  pkey_ = std::shared_ptr<EVP_PKEY>(owned, EVP_PKEY_free);
  contexts_ = std::make_shared<verify_contexts>(owned);
}

result<jwk> jwk::from_secret(std::string_view secret, std::optional<alg> a) {
  if (secret.empty()) return key_error("an HMAC key must not be empty");
  if (a && family(*a) != alg_family::hmac) return key_error("a secret key can only be used with HS256/384/512");
  if (jwk_detail::looks_like_key_text(secret)) {
    return key_error("this secret looks like a PEM, SSH or JWK key; asymmetric keys must not be used as HMAC secrets");
  }
  if (a && secret.size() < digest_size(*a)) {
    return key_error("an HMAC key for " + std::string(alg_name(*a)) + " must be at least " +
                     std::to_string(digest_size(*a)) + " bytes");
  }
  jwk k;
  k.type_ = key_type::oct;
  k.alg_ = a;
  k.private_ = true;
  k.secret_ = std::make_shared<const secret_bytes>(secret);
  k.hmac_ = std::make_shared<const hmac_templates>(secret);
  return k;
}

result<jwk> jwk::public_key() const {
  auto j = to_json(false);
  if (!j) return j.err();
  return from_json(*j);
}

}  // namespace tokenward
