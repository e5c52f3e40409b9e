#include "tokenward/totp.hpp"

#include <array>

#include "tokenward/crypto/random.hpp"

namespace tokenward::otp {
namespace {

constexpr std::array<std::uint32_t, kMaxDigits + 1> kPowers{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

error secret_size_error(std::size_t size) {
  return make_error(errc::invalid_key, "a one-time-password secret must be " + std::to_string(kMinSecretBytes) + " to " +
                                           std::to_string(kMaxSecretBytes) + " bytes long (it has " +
                                           std::to_string(size) + ")");
}

// All-ones when b, else zero, without a branch.
std::uint64_t mask_if_true(bool b) noexcept { return std::uint64_t{0} - static_cast<std::uint64_t>(b); }

}  // namespace

result<mac_digest> digest_from_name(std::string_view name) {
  if (name == "SHA1") return mac_digest::sha1;
  if (name == "SHA256") return mac_digest::sha256;
  if (name == "SHA512") return mac_digest::sha512;
  return make_error(errc::configuration, "the one-time-password algorithm must be SHA1, SHA256 or SHA512");
}

std::string_view digest_name(mac_digest d) noexcept {
  switch (d) {
    case mac_digest::sha1: return "SHA1";
    case mac_digest::sha256: return "SHA256";
    case mac_digest::sha512: return "SHA512";
  }
  return "SHA1";
}

result<std::uint64_t> time_step(std::int64_t at, std::int64_t period) {
  if (period < 1) return make_error(errc::configuration, "the TOTP period must be at least one second");
  if (at < 0) return make_error(errc::configuration, "the TOTP time must not be before 1970");
  return static_cast<std::uint64_t>(at / period);
}

result<otp_key> otp_key::create(std::string_view secret, mac_digest digest, int digits) {
  if (secret.size() < kMinSecretBytes || secret.size() > kMaxSecretBytes) return secret_size_error(secret.size());
  if (digits < kMinDigits || digits > kMaxDigits) {
    return make_error(errc::configuration, "a one-time password has 6 to 8 digits");
  }
  auto mac = crypto::hmac::create(digest, secret);
  if (!mac) return mac.err();
  return otp_key(std::move(*mac), digits);
}

result<std::uint32_t> otp_key::truncated(std::uint64_t counter) const {
  std::array<char, 8> message{};
  for (std::size_t i = 0; i < message.size(); ++i) {
    message[7 - i] = static_cast<char>(static_cast<unsigned char>(counter >> (8U * i)));
  }
  auto m = mac_.mac(std::string_view(message.data(), message.size()));
  if (!m) return m.err();
  const auto& h = m->bytes;
  const std::size_t offset = h[m->size - 1] & 0x0FU;  // at most 15: within every digest's bytes
  return ((static_cast<std::uint32_t>(h[offset]) & 0x7FU) << 24U) | (static_cast<std::uint32_t>(h[offset + 1]) << 16U) |
         (static_cast<std::uint32_t>(h[offset + 2]) << 8U) | static_cast<std::uint32_t>(h[offset + 3]);
}

result<std::string> otp_key::code(std::uint64_t counter) const {
  auto t = truncated(counter);
  if (!t) return t.err();
  std::uint32_t value = *t % kPowers[static_cast<std::size_t>(digits_)];
  std::string out(static_cast<std::size_t>(digits_), '0');
  for (std::size_t i = out.size(); i-- > 0;) {
    out[i] = static_cast<char>('0' + value % 10U);
    value /= 10U;
  }
  return out;
}

result<std::optional<std::uint64_t>> otp_key::verify(std::string_view code, std::uint64_t step, int window) const {
  if (window < 0 || window > kMaxWindow) {
    return make_error(errc::configuration, "the TOTP window must be 0 to " + std::to_string(kMaxWindow) + " steps");
  }
  // The shape of the code is no secret: refuse what cannot be a code before any HMAC.
  if (code.size() != static_cast<std::size_t>(digits_)) return std::optional<std::uint64_t>{};
  for (const char c : code) {
    if (c < '0' || c > '9') return std::optional<std::uint64_t>{};
  }
  const auto w = static_cast<std::uint64_t>(window);
  const std::uint64_t first = step >= w ? step - w : 0;
  const std::uint64_t last = step <= UINT64_MAX - w ? step + w : UINT64_MAX;
  std::uint64_t found = 0;    // all-ones once any step matched
  std::uint64_t matched = 0;  // the latest matching step
  for (std::uint64_t s = first;; ++s) {
    auto candidate = this->code(s);
    if (!candidate) return candidate.err();
    const std::uint64_t hit = mask_if_true(crypto::equal_constant_time(*candidate, code));
    matched = (matched & ~hit) | (s & hit);
    found |= hit;
    if (s == last) break;
  }
  if (found == 0) return std::optional<std::uint64_t>{};
  return std::optional<std::uint64_t>{matched};
}

result<std::string> hotp_code(std::string_view secret, std::uint64_t counter, mac_digest digest, int digits) {
  auto key = otp_key::create(secret, digest, digits);
  if (!key) return key.err();
  return key->code(counter);
}

result<std::string> totp_code(std::string_view secret, std::int64_t at, std::int64_t period, mac_digest digest,
                              int digits) {
  auto step = time_step(at, period);
  if (!step) return step.err();
  return hotp_code(secret, *step, digest, digits);
}

result<std::optional<std::uint64_t>> totp_verify(std::string_view secret, std::string_view code, std::int64_t at,
                                                 std::int64_t period, mac_digest digest, int digits, int window) {
  auto step = time_step(at, period);
  if (!step) return step.err();
  auto key = otp_key::create(secret, digest, digits);
  if (!key) return key.err();
  return key->verify(code, *step, window);
}

result<secret_bytes> new_secret(std::size_t size) {
  if (size < kMinSecretBytes || size > kMaxSecretBytes) return secret_size_error(size);
  return crypto::random_secret(size);
}

}  // namespace tokenward::otp
