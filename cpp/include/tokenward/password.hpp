// Password hashing: Argon2id (RFC 9106) through libsodium's crypto_pwhash_str family.
//
// A hash is a PHC string, "$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>" (salt and
// hash in unpadded standard base64), the format argon2-cffi, pwdlib and the reference
// implementation write. We write p=1, a 16-byte salt and a 32-byte hash; we verify any lane count
// up to kPasswordMaxLanes, so hashes made elsewhere (argon2-cffi writes p=4) can be imported.
//
// Every PHC string is parsed strictly before libsodium sees it: anything that is not an Argon2id
// v=19 string within the bounds below is errc::bad_password_hash, never a plain "no match", so a
// corrupt or foreign hash (bcrypt, argon2i) is told apart from a wrong password. The bounds on m,
// t and p also stop a stored string from asking for gigabytes or hours.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenward/errc.hpp"

namespace tokenward {

// The parameters a hasher may be built with. The floor is OWASP's weakest recommended Argon2id
// setting (19 MiB, 2 passes); libsodium's INTERACTIVE (64 MiB, 2 passes) is the default.
inline constexpr std::uint64_t kPasswordMinOpslimit = 2;
inline constexpr std::uint64_t kPasswordMaxOpslimit = 32;
inline constexpr std::size_t kPasswordMinMemlimit = std::size_t{19} << 20;  // 19 MiB
inline constexpr std::size_t kPasswordMaxMemlimit = std::size_t{4} << 30;   // 4 GiB
inline constexpr std::uint64_t kPasswordMaxLanes = 16;                       // verified, never written
// The longest password hashed or verified, in bytes (UTF-8): a bound against abuse, not a limit
// of Argon2 (which has none worth the name).
inline constexpr std::size_t kPasswordMaxBytes = 1024;
// The longest PHC string accepted: libsodium's buffer, less its terminating NUL.
inline constexpr std::size_t kPasswordMaxHashChars = 127;

// What a PHC string says.
struct argon2id_params {
  std::uint64_t memory_kib = 0;  // m
  std::uint64_t passes = 0;      // t
  std::uint64_t lanes = 0;       // p
  std::size_t salt_bytes = 0;
  std::size_t hash_bytes = 0;
};

// Parses "$argon2id$v=19$m=..,t=..,p=..$salt$hash" strictly (decimal numbers without leading
// zeros, canonical unpadded base64, no keyid/data parameters, bounds above); errc::bad_password_hash
// otherwise.
result<argon2id_params> parse_argon2id(std::string_view phc);

class password_hasher {
 public:
  // errc::configuration for parameters outside the bounds above, or a memlimit that is not a
  // whole number of KiB.
  static result<password_hasher> create(std::uint64_t opslimit, std::size_t memlimit);

  // A new PHC string for `password` (a fresh random salt each time); errc::password_rejected for
  // a password longer than kPasswordMaxBytes.
  [[nodiscard]] result<std::string> hash(std::string_view password) const;
  // Whether `password` matches `phc`. errc::bad_password_hash for a malformed or foreign string;
  // a password longer than kPasswordMaxBytes is false without any work.
  [[nodiscard]] result<bool> verify(std::string_view phc, std::string_view password) const;
  // One verification at this hasher's parameters against a hash no password matches: the same
  // work as verify() with a wrong password, for sign-ins with an unknown email. Always false.
  [[nodiscard]] bool verify_dummy(std::string_view password) const;
  // Whether `phc` was made with other parameters than this hasher's (opslimit, memlimit, one
  // lane, 16-byte salt, 32-byte hash). errc::bad_password_hash for a malformed string.
  [[nodiscard]] result<bool> needs_rehash(std::string_view phc) const;

  [[nodiscard]] std::uint64_t opslimit() const noexcept { return opslimit_; }
  [[nodiscard]] std::size_t memlimit() const noexcept { return memlimit_; }

 private:
  password_hasher(std::uint64_t opslimit, std::size_t memlimit, std::string dummy)
      : opslimit_(opslimit), memlimit_(memlimit), dummy_(std::move(dummy)) {}

  std::uint64_t opslimit_;
  std::size_t memlimit_;
  std::string dummy_;  // a PHC string with this hasher's parameters and random salt and hash
};

}  // namespace tokenward
