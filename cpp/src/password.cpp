#include "tokenward/password.hpp"

#include <sodium.h>

#include <array>
#include <cstring>

#include "tokenward/crypto/random.hpp"
#include "tokenward/secret.hpp"

namespace tokenward {
namespace {

constexpr std::string_view kPrefix = "$argon2id$v=19$";
constexpr std::size_t kSaltBytes = crypto_pwhash_argon2id_SALTBYTES;  // 16: what we write
constexpr std::size_t kHashBytes = 32;                                // what crypto_pwhash_str writes
constexpr std::size_t kMinSaltBytes = 8;                              // RFC 9106 §3.1
constexpr std::size_t kMaxSaltBytes = 64;
constexpr std::size_t kMinHashBytes = 16;
constexpr std::size_t kMaxHashBytes = 64;

static_assert(kPasswordMaxHashChars + 1 == crypto_pwhash_argon2id_STRBYTES);
static_assert(crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE >= kPasswordMinOpslimit);
static_assert(crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE >= kPasswordMinMemlimit);

bool sodium_ready() {
  static const bool ready = sodium_init() >= 0;  // thread-safe (a function-local static), idempotent
  return ready;
}

error not_ready() { return make_error(errc::internal, "libsodium could not be initialised"); }

error bad_hash(std::string_view why) {
  return make_error(errc::bad_password_hash, "not an Argon2id password hash tokenward can check: " + std::string(why));
}

// "name=<decimal>" at the front of `text`, the number without leading zeros and at most 10 digits;
// advances `text` past it.
bool take_number(std::string_view& text, std::string_view name, std::uint64_t& out) {
  if (text.substr(0, name.size()) != name || text.size() <= name.size() || text[name.size()] != '=') return false;
  text.remove_prefix(name.size() + 1);
  std::size_t digits = 0;
  std::uint64_t v = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    if (digits == 10) return false;
    v = v * 10 + static_cast<std::uint64_t>(text[digits] - '0');
    ++digits;
  }
  if (digits == 0 || (digits > 1 && text[0] == '0')) return false;
  text.remove_prefix(digits);
  out = v;
  return true;
}

// The length of canonical unpadded standard base64 (libsodium's strict decoder refuses other
// characters, padding and non-zero spare bits), or 0 for anything else.
std::size_t b64_length(std::string_view text, std::size_t max_bytes) {
  if (text.empty() || text.size() > (max_bytes * 4 + 2) / 3) return 0;
  std::array<unsigned char, kMaxSaltBytes> buf{};
  static_assert(kMaxSaltBytes >= kMaxHashBytes);
  std::size_t len = 0;
  if (sodium_base642bin(buf.data(), buf.size(), text.data(), text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0) {
    return 0;
  }
  return len;
}

std::string encode_b64(const unsigned char* bytes, std::size_t n) {
  std::string out(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes, n, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

// A NUL-terminated copy for libsodium, which reads the hash as a C string.
using phc_buffer = std::array<char, crypto_pwhash_argon2id_STRBYTES>;
phc_buffer c_string(std::string_view phc) {
  phc_buffer buf{};
  std::memcpy(buf.data(), phc.data(), phc.size());  // phc.size() <= kPasswordMaxHashChars (parsed)
  return buf;
}

}  // namespace

result<argon2id_params> parse_argon2id(std::string_view phc) {
  if (phc.size() > kPasswordMaxHashChars) return bad_hash("too long");
  if (phc.substr(0, kPrefix.size()) != kPrefix) {
    if (phc.substr(0, 10) == "$argon2id$") return bad_hash("only version 19 (v=19) is supported");
    return bad_hash("it does not start with '$argon2id$v=19$'");
  }
  std::string_view rest = phc.substr(kPrefix.size());
  argon2id_params p;
  if (!take_number(rest, "m", p.memory_kib) || rest.empty() || rest[0] != ',') return bad_hash("bad m= parameter");
  rest.remove_prefix(1);
  if (!take_number(rest, "t", p.passes) || rest.empty() || rest[0] != ',') return bad_hash("bad t= parameter");
  rest.remove_prefix(1);
  if (!take_number(rest, "p", p.lanes) || rest.empty() || rest[0] != '$') return bad_hash("bad p= parameter");
  rest.remove_prefix(1);
  const std::size_t dollar = rest.find('$');
  if (dollar == std::string_view::npos) return bad_hash("no hash part");
  p.salt_bytes = b64_length(rest.substr(0, dollar), kMaxSaltBytes);
  p.hash_bytes = b64_length(rest.substr(dollar + 1), kMaxHashBytes);
  if (p.salt_bytes < kMinSaltBytes) return bad_hash("the salt is not 8 to 64 bytes of unpadded base64");
  if (p.hash_bytes < kMinHashBytes) return bad_hash("the hash is not 16 to 64 bytes of unpadded base64");
  if (p.lanes < 1 || p.lanes > kPasswordMaxLanes) return bad_hash("p is outside 1 to 16");
  if (p.passes < 1 || p.passes > kPasswordMaxOpslimit) return bad_hash("t is outside 1 to 32");
  if (p.memory_kib < 8 * p.lanes || p.memory_kib > kPasswordMaxMemlimit / 1024) {
    return bad_hash("m is outside 8 KiB per lane to 4 GiB");
  }
  return p;
}

result<password_hasher> password_hasher::create(std::uint64_t opslimit, std::size_t memlimit) {
  if (opslimit < kPasswordMinOpslimit || opslimit > kPasswordMaxOpslimit) {
    return make_error(errc::configuration, "opslimit must be 2 to 32 passes (it is " + std::to_string(opslimit) + ")");
  }
  if (memlimit < kPasswordMinMemlimit || memlimit > kPasswordMaxMemlimit || memlimit % 1024 != 0) {
    return make_error(errc::configuration, "memlimit must be a whole number of KiB from 19 MiB to 4 GiB (it is " +
                                               std::to_string(memlimit) + " bytes)");
  }
  if (!sodium_ready()) return not_ready();
  // The dummy: this hasher's parameters, a random salt and a random "hash" that no password can
  // produce in practice. Verifying against it runs the whole Argon2id computation, then fails.
  std::array<unsigned char, kSaltBytes + kHashBytes> raw{};
  TW_TRY(crypto::random_fill(raw.data(), raw.size()));
  std::string dummy = std::string(kPrefix) + "m=" + std::to_string(memlimit / 1024) + ",t=" + std::to_string(opslimit) +
                      ",p=1$" + encode_b64(raw.data(), kSaltBytes) + "$" + encode_b64(raw.data() + kSaltBytes, kHashBytes);
  auto parsed = parse_argon2id(dummy);
  if (!parsed) return make_error(errc::internal, "could not build the dummy password hash");
  return password_hasher(opslimit, memlimit, std::move(dummy));
}

result<std::string> password_hasher::hash(std::string_view password) const {
  if (password.size() > kPasswordMaxBytes) {
    return make_error(errc::password_rejected,
                      "the password is longer than " + std::to_string(kPasswordMaxBytes) + " bytes");
  }
  if (!sodium_ready()) return not_ready();
  phc_buffer out{};
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), opslimit_, memlimit_,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return make_error(errc::internal, "Argon2id hashing failed (out of memory?)");
  }
  std::string phc(out.data());
  sodium_memzero(out.data(), out.size());
  return phc;
}

result<bool> password_hasher::verify(std::string_view phc, std::string_view password) const {
  auto parsed = parse_argon2id(phc);
  if (!parsed) return parsed.err();
  if (password.size() > kPasswordMaxBytes) return false;
  if (!sodium_ready()) return not_ready();
  const phc_buffer buf = c_string(phc);
  return crypto_pwhash_str_verify(buf.data(), password.data(), password.size()) == 0;
}

bool password_hasher::verify_dummy(std::string_view password) const {
  if (password.size() > kPasswordMaxBytes || !sodium_ready()) return false;
  const phc_buffer buf = c_string(dummy_);
  // The outcome is thrown away (warn_unused_result is satisfied by looking at it).
  const int rc = crypto_pwhash_str_verify(buf.data(), password.data(), password.size());
  return rc == 0 && false;
}

result<bool> password_hasher::needs_rehash(std::string_view phc) const {
  auto parsed = parse_argon2id(phc);
  if (!parsed) return parsed.err();
  if (!sodium_ready()) return not_ready();
  const phc_buffer buf = c_string(phc);
  const int rc = crypto_pwhash_str_needs_rehash(buf.data(), opslimit_, memlimit_);
  if (rc < 0) return bad_hash("libsodium could not read it");
  return rc != 0 || parsed->lanes != 1 || parsed->salt_bytes != kSaltBytes || parsed->hash_bytes != kHashBytes;
}

}  // namespace tokenward
