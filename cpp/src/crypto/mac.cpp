#include "tokenward/crypto/mac.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>

namespace tokenward::crypto {
namespace {

EVP_MAC* hmac_implementation() noexcept {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);  // kept for the process
  return mac;
}

}  // namespace

result<hmac_sha256> hmac_sha256::create(std::string_view key) {
  EVP_MAC* mac = hmac_implementation();
  if (mac == nullptr) {
    ossl::clear_errors();
    return make_error(errc::internal, "HMAC unavailable");
  }
  ossl::mac_ctx ctx(EVP_MAC_CTX_new(mac));
  if (!ctx) return make_error(errc::internal, "out of memory");
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  static const unsigned char empty = 0;
  const auto* k = key.empty() ? &empty : reinterpret_cast<const unsigned char*>(key.data());
  if (EVP_MAC_init(ctx.get(), k, key.size(), params) != 1) {
    ossl::clear_errors();
    return make_error(errc::internal, "HMAC set-up failed");
  }
  return hmac_sha256(std::move(ctx));
}

result<sha256_mac> hmac_sha256::mac(std::string_view data) const {
  ossl::mac_ctx ctx(EVP_MAC_CTX_dup(keyed_.get()));
  sha256_mac out{};
  std::size_t len = 0;
  if (!ctx || EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size()) {
    ossl::clear_errors();
    return make_error(errc::internal, "HMAC failed");
  }
  return out;
}

result<hmac> hmac::create(mac_digest digest, std::string_view key) {
  EVP_MAC* mac = hmac_implementation();
  if (mac == nullptr) {
    ossl::clear_errors();
    return make_error(errc::internal, "HMAC unavailable");
  }
  char sha1[] = "SHA1";
  char sha256[] = "SHA256";
  char sha512[] = "SHA512";
  char* name = sha1;
  std::size_t size = 20;
  switch (digest) {
    case mac_digest::sha1: break;
    case mac_digest::sha256: name = sha256; size = 32; break;
    case mac_digest::sha512: name = sha512; size = 64; break;
  }
  ossl::mac_ctx ctx(EVP_MAC_CTX_new(mac));
  if (!ctx) return make_error(errc::internal, "out of memory");
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name, 0),
                               OSSL_PARAM_construct_end()};
  static const unsigned char empty = 0;
  const auto* k = key.empty() ? &empty : reinterpret_cast<const unsigned char*>(key.data());
  if (EVP_MAC_init(ctx.get(), k, key.size(), params) != 1 || EVP_MAC_CTX_get_mac_size(ctx.get()) != size) {
    ossl::clear_errors();
    return make_error(errc::internal, "HMAC set-up failed");
  }
  return hmac(std::move(ctx), size);
}

result<mac_value> hmac::mac(std::string_view data) const {
  ossl::mac_ctx ctx(EVP_MAC_CTX_dup(keyed_.get()));
  mac_value out;
  std::size_t len = 0;
  if (!ctx || EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out.bytes.data(), &len, out.bytes.size()) != 1 || len != size_) {
    ossl::clear_errors();
    return make_error(errc::internal, "HMAC failed");
  }
  out.size = len;
  return out;
}

bool equal_constant_time(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string to_hex(std::string_view bytes) {
  static constexpr std::string_view digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(digits[b >> 4U]);
    out.push_back(digits[b & 0x0FU]);
  }
  return out;
}

bool mac_from_hex(std::string_view hex, sha256_mac& out) noexcept {
  if (hex.size() != out.size() * 2) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if ((hi | lo) < 0) return false;
    out[i] = static_cast<unsigned char>((hi << 4) | lo);
  }
  return true;
}

}  // namespace tokenward::crypto
