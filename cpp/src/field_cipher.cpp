#include "tokenward/field_cipher.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <limits>

#include "tokenward/base64url.hpp"
#include "tokenward/ossl.hpp"

namespace tokenward {
namespace {

// ---------------------------------------------------------------------------------------------
// Constants of the formats. docs/field-encryption.md documents each one; changing any of them
// breaks every ciphertext already written.

constexpr std::string_view kTw1Prefix = "tw1.";
constexpr std::string_view kHkdfSalt = "tokenward/field-cipher/v1";
constexpr std::string_view kHkdfInfoPrefix = "tw1/aes-256-gcm/";
constexpr std::string_view kNameContext = "name";
constexpr std::string_view kValueContextPrefix = "value:";
constexpr std::string_view kIgnisSalt = "ignis-kdf-salt-v1";
constexpr unsigned char kIgnisV3Version = 0x01;
constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kGcmNonceBytes = 12;
constexpr std::size_t kIgnisIvBytes = 16;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kBlockBytes = 16;
constexpr std::size_t kMaxValueDepth = 64;  // what the binding accepts when serialising a value

// One message for every decryption failure: the caller learns that it failed, nothing more.
error decrypt_failed() { return make_error(errc::decryption_failed, "field decryption failed"); }

const unsigned char* bytes_of(std::string_view s) noexcept { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes_of(std::string& s) noexcept { return reinterpret_cast<unsigned char*>(s.data()); }

// OSSL_PARAM octet strings must not point at null, even when empty.
void* param_ptr(std::string_view s) noexcept {
  static unsigned char empty = 0;
  return s.empty() ? static_cast<void*>(&empty) : const_cast<char*>(s.data());
}

bool fits_int(std::size_t n) noexcept { return n <= static_cast<std::size_t>(INT_MAX); }

// Fetched once; fetched EVP_CIPHERs are immutable and shared between threads.
const EVP_CIPHER* aes(const char* mode, std::size_t key_size) noexcept {
  struct table {
    ossl::cipher gcm[3];
    ossl::cipher cbc[3];
    ossl::cipher ecb[3];
  };
  static const table t = [] {
    table out;
    const char* const bits[3] = {"128", "192", "256"};
    for (int i = 0; i < 3; ++i) {
      out.gcm[i].reset(EVP_CIPHER_fetch(nullptr, (std::string("AES-") + bits[i] + "-GCM").c_str(), nullptr));
      out.cbc[i].reset(EVP_CIPHER_fetch(nullptr, (std::string("AES-") + bits[i] + "-CBC").c_str(), nullptr));
      out.ecb[i].reset(EVP_CIPHER_fetch(nullptr, (std::string("AES-") + bits[i] + "-ECB").c_str(), nullptr));
    }
    ossl::clear_errors();
    return out;
  }();
  int i = 0;
  switch (key_size) {
    case 16: i = 0; break;
    case 24: i = 1; break;
    case 32: i = 2; break;
    default: return nullptr;
  }
  const std::string_view m(mode);
  if (m == "gcm") return t.gcm[i].get();
  if (m == "cbc") return t.cbc[i].get();
  return t.ecb[i].get();
}

// ---------------------------------------------------------------------------------------------
// GCM with an IV longer than OpenSSL takes (its provider keeps at most 128 bytes of IV). For any IV
// other than 96 bits, GCM starts from J0 = GHASH_H(IV || pad || [0]_64 || [len(IV)]_64)
// (NIST SP 800-38D §7.1). We compute that J0 and solve for the one 16-byte IV' whose J0 is the same:
// J0 = IV'·H² ⊕ L·H, where L = [0]_64 || [128]_64, so IV' = (J0 ⊕ L·H) · (H²)⁻¹. OpenSSL then runs
// the whole mode with IV'. Only the primitive known-answer tests use IVs this long.

struct gf128 {
  std::uint64_t hi = 0, lo = 0;
};

gf128 gf_load(const unsigned char* p) noexcept {
  gf128 x;
  for (int i = 0; i < 8; ++i) x.hi = (x.hi << 8) | p[i];
  for (int i = 8; i < 16; ++i) x.lo = (x.lo << 8) | p[i];
  return x;
}

void gf_store(gf128 x, unsigned char* p) noexcept {
  for (int i = 7; i >= 0; --i, x.hi >>= 8) p[i] = static_cast<unsigned char>(x.hi & 0xFF);
  for (int i = 15; i >= 8; --i, x.lo >>= 8) p[i] = static_cast<unsigned char>(x.lo & 0xFF);
}

// Multiplication in GF(2^128) with GCM's bit order (SP 800-38D Algorithm 1).
gf128 gf_mul(gf128 x, gf128 y) noexcept {
  gf128 z;
  gf128 v = y;
  for (int i = 0; i < 128; ++i) {
    const std::uint64_t bit = i < 64 ? (x.hi >> (63 - i)) & 1U : (x.lo >> (127 - i)) & 1U;
    if (bit != 0) {
      z.hi ^= v.hi;
      z.lo ^= v.lo;
    }
    const bool carry = (v.lo & 1U) != 0;
    v.lo = (v.lo >> 1) | (v.hi << 63);
    v.hi >>= 1;
    if (carry) v.hi ^= 0xE100000000000000ULL;
  }
  return z;
}

// x^(2^128 - 2), the inverse of a non-zero x.
gf128 gf_inv(gf128 x) noexcept {
  gf128 r{0x8000000000000000ULL, 0};  // the field's 1
  for (int i = 0; i < 128; ++i) {
    r = gf_mul(r, r);
    if (i < 127) r = gf_mul(r, x);  // exponent bits: 127 ones, then a zero
  }
  return r;
}

result<std::string> gcm_short_iv(std::string_view key, std::string_view iv) {
  const EVP_CIPHER* ecb = aes("ecb", key.size());
  if (ecb == nullptr) return make_error(errc::configuration, "AES keys are 16, 24 or 32 bytes");
  ossl::cipher_ctx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return make_error(errc::internal, "out of memory");
  unsigned char zero[kBlockBytes] = {};
  unsigned char h_bytes[kBlockBytes + kBlockBytes] = {};
  int len = 0;
  if (EVP_EncryptInit_ex2(ctx.get(), ecb, bytes_of(key), nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
      EVP_EncryptUpdate(ctx.get(), h_bytes, &len, zero, static_cast<int>(kBlockBytes)) != 1 ||
      len != static_cast<int>(kBlockBytes)) {
    ossl::clear_errors();
    return make_error(errc::internal, "AES failed");
  }
  const gf128 h = gf_load(h_bytes);
  OPENSSL_cleanse(h_bytes, sizeof h_bytes);
  if (h.hi == 0 && h.lo == 0) return make_error(errc::internal, "degenerate GHASH key");
  gf128 y;
  auto absorb = [&](const unsigned char* block) {
    const gf128 b = gf_load(block);
    y.hi ^= b.hi;
    y.lo ^= b.lo;
    y = gf_mul(y, h);
  };
  std::size_t i = 0;
  for (; i + kBlockBytes <= iv.size(); i += kBlockBytes) absorb(bytes_of(iv) + i);
  if (i < iv.size()) {
    unsigned char last[kBlockBytes] = {};
    std::copy(iv.begin() + static_cast<std::ptrdiff_t>(i), iv.end(), last);
    absorb(last);
  }
  const gf128 iv_len{0, static_cast<std::uint64_t>(iv.size()) * 8};
  unsigned char len_block[kBlockBytes];
  gf_store(iv_len, len_block);
  absorb(len_block);  // y = J0
  const gf128 l128{0, 128};
  const gf128 lh = gf_mul(l128, h);
  const gf128 t{y.hi ^ lh.hi, y.lo ^ lh.lo};
  const gf128 short_iv = gf_mul(t, gf_inv(gf_mul(h, h)));
  std::string out(kBlockBytes, '\0');
  gf_store(short_iv, bytes_of(out));
  return out;
}

constexpr std::size_t kOpensslMaxGcmIv = 128;

// Sets up `ctx` for GCM with any non-empty IV.
status gcm_init(EVP_CIPHER_CTX* ctx, bool encrypt, std::string_view key, std::string_view iv) {
  const EVP_CIPHER* c = aes("gcm", key.size());
  if (c == nullptr) return make_error(errc::configuration, "AES keys are 16, 24 or 32 bytes");
  if (iv.empty()) return make_error(errc::configuration, "a GCM IV must not be empty");
  std::string folded;
  if (iv.size() > kOpensslMaxGcmIv) {
    auto r = gcm_short_iv(key, iv);
    if (!r) return r.err();
    folded = std::move(*r);
    iv = folded;
  }
  std::size_t iv_len = iv.size();
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &iv_len),
                               OSSL_PARAM_construct_end()};
  const int ok = encrypt ? EVP_EncryptInit_ex2(ctx, c, nullptr, nullptr, params) == 1 &&
                               EVP_EncryptInit_ex2(ctx, nullptr, bytes_of(key), bytes_of(iv), nullptr) == 1
                         : EVP_DecryptInit_ex2(ctx, c, nullptr, nullptr, params) == 1 &&
                               EVP_DecryptInit_ex2(ctx, nullptr, bytes_of(key), bytes_of(iv), nullptr) == 1;
  if (!ok) {
    ossl::clear_errors();
    return make_error(errc::internal, "AES-GCM set-up failed");
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Text checks.

bool valid_utf8(std::string_view s) noexcept {
  const unsigned char* p = bytes_of(s);
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1FU;
    } else if ((c & 0xF0U) == 0xE0) {
      len = 3;
      cp = c & 0x0FU;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07U;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const unsigned cc = p[i + k];
      if ((cc & 0xC0U) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3FU);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
    i += len;
  }
  return true;
}

bool valid_utf8_json(const json& j, std::size_t depth) noexcept {
  if (depth > kMaxValueDepth) return false;
  switch (j.type()) {
    case json::value_t::string: return valid_utf8(j.get_ref<const std::string&>());
    case json::value_t::array:
      return std::all_of(j.begin(), j.end(), [&](const json& v) { return valid_utf8_json(v, depth + 1); });
    case json::value_t::object:
      for (const auto& [k, v] : j.items()) {
        if (!valid_utf8(k) || !valid_utf8_json(v, depth + 1)) return false;
      }
      return true;
    case json::value_t::binary:
    case json::value_t::discarded: return false;
    default: return true;
  }
}

// Compact JSON text, as JSON.stringify writes it. Callers check UTF-8 first, so `replace` never acts.
std::string compact(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// ---------------------------------------------------------------------------------------------
// Ignis roles: {id, identifier, priority} <-> "id|identifier|priority".

result<std::string> role_to_string(const json& role) {
  const auto bad = [] {
    return make_error(errc::configuration,
                      "in the Ignis formats 'roles' must be a list of {id, identifier, priority} objects "
                      "(priority an integer) or of 'id|identifier|priority' strings");
  };
  if (role.is_string()) {
    const auto& s = role.get_ref<const std::string&>();
    const auto first = s.find('|');
    const auto last = s.rfind('|');
    if (first == std::string::npos || first == last) return bad();
    std::int64_t p = 0;
    const auto* b = s.data() + last + 1;
    const auto* e = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(b, e, p);
    if (b == e || ec != std::errc{} || ptr != e) return bad();
    return s;
  }
  if (!role.is_object() || role.size() != 3) return bad();
  const auto id = role.find("id");
  const auto identifier = role.find("identifier");
  const auto priority = role.find("priority");
  if (id == role.end() || identifier == role.end() || priority == role.end()) return bad();
  std::string out;
  if (id->is_string()) {
    out = id->get<std::string>();
  } else if (id->is_number_integer()) {
    out = id->dump();
  } else {
    return bad();
  }
  if (out.find('|') != std::string::npos) return bad();  // the id ends at the first '|'
  if (!identifier->is_string() || !priority->is_number_integer()) return bad();
  out += '|';
  out += identifier->get_ref<const std::string&>();
  out += '|';
  out += priority->dump();
  return out;
}

// Splits at the first and the last '|', so an identifier may itself contain '|'.
std::optional<json> role_from_string(const std::string& s) {
  const auto first = s.find('|');
  const auto last = s.rfind('|');
  if (first == std::string::npos || first == last) return std::nullopt;
  std::int64_t p = 0;
  const auto* b = s.data() + last + 1;
  const auto* e = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(b, e, p);
  if (b == e || ec != std::errc{} || ptr != e) return std::nullopt;
  json role = json::object();
  role["id"] = s.substr(0, first);
  role["identifier"] = s.substr(first + 1, last - first - 1);
  role["priority"] = p;
  return role;
}

constexpr std::string_view kRoles = "roles";

}  // namespace

// ---------------------------------------------------------------------------------------------
// Primitives.

namespace crypto {

result<std::string> aes_gcm_encrypt(std::string_view key, std::string_view iv, std::string_view aad,
                                    std::string_view plaintext) {
  if (!fits_int(plaintext.size()) || !fits_int(aad.size())) return make_error(errc::configuration, "input too large");
  ossl::cipher_ctx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return make_error(errc::internal, "out of memory");
  TW_TRY(gcm_init(ctx.get(), true, key, iv));
  std::string out(plaintext.size() + kTagBytes, '\0');
  int len = 0;
  int fin = 0;
  unsigned char dummy = 0;
  const bool ok =
      (aad.empty() || EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes_of(aad), static_cast<int>(aad.size())) == 1) &&
      EVP_EncryptUpdate(ctx.get(), plaintext.empty() ? &dummy : bytes_of(out), &len, bytes_of(plaintext),
                        static_cast<int>(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx.get(), plaintext.empty() ? &dummy : bytes_of(out) + len, &fin) == 1 &&
      static_cast<std::size_t>(len) + static_cast<std::size_t>(fin) == plaintext.size() &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                          bytes_of(out) + plaintext.size()) == 1;
  if (!ok) {
    ossl::clear_errors();
    return make_error(errc::internal, "AES-GCM encryption failed");
  }
  return out;
}

result<std::string> aes_gcm_decrypt(std::string_view key, std::string_view iv, std::string_view aad,
                                    std::string_view ciphertext, std::string_view tag) {
  if (tag.size() != kTagBytes) return decrypt_failed();
  if (!fits_int(ciphertext.size()) || !fits_int(aad.size())) return decrypt_failed();
  ossl::cipher_ctx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return make_error(errc::internal, "out of memory");
  TW_TRY(gcm_init(ctx.get(), false, key, iv));
  std::string out(ciphertext.size(), '\0');
  std::string tag_copy(tag);
  int len = 0;
  int fin = 0;
  unsigned char dummy = 0;
  const bool ok =
      (aad.empty() || EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes_of(aad), static_cast<int>(aad.size())) == 1) &&
      EVP_DecryptUpdate(ctx.get(), ciphertext.empty() ? &dummy : bytes_of(out), &len, bytes_of(ciphertext),
                        static_cast<int>(ciphertext.size())) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), tag_copy.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), ciphertext.empty() ? &dummy : bytes_of(out) + len, &fin) == 1 &&
      static_cast<std::size_t>(len) + static_cast<std::size_t>(fin) == ciphertext.size();
  if (!ok) {
    ossl::clear_errors();
    OPENSSL_cleanse(out.data(), out.size());
    return decrypt_failed();
  }
  return out;
}

result<std::string> aes_cbc_encrypt(std::string_view key, std::string_view iv, std::string_view plaintext) {
  const EVP_CIPHER* c = aes("cbc", key.size());
  if (c == nullptr) return make_error(errc::configuration, "AES keys are 16, 24 or 32 bytes");
  if (iv.size() != kBlockBytes) return make_error(errc::configuration, "a CBC IV is 16 bytes");
  if (!fits_int(plaintext.size() + kBlockBytes)) return make_error(errc::configuration, "input too large");
  ossl::cipher_ctx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return make_error(errc::internal, "out of memory");
  std::string out(plaintext.size() + kBlockBytes, '\0');
  int len = 0;
  int fin = 0;
  const bool ok = EVP_EncryptInit_ex2(ctx.get(), c, bytes_of(key), bytes_of(iv), nullptr) == 1 &&
                  EVP_EncryptUpdate(ctx.get(), bytes_of(out), &len, bytes_of(plaintext),
                                    static_cast<int>(plaintext.size())) == 1 &&
                  EVP_EncryptFinal_ex(ctx.get(), bytes_of(out) + len, &fin) == 1;
  if (!ok) {
    ossl::clear_errors();
    return make_error(errc::internal, "AES-CBC encryption failed");
  }
  out.resize(static_cast<std::size_t>(len) + static_cast<std::size_t>(fin));
  return out;
}

result<std::string> aes_cbc_decrypt(std::string_view key, std::string_view iv, std::string_view ciphertext) {
  const EVP_CIPHER* c = aes("cbc", key.size());
  if (c == nullptr) return make_error(errc::configuration, "AES keys are 16, 24 or 32 bytes");
  if (iv.size() != kBlockBytes) return make_error(errc::configuration, "a CBC IV is 16 bytes");
  if (ciphertext.empty() || ciphertext.size() % kBlockBytes != 0 || !fits_int(ciphertext.size())) {
    return decrypt_failed();
  }
  ossl::cipher_ctx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return make_error(errc::internal, "out of memory");
  std::string out(ciphertext.size() + kBlockBytes, '\0');
  int len = 0;
  int fin = 0;
  const bool ok = EVP_DecryptInit_ex2(ctx.get(), c, bytes_of(key), bytes_of(iv), nullptr) == 1 &&
                  EVP_DecryptUpdate(ctx.get(), bytes_of(out), &len, bytes_of(ciphertext),
                                    static_cast<int>(ciphertext.size())) == 1 &&
                  EVP_DecryptFinal_ex(ctx.get(), bytes_of(out) + len, &fin) == 1;
  if (!ok) {
    ossl::clear_errors();
    OPENSSL_cleanse(out.data(), out.size());
    return decrypt_failed();
  }
  out.resize(static_cast<std::size_t>(len) + static_cast<std::size_t>(fin));
  return out;
}

result<std::string> hkdf_sha256(std::string_view ikm, std::string_view salt, std::string_view info,
                                std::size_t size) {
  if (size == 0 || size > 255 * 32) return make_error(errc::configuration, "HKDF-SHA256 output is 1 to 8160 bytes");
  static const ossl::kdf hkdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!hkdf) return make_error(errc::internal, "HKDF unavailable");
  ossl::kdf_ctx ctx(EVP_KDF_CTX_new(hkdf.get()));
  if (!ctx) return make_error(errc::internal, "out of memory");
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, param_ptr(ikm), ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, param_ptr(salt), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, param_ptr(info), info.size()),
      OSSL_PARAM_construct_end(),
  };
  std::string out(size, '\0');
  if (EVP_KDF_derive(ctx.get(), bytes_of(out), out.size(), params) != 1) {
    ossl::clear_errors();
    return make_error(errc::internal, "HKDF failed");
  }
  return out;
}

result<std::string> pbkdf2_sha256(std::string_view password, std::string_view salt, std::uint32_t iterations,
                                  std::size_t size) {
  if (iterations == 0 || iterations > static_cast<std::uint32_t>(INT_MAX)) {
    return make_error(errc::configuration, "PBKDF2 needs 1 to 2^31-1 iterations");
  }
  if (size == 0 || !fits_int(size) || !fits_int(password.size()) || !fits_int(salt.size())) {
    return make_error(errc::configuration, "PBKDF2 sizes out of range");
  }
  std::string out(size, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), bytes_of(salt),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(size), bytes_of(out)) != 1) {
    ossl::clear_errors();
    return make_error(errc::internal, "PBKDF2 failed");
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  if (bytes.empty()) return {};
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
  const int n = EVP_EncodeBlock(bytes_of(out), bytes_of(bytes), static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  // EVP_DecodeBlock skips surrounding whitespace and ignores padding; check the exact form first.
  if (text.size() % 4 != 0 || !fits_int(text.size())) return std::nullopt;
  if (text.empty()) return std::string{};
  std::size_t pad = 0;
  while (pad < 2 && text[text.size() - 1 - pad] == '=') ++pad;
  for (std::size_t i = 0; i < text.size() - pad; ++i) {
    const char c = text[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok) return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(bytes_of(out), bytes_of(text), static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) != out.size()) return std::nullopt;
  out.resize(out.size() - pad);
  // Canonical only: the unused bits before the padding must be zero.
  if (base64_encode(out) != text) return std::nullopt;
  return out;
}

}  // namespace crypto

// ---------------------------------------------------------------------------------------------
// field_cipher

bool is_registered_claim(std::string_view name) noexcept {
  return name == "iss" || name == "sub" || name == "aud" || name == "jti" || name == "nbf" || name == "exp" ||
         name == "iat";
}

field_cipher::key_entry::key_entry(key_entry&& o) noexcept : id(std::move(o.id)), key(o.key) {
  OPENSSL_cleanse(o.key.data(), o.key.size());
}

field_cipher::key_entry& field_cipher::key_entry::operator=(key_entry&& o) noexcept {
  if (this != &o) {
    id = std::move(o.id);
    key = o.key;
    OPENSSL_cleanse(o.key.data(), o.key.size());
  }
  return *this;
}

field_cipher::key_entry::~key_entry() { OPENSSL_cleanse(key.data(), key.size()); }

namespace {

status check_ring(const field_cipher::secrets& keys, std::string_view primary) {
  if (keys.empty()) return make_error(errc::configuration, "a field cipher needs at least one key");
  if (keys.size() > field_cipher::kMaxKeys) return make_error(errc::configuration, "a field cipher holds at most 100 keys");
  bool found = false;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& id = keys[i].first;
    if (id.empty() || id.size() > field_cipher::kMaxKeyIdBytes) {
      return make_error(errc::configuration, "key ids are 1 to 255 bytes");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (keys[j].first == id) return make_error(errc::configuration, "key ids must be unique");
    }
    found = found || id == primary;
  }
  if (!found) return make_error(errc::configuration, "the primary key id names none of the keys");
  return {};
}

std::size_t index_of(const field_cipher::secrets& keys, std::string_view id) {
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].first == id) return i;
  }
  return 0;
}

}  // namespace

result<field_cipher> field_cipher::create(const secrets& keys, std::string_view primary) {
  TW_TRY(check_ring(keys, primary));
  std::vector<key_entry> ring;
  ring.reserve(keys.size());
  for (const auto& [id, secret] : keys) {
    if (secret.size() < kMinSecretBytes) {
      return make_error(errc::configuration, "field cipher secrets must be at least 32 bytes");
    }
    auto k = crypto::hkdf_sha256(secret, kHkdfSalt, std::string(kHkdfInfoPrefix) + id, kKeyBytes);
    if (!k) return k.err();
    key_entry e;
    e.id = id;
    std::copy(k->begin(), k->end(), e.key.begin());
    OPENSSL_cleanse(k->data(), k->size());
    ring.push_back(std::move(e));
  }
  return field_cipher(scheme::tw1, std::move(ring), index_of(keys, primary));
}

result<field_cipher> field_cipher::ignis_legacy(std::string_view secret) {
  if (secret.empty()) return make_error(errc::configuration, "the Ignis secret must not be empty");
  key_entry e;
  e.key.fill(static_cast<unsigned char>('0'));
  std::copy_n(secret.begin(), std::min(secret.size(), kKeyBytes), e.key.begin());
  std::vector<key_entry> ring;
  ring.push_back(std::move(e));
  return field_cipher(scheme::ignis_legacy, std::move(ring), 0);
}

result<field_cipher> field_cipher::ignis_v3(const secrets& keys, std::string_view primary, bool gcm) {
  TW_TRY(check_ring(keys, primary));
  std::vector<key_entry> ring;
  ring.reserve(keys.size());
  for (const auto& [id, secret] : keys) {
    if (secret.empty()) return make_error(errc::configuration, "Ignis secrets must not be empty");
    auto k = crypto::pbkdf2_sha256(secret, kIgnisSalt, kIgnisPbkdf2Iterations, kKeyBytes);
    if (!k) return k.err();
    key_entry e;
    e.id = id;
    std::copy(k->begin(), k->end(), e.key.begin());
    OPENSSL_cleanse(k->data(), k->size());
    ring.push_back(std::move(e));
  }
  return field_cipher(gcm ? scheme::ignis_v3_gcm : scheme::ignis_v3_cbc, std::move(ring), index_of(keys, primary));
}

std::string_view field_cipher::scheme_name() const noexcept {
  switch (scheme_) {
    case scheme::tw1: return "tw1-aes-256-gcm";
    case scheme::ignis_legacy: return "ignis-legacy-aes-256-cbc";
    case scheme::ignis_v3_cbc: return "ignis-v3-aes-256-cbc";
    case scheme::ignis_v3_gcm: return "ignis-v3-aes-256-gcm";
  }
  return "?";
}

std::vector<std::string> field_cipher::key_ids() const {
  std::vector<std::string> out;
  if (scheme_ == scheme::ignis_legacy) return out;
  out.reserve(keys_.size());
  for (const auto& k : keys_) out.push_back(k.id);
  return out;
}

std::size_t field_cipher::iv_size() const noexcept { return scheme_ == scheme::tw1 ? kGcmNonceBytes : kIgnisIvBytes; }

const field_cipher::key_entry* field_cipher::find(std::string_view id) const noexcept {
  for (const auto& k : keys_) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

result<std::string> field_cipher::seal(std::string_view plaintext, std::string_view context,
                                       std::string_view fixed_iv) const {
  const key_entry& k = keys_[primary_];
  const std::string_view key(reinterpret_cast<const char*>(k.key.data()), k.key.size());
  std::string iv(iv_size(), '\0');
  if (!fixed_iv.empty()) {
    if (fixed_iv.size() != iv.size()) return make_error(errc::configuration, "wrong IV size for this scheme");
    iv.assign(fixed_iv);
  } else if (RAND_bytes(bytes_of(iv), static_cast<int>(iv.size())) != 1) {
    ossl::clear_errors();
    return make_error(errc::internal, "no randomness for the IV");
  }

  switch (scheme_) {
    case scheme::tw1: {
      std::string header(1, static_cast<char>(k.id.size()));
      header += k.id;
      std::string aad(kTw1Prefix);
      aad += header;
      aad += context;
      auto sealed = crypto::aes_gcm_encrypt(key, iv, aad, plaintext);
      if (!sealed) return sealed.err();
      std::string body = std::move(header);
      body += iv;
      body += *sealed;
      std::string out(kTw1Prefix);
      b64::encode_append(out, body);
      return out;
    }
    case scheme::ignis_legacy: {
      auto ct = crypto::aes_cbc_encrypt(key, iv, plaintext);
      if (!ct) return ct.err();
      return crypto::base64_encode(iv + *ct);
    }
    case scheme::ignis_v3_cbc:
    case scheme::ignis_v3_gcm: {
      std::string body(1, static_cast<char>(kIgnisV3Version));
      body += static_cast<char>(k.id.size());
      body += k.id;
      body += iv;
      if (scheme_ == scheme::ignis_v3_cbc) {
        auto ct = crypto::aes_cbc_encrypt(key, iv, plaintext);
        if (!ct) return ct.err();
        body += *ct;
      } else {
        auto sealed = crypto::aes_gcm_encrypt(key, iv, {}, plaintext);
        if (!sealed) return sealed.err();
        const std::string_view s(*sealed);
        body += s.substr(s.size() - kTagBytes);  // Ignis puts the tag before the ciphertext
        body += s.substr(0, s.size() - kTagBytes);
      }
      return crypto::base64_encode(body);
    }
  }
  return make_error(errc::internal, "unknown scheme");
}

result<std::string> field_cipher::open(std::string_view ciphertext, std::string_view context) const {
  switch (scheme_) {
    case scheme::tw1: {
      if (ciphertext.substr(0, kTw1Prefix.size()) != kTw1Prefix) return decrypt_failed();
      auto raw = b64::decode(ciphertext.substr(kTw1Prefix.size()));
      if (!raw || raw->empty()) return decrypt_failed();
      const std::string_view body(*raw);
      const std::size_t id_len = static_cast<unsigned char>(body[0]);
      if (id_len == 0 || body.size() < 1 + id_len + kGcmNonceBytes + kTagBytes) return decrypt_failed();
      const key_entry* k = find(body.substr(1, id_len));
      if (k == nullptr) return decrypt_failed();
      std::string aad(kTw1Prefix);
      aad += body.substr(0, 1 + id_len);
      aad += context;
      const std::string_view rest = body.substr(1 + id_len);
      const std::string_view nonce = rest.substr(0, kGcmNonceBytes);
      const std::string_view sealed = rest.substr(kGcmNonceBytes);
      const std::string_view key(reinterpret_cast<const char*>(k->key.data()), k->key.size());
      auto pt = crypto::aes_gcm_decrypt(key, nonce, aad, sealed.substr(0, sealed.size() - kTagBytes),
                                        sealed.substr(sealed.size() - kTagBytes));
      if (!pt) return decrypt_failed();
      return pt;
    }
    case scheme::ignis_legacy: {
      auto raw = crypto::base64_decode(ciphertext);
      if (!raw || raw->size() < kIgnisIvBytes + kBlockBytes || raw->size() % kBlockBytes != 0) return decrypt_failed();
      const std::string_view body(*raw);
      const key_entry& k = keys_.front();
      const std::string_view key(reinterpret_cast<const char*>(k.key.data()), k.key.size());
      auto pt = crypto::aes_cbc_decrypt(key, body.substr(0, kIgnisIvBytes), body.substr(kIgnisIvBytes));
      if (!pt) return decrypt_failed();
      return pt;
    }
    case scheme::ignis_v3_cbc:
    case scheme::ignis_v3_gcm: {
      auto raw = crypto::base64_decode(ciphertext);
      if (!raw || raw->size() < 2) return decrypt_failed();
      const std::string_view body(*raw);
      if (static_cast<unsigned char>(body[0]) != kIgnisV3Version) return decrypt_failed();
      const std::size_t id_len = static_cast<unsigned char>(body[1]);
      if (id_len == 0 || body.size() < 2 + id_len + kIgnisIvBytes) return decrypt_failed();
      const key_entry* k = find(body.substr(2, id_len));
      if (k == nullptr) return decrypt_failed();
      const std::string_view key(reinterpret_cast<const char*>(k->key.data()), k->key.size());
      const std::string_view iv = body.substr(2 + id_len, kIgnisIvBytes);
      const std::string_view rest = body.substr(2 + id_len + kIgnisIvBytes);
      result<std::string> pt = [&]() -> result<std::string> {
        if (scheme_ == scheme::ignis_v3_cbc) return crypto::aes_cbc_decrypt(key, iv, rest);
        if (rest.size() < kTagBytes) return decrypt_failed();
        return crypto::aes_gcm_decrypt(key, iv, {}, rest.substr(kTagBytes), rest.substr(0, kTagBytes));
      }();
      if (!pt) return decrypt_failed();
      return pt;
    }
  }
  return decrypt_failed();
}

result<std::string> field_cipher::encrypt(std::string_view plaintext) const { return seal(plaintext, {}, {}); }

result<std::string> field_cipher::decrypt(std::string_view ciphertext) const { return open(ciphertext, {}); }

result<std::string> field_cipher::encrypt_with_fixed_iv_for_tests(std::string_view plaintext,
                                                                  std::string_view iv) const {
  if (iv.size() != iv_size()) return make_error(errc::configuration, "wrong IV size for this scheme");
  return seal(plaintext, {}, iv);
}

result<std::string> field_cipher::value_plaintext(const std::string& name, const json& value) const {
  if (!valid_utf8_json(value, 0)) return make_error(errc::configuration, "claim values must be valid UTF-8 JSON");
  if (scheme_ == scheme::tw1) return compact(value);
  // Ignis writes every value as its string form, and the roles as JSON of "id|identifier|priority".
  if (name != kRoles) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_boolean()) return std::string(value.get<bool>() ? "true" : "false");
    return compact(value);  // numbers as JSON numbers, arrays and objects as compact JSON
  }
  if (!value.is_array()) {
    return make_error(errc::configuration, "in the Ignis formats 'roles' must be a list");
  }
  json strings = json::array();
  for (const auto& role : value) {
    auto s = role_to_string(role);
    if (!s) return s.err();
    strings.push_back(std::move(*s));
  }
  return compact(strings);
}

result<json> field_cipher::value_from_plaintext(const std::string& name, std::string&& plaintext) const {
  if (scheme_ == scheme::tw1) {
    auto v = parse_json(plaintext, json_limits{plaintext.size(), kMaxValueDepth}, "field");
    if (!v) return decrypt_failed();
    return v;
  }
  if (!valid_utf8(plaintext)) return decrypt_failed();
  if (name != kRoles) return json(std::move(plaintext));
  auto strings = parse_json(plaintext, json_limits{plaintext.size(), 2}, "roles");
  if (!strings || !strings->is_array()) return decrypt_failed();
  json roles = json::array();
  for (const auto& s : *strings) {
    if (!s.is_string()) return decrypt_failed();
    auto role = role_from_string(s.get_ref<const std::string&>());
    if (!role) return decrypt_failed();
    roles.push_back(std::move(*role));
  }
  return roles;
}

result<json> field_cipher::encrypt_claims(const json& claims) const {
  if (!claims.is_object()) return make_error(errc::configuration, "claims must be a JSON object");
  json out = json::object();
  for (const auto& [name, value] : claims.items()) {
    if (is_registered_claim(name)) {
      out[name] = value;
      continue;
    }
    if (value.is_null()) continue;
    if (!valid_utf8(name)) return make_error(errc::configuration, "claim names must be valid UTF-8");
    auto plaintext = value_plaintext(name, value);
    if (!plaintext) return plaintext.err();
    auto sealed_name = seal(name, kNameContext, {});
    if (!sealed_name) return sealed_name.err();
    auto sealed_value = seal(*plaintext, std::string(kValueContextPrefix) + name, {});
    OPENSSL_cleanse(plaintext->data(), plaintext->size());
    if (!sealed_value) return sealed_value.err();
    if (out.contains(*sealed_name)) return make_error(errc::internal, "ciphertext collision");
    out[std::move(*sealed_name)] = std::move(*sealed_value);
  }
  return out;
}

result<json> field_cipher::decrypt_claims(const json& claims) const {
  if (!claims.is_object()) return decrypt_failed();
  json out = json::object();
  // Registered claims first, so that no decrypted name can stand in for one of them.
  for (const auto& [name, value] : claims.items()) {
    if (is_registered_claim(name)) out[name] = value;
  }
  for (const auto& [name, value] : claims.items()) {
    if (is_registered_claim(name) || value.is_null()) continue;
    if (!value.is_string()) return decrypt_failed();
    auto plain_name = open(name, kNameContext);
    if (!plain_name || !valid_utf8(*plain_name)) return decrypt_failed();
    if (is_registered_claim(*plain_name) || out.contains(*plain_name)) return decrypt_failed();
    auto plaintext = open(value.get_ref<const std::string&>(), std::string(kValueContextPrefix) + *plain_name);
    if (!plaintext) return decrypt_failed();
    auto v = value_from_plaintext(*plain_name, std::move(*plaintext));
    if (!v) return v.err();
    out[std::move(*plain_name)] = std::move(*v);
  }
  return out;
}

}  // namespace tokenward
