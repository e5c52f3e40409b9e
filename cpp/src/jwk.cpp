// jwk's core: the prepared HMAC and verification contexts, adoption of a checked key, secret
// (oct) keys, the public half. JSON import/export is in jwk_json.cpp, PEM import in jwk_pem.cpp,
// generation in jwk_generate.cpp, checks and the thumbprint in jwk_checks.cpp.
#include "tokenward/jwk.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "jwk_detail.hpp"

namespace tokenward {

namespace {

constexpr std::size_t hmac_index(alg a) noexcept {
  return a == alg::HS256 ? 0 : a == alg::HS384 ? 1 : a == alg::HS512 ? 2 : 3;
}

// A hash context that has absorbed `block` (K0 ^ pad); null if OpenSSL failed.
ossl::md_ctx absorbed(const EVP_MD* md, const unsigned char* block, std::size_t size) {
  ossl::md_ctx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 || EVP_DigestUpdate(ctx.get(), block, size) != 1) {
    ossl::clear_errors();
    return {};
  }
  return ctx;
}

// Largest block of the HMAC digests (SHA-384 and SHA-512: 128 bytes).
constexpr std::size_t kMaxHmacBlock = 128;

// A scratch hash context per thread, reused by every MAC the thread computes.
EVP_MD_CTX* scratch_context() noexcept {
  thread_local const ossl::md_ctx scratch(EVP_MD_CTX_new());
  return scratch.get();
}

}  // namespace

hmac_templates::hmac_templates(std::string_view secret) {
  const std::array<alg, 3> algs{alg::HS256, alg::HS384, alg::HS512};
  for (std::size_t i = 0; i < algs.size(); ++i) {
    const EVP_MD* md = digest(algs[i]);
    const int block_size = md != nullptr ? EVP_MD_get_block_size(md) : 0;
    if (block_size <= 0 || static_cast<std::size_t>(block_size) > kMaxHmacBlock) continue;
    const auto block = static_cast<std::size_t>(block_size);
    // K0 (RFC 2104 §2): the key hashed when longer than the block, then zero-padded.
    secret_bytes k0(block);
    if (secret.size() > block) {
      unsigned int len = 0;
      if (EVP_Digest(secret.data(), secret.size(), k0.data(), &len, md, nullptr) != 1) {
        ossl::clear_errors();
        continue;
      }
    } else if (!secret.empty()) {
      std::memcpy(k0.data(), secret.data(), secret.size());
    }
    secret_bytes pad(block);
    for (std::size_t j = 0; j < block; ++j) pad.data()[j] = static_cast<unsigned char>(k0.data()[j] ^ 0x36U);
    ossl::md_ctx inner = absorbed(md, pad.data(), block);
    for (std::size_t j = 0; j < block; ++j) pad.data()[j] = static_cast<unsigned char>(k0.data()[j] ^ 0x5CU);
    ossl::md_ctx outer = absorbed(md, pad.data(), block);
    if (inner && outer) pads_[i] = pads{std::move(inner), std::move(outer)};
  }
}

bool hmac_templates::mac(alg a, std::string_view data, unsigned char* out) const noexcept {
  const std::size_t i = hmac_index(a);
  if (i >= pads_.size() || !pads_[i].inner) return false;
  EVP_MD_CTX* ctx = scratch_context();
  std::array<unsigned char, EVP_MAX_MD_SIZE> inner{};
  unsigned int inner_len = 0;
  unsigned int out_len = 0;
  const bool ok = ctx != nullptr && EVP_MD_CTX_copy_ex(ctx, pads_[i].inner.get()) == 1 &&
                  EVP_DigestUpdate(ctx, data.data(), data.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, inner.data(), &inner_len) == 1 &&
                  EVP_MD_CTX_copy_ex(ctx, pads_[i].outer.get()) == 1 &&
                  EVP_DigestUpdate(ctx, inner.data(), inner_len) == 1 && EVP_DigestFinal_ex(ctx, out, &out_len) == 1;
  OPENSSL_cleanse(inner.data(), inner.size());
  if (!ok) ossl::clear_errors();
  return ok && out_len == digest_size(a);
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
