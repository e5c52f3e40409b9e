// Error codes of the tokenward core. Nothing in cpp/src throws on bad input: every function that can
// fail returns a status (or a result<T>) carrying one of these codes and a short detail text. The
// binding layer turns a failed status into a Python exception exactly once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>

namespace tokenward {

enum class errc {
  ok = 0,
  // the token's fault: InvalidTokenError and subclasses
  malformed,               // not compact JWS, bad base64url, bad JSON, duplicate member, too large, too deep
  bad_signature,           // signature does not verify
  expired,                 // exp passed (with leeway)
  immature,                // nbf (or iat) in the future (with leeway)
  wrong_issuer,            // iss not in the allowed set
  wrong_audience,          // aud does not name an allowed audience
  missing_claim,           // a required claim is absent
  invalid_claim,           // a claim has the wrong type or value (typ included)
  key_not_found,           // no key in the set matches the token's kid/alg
  unsupported_algorithm,   // alg unknown, "none", not allowed, or not the key's algorithm
  // not the token's fault
  invalid_key,             // key material unusable or too weak, or refused for this use
  configuration,           // the caller asked for something inconsistent
  internal,                // OpenSSL failed where it should not (allocation, ...)
  // the token's fault again (appended to keep the numbering of the codes above)
  decryption_failed,       // an encrypted field did not decrypt: tampered, truncated, wrong or unknown key
  // passwords (appended too)
  bad_password_hash,       // a stored password hash is not an Argon2id PHC string within bounds
  password_rejected,       // a password the hasher refuses to hash (longer than its bound)
  // Not a code: the number of codes. A new code goes just above, and then the binding layer's
  // table of exception classes (cpp/bindings/common.cpp) fails to compile until it names one.
  errc_count,
};

inline constexpr std::size_t kErrcCount = static_cast<std::size_t>(errc::errc_count);

const std::error_category& error_category() noexcept;
std::error_code make_error_code(errc e) noexcept;
// A stable, short name for each code, used by the bindings to pick the exception class.
std::string_view code_name(errc e) noexcept;

// A failed status: a code and a human-readable detail that never contains key material.
struct error {
  errc code = errc::ok;
  std::string detail;
};

// Status of an operation without a value.
class status {
 public:
  status() = default;
  status(errc code, std::string detail) : err_{code, std::move(detail)} {}
  status(error e) : err_(std::move(e)) {}  // NOLINT(google-explicit-constructor)
  [[nodiscard]] bool ok() const noexcept { return err_.code == errc::ok; }
  explicit operator bool() const noexcept { return ok(); }
  [[nodiscard]] const error& err() const noexcept { return err_; }

 private:
  error err_;
};

// A value or an error.
template <class T>
class result {
 public:
  result(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  result(error e) : v_(std::move(e)) {}              // NOLINT(google-explicit-constructor)
  result(errc code, std::string detail) : v_(error{code, std::move(detail)}) {}
  result(const status& s) : v_(s.err()) {}          // NOLINT(google-explicit-constructor)
  [[nodiscard]] bool ok() const noexcept { return std::holds_alternative<T>(v_); }
  explicit operator bool() const noexcept { return ok(); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  [[nodiscard]] const error& err() const { return std::get<error>(v_); }

 private:
  std::variant<T, error> v_;
};

inline error make_error(errc code, std::string detail) { return error{code, std::move(detail)}; }

}  // namespace tokenward

template <>
struct std::is_error_code_enum<tokenward::errc> : std::true_type {};

// Propagate a failed status or result from the current function.
#define TW_TRY(expr)                          \
  do {                                        \
    auto tw_try_s_ = (expr);                  \
    if (!tw_try_s_.ok()) return tw_try_s_.err(); \
  } while (0)
