#include "tokenward/jws.hpp"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "tokenward/base64url.hpp"
#include "tokenward/json_doc.hpp"
#include "tokenward/ossl.hpp"

namespace tokenward::jws {
namespace {

error bad_sig() { return make_error(errc::bad_signature, "signature verification failed"); }

// The largest scalar: P-521, 66 bytes.
constexpr std::size_t kMaxScalar = 66;

// Group orders as big-endian bytes padded to the scalar size, read from OpenSSL once: ECDSA
// scalars must lie in [1, n-1].
struct curve_orders {
  std::array<std::array<unsigned char, kMaxScalar>, 3> bytes{};
  std::array<bool, 3> ready{};
  curve_orders() {
    const std::array<curve, 3> curves{curve::p256, curve::p384, curve::p521};
    const std::array<int, 3> nids{NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1};
    for (std::size_t i = 0; i < nids.size(); ++i) {
      ossl::ec_group group(EC_GROUP_new_by_curve_name(nids[i]));
      const BIGNUM* n = group ? EC_GROUP_get0_order(group.get()) : nullptr;
      const int size = static_cast<int>(ec_scalar_size(curves[i]));
      ready[i] = n != nullptr && BN_bn2binpad(n, bytes[i].data(), size) == size;
    }
    ossl::clear_errors();
  }
  // ec_scalar_size(c) bytes, or null when the curve's order is unavailable.
  const unsigned char* get(curve c) const {
    const std::size_t i = c == curve::p256 ? 0 : c == curve::p384 ? 1 : c == curve::p521 ? 2 : 3;
    return i < 3 && ready[i] ? bytes[i].data() : nullptr;
  }
};

const curve_orders& orders() {
  static const curve_orders o;
  return o;
}

status configure_pss(EVP_PKEY_CTX* pctx, alg a) {
  if (family(a) != alg_family::rsa_pss) return {};
  // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
  if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, static_cast<int>(digest_size(a))) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, digest(a)) != 1) {
    ossl::clear_errors();
    return make_error(errc::internal, "could not configure RSA-PSS");
  }
  return {};
}

result<std::string> ecdsa_der_to_raw(std::string_view der, curve c) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, ossl::deleter<ECDSA_SIG_free>> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return make_error(errc::internal, "could not decode an ECDSA signature");
  const std::size_t size = ec_scalar_size(c);
  std::string out(2 * size, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), o, static_cast<int>(size)) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), o + size, static_cast<int>(size)) < 0) {
    return make_error(errc::internal, "could not encode an ECDSA signature");
  }
  return out;
}

// Whether a big-endian scalar of `size` bytes lies in [1, n-1], n of the same size.
bool scalar_in_range(const unsigned char* v, const unsigned char* n, std::size_t size) {
  const bool zero = std::all_of(v, v + size, [](unsigned char b) { return b == 0; });
  return !zero && std::memcmp(v, n, size) < 0;
}

// The DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs) that OpenSSL verifies.
struct ecdsa_der {
  // SEQUENCE with a long-form length, then two INTEGERs of up to a 0x00 and kMaxScalar bytes.
  std::array<unsigned char, 3 + 2 * (2 + 1 + kMaxScalar)> bytes{};
  std::size_t size = 0;
  [[nodiscard]] std::string_view view() const { return {reinterpret_cast<const char*>(bytes.data()), size}; }
};

// The minimal DER INTEGER body of a non-zero unsigned big-endian scalar: leading zero bytes
// dropped, one 0x00 put back when the top bit is set (or the INTEGER would read as negative).
struct der_integer {
  const unsigned char* digits;
  std::size_t digit_count;
  bool pad;
  der_integer(const unsigned char* v, std::size_t size) {
    std::size_t skip = 0;
    while (skip + 1 < size && v[skip] == 0) ++skip;
    digits = v + skip;
    digit_count = size - skip;
    pad = (digits[0] & 0x80) != 0;
  }
  [[nodiscard]] std::size_t length() const { return digit_count + (pad ? 1 : 0); }  // at most 67
  unsigned char* write(unsigned char* out) const {
    *out++ = 0x02;
    *out++ = static_cast<unsigned char>(length());
    if (pad) *out++ = 0x00;
    std::memcpy(out, digits, digit_count);
    return out + digit_count;
  }
};

// R||S to DER, refusing any scalar outside [1, n-1] ("psychic signatures", CVE-2022-21449).
status ecdsa_raw_to_der(std::string_view raw, curve c, ecdsa_der& der) {
  const std::size_t size = ec_scalar_size(c);
  if (size == 0 || raw.size() != 2 * size) return bad_sig();
  const unsigned char* n = orders().get(c);
  if (n == nullptr) return make_error(errc::internal, "curve order unavailable");
  const auto* r = reinterpret_cast<const unsigned char*>(raw.data());
  const auto* s = r + size;
  if (!scalar_in_range(r, n, size) || !scalar_in_range(s, n, size)) return bad_sig();
  const der_integer ri(r, size);
  const der_integer si(s, size);
  const std::size_t body = 2 + ri.length() + 2 + si.length();  // at most 138 (P-521)
  unsigned char* out = der.bytes.data();
  *out++ = 0x30;
  if (body >= 0x80) *out++ = 0x81;  // long form: one length byte follows
  *out++ = static_cast<unsigned char>(body);
  out = si.write(ri.write(out));
  der.size = static_cast<std::size_t>(out - der.bytes.data());
  return {};
}

status check_fit(alg a, const jwk& key) {
  if (required_key_type(a) != key.type()) {
    return make_error(errc::unsupported_algorithm, "algorithm " + std::string(alg_name(a)) + " does not fit this key");
  }
  if ((key.type() == key_type::ec || key.type() == key_type::okp) && required_curve(a) != key.crv()) {
    return make_error(errc::unsupported_algorithm, "algorithm " + std::string(alg_name(a)) + " does not fit this curve");
  }
  return {};
}

}  // namespace

result<std::string> hmac(alg a, std::string_view key, std::string_view data) {
  if (family(a) != alg_family::hmac) return make_error(errc::configuration, "not an HMAC algorithm");
  std::string out(digest_size(a), '\0');
  std::size_t out_len = 0;
  const char* md_name = EVP_MD_get0_name(digest(a));  // the prefetched digest's own name
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, md_name, nullptr, key.data(), key.size(),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                reinterpret_cast<unsigned char*>(out.data()), out.size(), &out_len) == nullptr ||
      out_len != out.size()) {
    ossl::clear_errors();
    return make_error(errc::internal, "HMAC failed");
  }
  return out;
}

namespace {

// HMAC under the key's prepared pad states, falling back to a one-shot MAC.
result<std::string> keyed_hmac(alg a, const jwk& key, std::string_view data) {
  const hmac_templates* t = key.hmac();
  std::string out(digest_size(a), '\0');
  if (t != nullptr && t->mac(a, data, reinterpret_cast<unsigned char*>(out.data()))) return out;
  return hmac(a, key.secret(), data);
}

}  // namespace

result<std::string> sign(alg a, const jwk& key, std::string_view input) {
  TW_TRY(check_fit(a, key));
  if (!key.is_private()) return make_error(errc::invalid_key, "signing needs a private key");
  if (family(a) == alg_family::hmac) return keyed_hmac(a, key, input);

  ossl::md_ctx ctx(EVP_MD_CTX_new());
  if (!ctx) return make_error(errc::internal, "out of memory");
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit(ctx.get(), &pctx, digest(a), nullptr, key.pkey()) != 1) {
    ossl::clear_errors();
    return make_error(errc::internal, "could not start signing");
  }
  TW_TRY(configure_pss(pctx, a));
  std::size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size()) != 1) {
    ossl::clear_errors();
    return make_error(errc::internal, "signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size()) != 1) {
    ossl::clear_errors();
    return make_error(errc::internal, "signing failed");
  }
  sig.resize(len);
  if (family(a) == alg_family::ecdsa) return ecdsa_der_to_raw(sig, key.crv());
  return sig;
}

namespace {

// A context that verifies `a` digests: from the key's pool, else made and prepared here.
result<ossl::pkey_ctx> verify_context(alg a, const jwk& key) {
  verify_contexts* pool = key.contexts();
  if (pool != nullptr) {
    if (auto ctx = pool->take(a)) return ctx;
  }
  ossl::pkey_ctx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey(), nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_signature_md(ctx.get(), digest(a)) != 1) {
    ossl::clear_errors();
    return make_error(errc::internal, "could not start verification");
  }
  TW_TRY(configure_pss(ctx.get(), a));
  return ctx;
}

// RS*, PS*, ES*: hash the input with the prefetched digest, then check the signature of the hash
// on a prepared context, which goes back to the key's pool only if the signature was good.
status verify_digest(alg a, const jwk& key, std::string_view input, std::string_view sig) {
  const EVP_MD* md_type = digest(a);
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  if (md_type == nullptr || EVP_Digest(input.data(), input.size(), md.data(), &md_len, md_type, nullptr) != 1) {
    ossl::clear_errors();
    return make_error(errc::internal, "could not hash the signing input");
  }
  auto ctx = verify_context(a, key);
  if (!ctx) return ctx.err();
  const int rc = EVP_PKEY_verify(ctx->get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                                 md.data(), md_len);
  ossl::clear_errors();
  if (rc != 1) return bad_sig();  // the context is freed: nothing of a failed check is kept
  if (verify_contexts* pool = key.contexts()) pool->give_back(a, std::move(*ctx));
  return {};
}

// Ed25519 checks go to libsodium: OpenSSL 3.0 verifies with 32-bit field arithmetic and takes
// more than twice the instructions (see performance.md). crypto_sign_verify_detached refuses a
// non-canonical S (S >= L), a small-order R, and a public key that is small-order or not a
// canonical encoding, and compares the recomputed R byte for byte (cofactorless): at least as
// strict as OpenSSL's check, and it agrees with every Wycheproof Ed25519 case.
bool sodium_ready() {
  static const bool ready = sodium_init() >= 0;  // thread-safe, idempotent
  return ready;
}

status verify_eddsa(const jwk& key, std::string_view input, std::string_view sig) {
  if (sig.size() != crypto_sign_BYTES) return bad_sig();
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> pub{};
  std::size_t pub_len = pub.size();
  if (!sodium_ready() || EVP_PKEY_get_raw_public_key(key.pkey(), pub.data(), &pub_len) != 1 ||
      pub_len != pub.size()) {
    ossl::clear_errors();
    return make_error(errc::internal, "could not start verification");
  }
  const int rc = crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                             reinterpret_cast<const unsigned char*>(input.data()),
                                             input.size(), pub.data());
  if (rc != 0) return bad_sig();
  return {};
}

}  // namespace

status verify(alg a, const jwk& key, std::string_view input, std::string_view signature) {
  TW_TRY(check_fit(a, key));
  switch (family(a)) {
    case alg_family::hmac: {
      if (signature.size() != digest_size(a)) return bad_sig();
      std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
      const hmac_templates* t = key.hmac();
      if (t == nullptr || !t->mac(a, input, mac.data())) {
        auto once = hmac(a, key.secret(), input);
        if (!once) return once.err();
        std::memcpy(mac.data(), once->data(), once->size());
      }
      if (CRYPTO_memcmp(mac.data(), signature.data(), signature.size()) != 0) return bad_sig();
      return {};
    }
    case alg_family::eddsa:
      return verify_eddsa(key, input, signature);
    case alg_family::ecdsa: {
      ecdsa_der der;
      TW_TRY(ecdsa_raw_to_der(signature, key.crv(), der));
      return verify_digest(a, key, input, der.view());
    }
    case alg_family::rsa_pkcs1:
    case alg_family::rsa_pss:
      if (signature.size() != static_cast<std::size_t>((key.rsa_bits() + 7) / 8)) return bad_sig();
      return verify_digest(a, key, input, signature);
  }
  return make_error(errc::internal, "unknown algorithm family");
}

namespace {

constexpr std::array<std::string_view, 16> kRegisteredHeaders{
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "enc", "zip", "epk", "b64", "ppt"};

namespace dom = simdjson::dom;

status check_header(dom::element root, parsed& out) {
  dom::object h;
  if (root.get(h) != simdjson::SUCCESS) return make_error(errc::malformed, "JWS header must be a JSON object");
  dom::element v;
  if (h.at_key("alg").get(v) != simdjson::SUCCESS) return make_error(errc::malformed, "JWS header has no 'alg'");
  if (!v.is_string()) return make_error(errc::malformed, "JWS header 'alg' must be a string");
  const std::string_view name = v.get_string().value_unsafe();
  auto a = alg_from_name(name);
  if (!a) {
    if (name == "none" || name == "None" || name == "NONE" || name == "nOnE") {
      return make_error(errc::unsupported_algorithm, "unsigned tokens (alg 'none') are never accepted");
    }
    return make_error(errc::unsupported_algorithm, "JWS algorithm '" + std::string(name.substr(0, 16)) + "' is not supported");
  }
  out.algorithm = *a;
  if (h.at_key("kid").get(v) == simdjson::SUCCESS) {
    if (!v.is_string()) return make_error(errc::malformed, "JWS header 'kid' must be a string");
    out.kid = v.get_string().value_unsafe();
    out.has_kid = true;
  }
  if (h.at_key("typ").get(v) == simdjson::SUCCESS) {
    if (!v.is_string()) return make_error(errc::malformed, "JWS header 'typ' must be a string");
    out.typ = v.get_string().value_unsafe();
    out.has_typ = true;
  }
  if (h.at_key("b64").get(v) == simdjson::SUCCESS && !(v.is_bool() && v.get_bool().value_unsafe())) {
    return make_error(errc::malformed, "unencoded payloads (b64=false, RFC 7797) are not supported");
  }
  if (h.at_key("crit").get(v) == simdjson::SUCCESS) {
    // RFC 7515 §4.1.11: a non-empty array of names this implementation must understand. We
    // understand no extensions, so any listed name is a rejection.
    dom::array names;
    if (v.get(names) != simdjson::SUCCESS || names.begin() == names.end()) {
      return make_error(errc::malformed, "JWS header 'crit' must be a non-empty array");
    }
    for (const auto c : names) {
      if (!c.is_string()) return make_error(errc::malformed, "JWS header 'crit' must hold strings");
      const std::string_view cname = c.get_string().value_unsafe();
      for (auto reg : kRegisteredHeaders) {
        if (cname == reg) return make_error(errc::malformed, "JWS header 'crit' must not list registered parameters");
      }
      return make_error(errc::malformed, "critical header parameter '" + std::string(cname.substr(0, 32)) + "' is not understood");
    }
  }
  return {};
}

// The last header segment this thread parsed and found good, with what parse() read from it. A
// token is its issuer's, and its header is the same bytes on every token the issuer signs, so the
// next token's header is mostly the same text: recall() then answers from the memo instead of
// decoding, parsing and checking it again. The memo is keyed by the exact bytes of the segment and
// the limits it was checked under, and holds only what a successful check of those bytes yields
// (a function of them alone), so it cannot vouch for any other header; the signature is verified
// over the token's own bytes either way. A failed header is never remembered.
class header_memo {
 public:
  bool recall(std::string_view header_b64, const limits& lim, parsed& out) const {
    if (!valid_ || header_b64 != header_b64_ || lim.max_header_bytes != max_header_bytes_ ||
        lim.max_depth != max_depth_) {
      return false;
    }
    out.algorithm = algorithm_;
    out.has_kid = has_kid_;
    if (has_kid_) out.kid = kid_;
    out.has_typ = has_typ_;
    if (has_typ_) out.typ = typ_;
    return true;
  }

  void remember(std::string_view header_b64, const limits& lim, const parsed& p) {
    valid_ = false;
    if (header_b64.size() > kMaxRemembered) return;  // only headers of a usual size are kept
    header_b64_.assign(header_b64);
    max_header_bytes_ = lim.max_header_bytes;
    max_depth_ = lim.max_depth;
    algorithm_ = p.algorithm;
    has_kid_ = p.has_kid;
    kid_ = p.kid;
    has_typ_ = p.has_typ;
    typ_ = p.typ;
    valid_ = true;
  }

 private:
  static constexpr std::size_t kMaxRemembered = 1024;
  bool valid_ = false;
  std::string header_b64_;
  std::size_t max_header_bytes_ = 0;
  std::size_t max_depth_ = 0;
  alg algorithm_ = alg::HS256;
  bool has_kid_ = false;
  std::string kid_;
  bool has_typ_ = false;
  std::string typ_;
};

thread_local header_memo t_header_memo;

}  // namespace

result<json> header_of(std::string_view token, const limits& lim) {
  if (token.size() > lim.max_token_bytes) return make_error(errc::malformed, "token is larger than the size limit");
  const auto dot = token.find('.');
  if (dot == std::string_view::npos) return make_error(errc::malformed, "not a compact JWS (expected three parts)");
  auto bytes = b64::decode(token.substr(0, dot));
  if (!bytes) return make_error(errc::malformed, "JWS header is not canonical base64url");
  auto h = parse_json(*bytes, json_limits{lim.max_header_bytes, lim.max_depth}, "JWS header");
  if (h && !h->is_object()) return make_error(errc::malformed, "JWS header must be a JSON object");
  return h;
}

result<parsed> parse(std::string_view token, const limits& lim) {
  if (token.size() > lim.max_token_bytes) {
    return make_error(errc::malformed, "token is larger than " + std::to_string(lim.max_token_bytes) + " bytes");
  }
  if (!token.empty() && token.front() == '{') {
    return make_error(errc::malformed, "JWS JSON serialization is not accepted; pass a compact token");
  }
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d1 == std::string_view::npos || d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return make_error(errc::malformed, "not a compact JWS (expected three dot-separated parts)");
  }
  parsed out;
  const auto header_b64 = token.substr(0, d1);
  out.payload_b64 = token.substr(d1 + 1, d2 - d1 - 1);
  const auto sig_b64 = token.substr(d2 + 1);
  out.signing_input = token.substr(0, d2);
  if (header_b64.empty()) return make_error(errc::malformed, "JWS header is empty");
  if (header_b64.size() > lim.max_header_bytes / 3 * 4 + 4) return make_error(errc::malformed, "JWS header is too large");
  if (!t_header_memo.recall(header_b64, lim, out)) {
    auto header = b64::decode(header_b64, kJsonPadding);
    if (!header) return make_error(errc::malformed, "JWS header is not canonical base64url");
    auto h = json_doc::parse(*header, json_limits{lim.max_header_bytes, lim.max_depth}, "JWS header");
    if (!h) return h.err();
    TW_TRY(check_header(h->root(), out));
    t_header_memo.remember(header_b64, lim, out);
  }
  auto payload = b64::decode(out.payload_b64, kJsonPadding);
  if (!payload) return make_error(errc::malformed, "JWS payload is not canonical base64url");
  out.payload = std::move(*payload);
  if (sig_b64.empty()) return make_error(errc::malformed, "JWS signature is empty");
  auto sig = b64::decode(sig_b64);
  if (!sig) return make_error(errc::malformed, "JWS signature is not canonical base64url");
  out.signature = std::move(*sig);
  return out;
}

result<std::string> encode(const json& header, std::string_view payload, alg a, const jwk& key) {
  std::string token;
  const std::string header_text = header.dump(-1, ' ', false, json::error_handler_t::strict);
  token.reserve((header_text.size() + payload.size()) * 4 / 3 + 400);
  b64::encode_append(token, header_text);
  token.push_back('.');
  b64::encode_append(token, payload);
  auto sig = sign(a, key, token);
  if (!sig) return sig.err();
  token.push_back('.');
  b64::encode_append(token, *sig);
  return token;
}

}  // namespace tokenward::jws
