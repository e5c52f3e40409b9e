// The raw-OpenSSL floor for the benchmark: how long OpenSSL alone takes to check one JWS
// signature, with no token parsing, no JSON and no Python.
//
//   floor ALG JWK_FILE TOKEN_FILE [ROUNDS [MIN_SECONDS]]
//
// The key is imported by the core's own importer (tokenward::jwk::from_json_text), so OpenSSL sees
// exactly the EVP_PKEY tokenward verifies with. The token is split once, outside the timed loop:
// signing input = "header.payload", signature = base64url-decoded third part (ECDSA R||S is turned
// into the DER ECDSA-Sig-Value EVP_DigestVerify expects). Each timed verify is what a verifier
// must do at the least per token: a fresh EVP_MD_CTX, EVP_DigestVerifyInit with a prefetched
// digest, EVP_DigestVerify; for HS* a fresh EVP_MAC_CTX on a prefetched HMAC, init with the key,
// update, final, constant-time compare. EdDSA is checked by libsodium's
// crypto_sign_verify_detached on the key's raw 32 bytes, as tokenward's core does (OpenSSL's own
// EVP_DigestVerify is timed too and reported as "openssl_us_per_verify"). Prints the median µs
// per verify of ROUNDS timed rounds (each at least MIN_SECONDS long) as one JSON object on
// stdout; errors go to stderr, exit 1.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/opensslv.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "tokenward/algorithms.hpp"
#include "tokenward/base64url.hpp"
#include "tokenward/jwk.hpp"
#include "tokenward/ossl.hpp"

namespace {

using tokenward::alg;
using tokenward::alg_family;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "floor: %s\n", message.c_str());
  std::exit(1);
}

std::string read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die(std::string("cannot read ") + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == '\n' || s.front() == '\r' || s.front() == ' ')) s.remove_prefix(1);
  return s;
}

const char* digest_name(alg a) {
  switch (a) {
    case alg::HS256:
    case alg::RS256:
    case alg::PS256:
    case alg::ES256:
      return "SHA256";
    case alg::HS384:
    case alg::RS384:
    case alg::PS384:
    case alg::ES384:
      return "SHA384";
    case alg::HS512:
    case alg::RS512:
    case alg::PS512:
    case alg::ES512:
      return "SHA512";
    case alg::EdDSA:
      return nullptr;
  }
  return nullptr;
}

// JWS R||S (RFC 7518 §3.4) to the DER form OpenSSL verifies.
std::string ecdsa_raw_to_der(std::string_view raw) {
  if (raw.empty() || raw.size() % 2 != 0) die("ECDSA signature has an odd length");
  const std::size_t half = raw.size() / 2;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  tokenward::ossl::bignum r(BN_bin2bn(p, static_cast<int>(half), nullptr));
  tokenward::ossl::bignum s(BN_bin2bn(p + half, static_cast<int>(half), nullptr));
  std::unique_ptr<ECDSA_SIG, tokenward::ossl::deleter<ECDSA_SIG_free>> sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) die("out of memory");
  static_cast<void>(r.release());  // owned by sig now
  static_cast<void>(s.release());
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) die("cannot encode the ECDSA signature");
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

// One signature check, everything per-token done afresh; true when the signature is good.
class checker {
 public:
  enum class backend : std::uint8_t { openssl, sodium };

  checker(alg a, const tokenward::jwk& key, std::string input, std::string signature,
          backend b = backend::openssl)
      : alg_(a), key_(key), input_(std::move(input)), signature_(std::move(signature)), backend_(b) {
    if (backend_ == backend::sodium) {
      if (a != alg::EdDSA || sodium_init() < 0) die("libsodium is for EdDSA only, and must start");
      std::size_t len = raw_public_.size();
      if (EVP_PKEY_get_raw_public_key(key.pkey(), raw_public_.data(), &len) != 1 || len != 32) {
        die("cannot read the raw Ed25519 public key");
      }
    }
    const char* md = digest_name(a);
    if (tokenward::family(a) == alg_family::hmac) {
      mac_.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
      if (!mac_) die("HMAC is not available");
      md_name_ = md;
    } else if (md != nullptr) {
      md_.reset(EVP_MD_fetch(nullptr, md, nullptr));
      if (!md_) die(std::string("digest not available: ") + md);
    }
    if (tokenward::family(a) == alg_family::ecdsa) signature_ = ecdsa_raw_to_der(signature_);
  }

  bool operator()() const {
    if (backend_ == backend::sodium) return check_sodium();
    return tokenward::family(alg_) == alg_family::hmac ? check_hmac() : check_signature();
  }

 private:
  // What tokenward's core does for Ed25519: the raw public key (read from the EVP_PKEY per call
  // there, once here) and libsodium's one-shot check.
  bool check_sodium() const {
    unsigned char pub[32];
    std::size_t len = sizeof pub;
    if (EVP_PKEY_get_raw_public_key(key_.pkey(), pub, &len) != 1) return false;
    return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature_.data()),
                                       reinterpret_cast<const unsigned char*>(input_.data()),
                                       input_.size(), pub) == 0;
  }

  bool check_hmac() const {
    tokenward::ossl::mac_ctx ctx(EVP_MAC_CTX_new(mac_.get()));
    if (!ctx) return false;
    std::array<OSSL_PARAM, 2> params{
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(md_name_), 0),
        OSSL_PARAM_construct_end()};
    const std::string_view secret = key_.secret();
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    std::size_t out_len = 0;
    if (EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                     params.data()) != 1 ||
        EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(input_.data()),
                       input_.size()) != 1 ||
        EVP_MAC_final(ctx.get(), out.data(), &out_len, out.size()) != 1) {
      ERR_clear_error();
      return false;
    }
    return out_len == signature_.size() &&
           CRYPTO_memcmp(out.data(), signature_.data(), out_len) == 0;
  }

  bool check_signature() const {
    tokenward::ossl::md_ctx ctx(EVP_MD_CTX_new());
    if (!ctx) return false;
    EVP_PKEY_CTX* pctx = nullptr;
    if (EVP_DigestVerifyInit(ctx.get(), &pctx, md_.get(), nullptr, key_.pkey()) != 1) {
      ERR_clear_error();
      return false;
    }
    if (tokenward::family(alg_) == alg_family::rsa_pss &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) {
      ERR_clear_error();
      return false;
    }
    const int rc = EVP_DigestVerify(
        ctx.get(), reinterpret_cast<const unsigned char*>(signature_.data()), signature_.size(),
        reinterpret_cast<const unsigned char*>(input_.data()), input_.size());
    ERR_clear_error();
    return rc == 1;
  }

  alg alg_;
  const tokenward::jwk& key_;
  std::string input_;
  std::string signature_;
  tokenward::ossl::mac mac_;
  tokenward::ossl::md md_;
  const char* md_name_ = nullptr;
  backend backend_;
  std::array<unsigned char, 32> raw_public_{};
};

double seconds_for(const checker& check, long iterations) {
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < iterations; ++i) {
    if (!check()) die("the signature did not verify inside the timed loop");
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count();
}

// ROUNDS samples of µs per verify, after doubling the iteration count until one round takes
// MIN_SECONDS.
std::vector<double> timed_rounds(const checker& check, int rounds, double min_seconds) {
  long iterations = 1;
  while (seconds_for(check, iterations) < min_seconds) iterations *= 2;
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(rounds));
  for (int r = 0; r < rounds; ++r) {
    samples.push_back(seconds_for(check, iterations) / static_cast<double>(iterations) * 1e6);
  }
  return samples;
}

double median(std::vector<double> sorted) {
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || argc > 6) {
    std::fprintf(stderr, "usage: floor ALG JWK_FILE TOKEN_FILE [ROUNDS [MIN_SECONDS]]\n");
    return 2;
  }
  const std::optional<alg> a = tokenward::alg_from_name(argv[1]);
  if (!a) die(std::string("unknown algorithm ") + argv[1]);
  const int rounds = argc > 4 ? std::atoi(argv[4]) : 7;
  const double min_seconds = argc > 5 ? std::atof(argv[5]) : 0.2;
  if (rounds < 1 || !(min_seconds > 0.0)) die("ROUNDS must be >= 1 and MIN_SECONDS > 0");

  auto key = tokenward::jwk::from_json_text(trim(read_file(argv[2])));
  if (!key) die("the JWK does not import: " + key.err().detail);
  if (!key->fits(*a)) die(std::string("the key does not fit ") + argv[1]);

  const std::string token_text = read_file(argv[3]);
  const std::string_view token = trim(token_text);
  const std::size_t first = token.find('.');
  const std::size_t last = token.rfind('.');
  if (first == std::string_view::npos || first == last) die("the token is not a compact JWS");
  auto signature = tokenward::b64::decode(token.substr(last + 1));
  if (!signature) die("the signature is not canonical base64url");

  const std::string input(token.substr(0, last));
  const checker check(*a, *key, input, *signature,
                      *a == alg::EdDSA ? checker::backend::sodium : checker::backend::openssl);
  if (!check()) die("the signature does not verify");
  const std::vector<double> samples = timed_rounds(check, rounds, min_seconds);

  std::printf("{\"algorithm\": \"%s\", \"us_per_verify\": %.4f, ", argv[1], median(samples));
  std::printf("\"samples_us\": [");
  for (std::size_t i = 0; i < samples.size(); ++i) std::printf("%s%.4f", i == 0 ? "" : ", ", samples[i]);
  std::printf("], ");
  if (*a == alg::EdDSA) {
    const checker openssl_check(*a, *key, input, *signature, checker::backend::openssl);
    if (!openssl_check()) die("OpenSSL does not verify the signature");
    std::printf("\"backend\": \"libsodium %s\", ", sodium_version_string());
    std::printf("\"openssl_us_per_verify\": %.4f, ",
                median(timed_rounds(openssl_check, rounds, min_seconds)));
  }
  std::printf("\"openssl\": \"%s\"}\n", OpenSSL_version(OPENSSL_VERSION));
  return 0;
}
