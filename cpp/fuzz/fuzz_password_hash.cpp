// libFuzzer target: the stored-password-hash parser and the e-mail token shape. Aborts if
// parse_argon2id accepts a string libsodium cannot read (crypto_pwhash_str_needs_rehash, which
// parses without hashing), accepts parameters outside its documented bounds, or if a token shape
// check disagrees with hashing. Nothing here runs Argon2 itself: a fuzzer must not allocate
// gigabytes on request.
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "tokenward/one_time_tokens.hpp"
#include "tokenward/password.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tokenward;
  static const bool ready = sodium_init() >= 0;
  if (!ready) std::abort();
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const auto parsed = parse_argon2id(text);
  if (parsed) {
    if (text.size() > kPasswordMaxHashChars || std::memchr(text.data(), '\0', text.size()) != nullptr) std::abort();
    if (parsed->lanes < 1 || parsed->lanes > kPasswordMaxLanes || parsed->passes < 1 ||
        parsed->passes > kPasswordMaxOpslimit || parsed->memory_kib > kPasswordMaxMemlimit / 1024 ||
        parsed->salt_bytes < 8 || parsed->hash_bytes < 16) {
      std::abort();
    }
    char buf[crypto_pwhash_STRBYTES] = {};
    std::memcpy(buf, text.data(), text.size());
    if (crypto_pwhash_str_needs_rehash(buf, 2, 64u << 20) < 0) std::abort();
  } else if (parsed.err().code != errc::bad_password_hash) {
    std::abort();
  }

  static const auto tokens = one_time_tokens::create(std::string(32, 's'), "reset-password");
  if (!tokens) std::abort();
  const bool shaped = tokens->is_token(text);
  const auto h = tokens->hash(text);
  if (shaped != h.ok()) std::abort();
  if (shaped && !tokens->matches(text, *h)) std::abort();
  return 0;
}
