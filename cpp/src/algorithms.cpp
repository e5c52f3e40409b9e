#include "tokenward/algorithms.hpp"

#include <array>

namespace tokenward {
namespace {

struct alg_info {
  std::string_view name;
  alg_family fam;
  key_type kty;
  curve crv;
  std::size_t digest_bytes;
  const char* digest_name;
};

constexpr std::array<alg_info, kAlgCount> kAlgs{{
    {"HS256", alg_family::hmac, key_type::oct, curve::none, 32, "SHA256"},
    {"HS384", alg_family::hmac, key_type::oct, curve::none, 48, "SHA384"},
    {"HS512", alg_family::hmac, key_type::oct, curve::none, 64, "SHA512"},
    {"RS256", alg_family::rsa_pkcs1, key_type::rsa, curve::none, 32, "SHA256"},
    {"RS384", alg_family::rsa_pkcs1, key_type::rsa, curve::none, 48, "SHA384"},
    {"RS512", alg_family::rsa_pkcs1, key_type::rsa, curve::none, 64, "SHA512"},
    {"PS256", alg_family::rsa_pss, key_type::rsa, curve::none, 32, "SHA256"},
    {"PS384", alg_family::rsa_pss, key_type::rsa, curve::none, 48, "SHA384"},
    {"PS512", alg_family::rsa_pss, key_type::rsa, curve::none, 64, "SHA512"},
    {"ES256", alg_family::ecdsa, key_type::ec, curve::p256, 32, "SHA256"},
    {"ES384", alg_family::ecdsa, key_type::ec, curve::p384, 48, "SHA384"},
    {"ES512", alg_family::ecdsa, key_type::ec, curve::p521, 64, "SHA512"},
    {"EdDSA", alg_family::eddsa, key_type::okp, curve::ed25519, 0, nullptr},
}};

const alg_info& info(alg a) noexcept { return kAlgs[static_cast<std::size_t>(a)]; }

// Fetched once; OpenSSL keeps these alive for the process, so the verify path never fetches.
struct digests {
  EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD* sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  EVP_MD* sha512 = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  digests() = default;
  digests(const digests&) = delete;
  digests& operator=(const digests&) = delete;
  ~digests() {
    EVP_MD_free(sha256);
    EVP_MD_free(sha384);
    EVP_MD_free(sha512);
  }
};

const digests& all_digests() {
  static const digests d;  // thread-safe initialisation (C++11 magic statics)
  return d;
}

}  // namespace

std::optional<alg> alg_from_name(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kAlgs.size(); ++i) {
    if (kAlgs[i].name == name) return static_cast<alg>(i);
  }
  return std::nullopt;
}

std::string_view alg_name(alg a) noexcept { return info(a).name; }
alg_family family(alg a) noexcept { return info(a).fam; }
key_type required_key_type(alg a) noexcept { return info(a).kty; }
curve required_curve(alg a) noexcept { return info(a).crv; }
std::size_t digest_size(alg a) noexcept { return info(a).digest_bytes; }

const EVP_MD* digest(alg a) noexcept {
  const auto& d = all_digests();
  switch (info(a).digest_bytes) {
    case 32: return d.sha256;
    case 48: return d.sha384;
    case 64: return d.sha512;
    default: return nullptr;
  }
}

std::size_t ec_scalar_size(curve c) noexcept {
  switch (c) {
    case curve::p256: return 32;
    case curve::p384: return 48;
    case curve::p521: return 66;
    default: return 0;
  }
}

std::string_view curve_name(curve c) noexcept {
  switch (c) {
    case curve::p256: return "P-256";
    case curve::p384: return "P-384";
    case curve::p521: return "P-521";
    case curve::ed25519: return "Ed25519";
    default: return "";
  }
}

std::optional<curve> curve_from_name(std::string_view name) noexcept {
  if (name == "P-256") return curve::p256;
  if (name == "P-384") return curve::p384;
  if (name == "P-521") return curve::p521;
  if (name == "Ed25519") return curve::ed25519;
  return std::nullopt;
}

}  // namespace tokenward
