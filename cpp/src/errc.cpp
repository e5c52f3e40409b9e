#include "tokenward/errc.hpp"

namespace tokenward {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tokenward"; }
  std::string message(int c) const override { return std::string(code_name(static_cast<errc>(c))); }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const category c;
  return c;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

std::string_view code_name(errc e) noexcept {
  switch (e) {
    case errc::ok: return "ok";
    case errc::malformed: return "malformed";
    case errc::bad_signature: return "bad_signature";
    case errc::expired: return "expired";
    case errc::immature: return "immature";
    case errc::wrong_issuer: return "wrong_issuer";
    case errc::wrong_audience: return "wrong_audience";
    case errc::missing_claim: return "missing_claim";
    case errc::invalid_claim: return "invalid_claim";
    case errc::key_not_found: return "key_not_found";
    case errc::unsupported_algorithm: return "unsupported_algorithm";
    case errc::invalid_key: return "invalid_key";
    case errc::configuration: return "configuration";
    case errc::internal: return "internal";
    case errc::decryption_failed: return "decryption_failed";
    case errc::bad_password_hash: return "bad_password_hash";
    case errc::password_rejected: return "password_rejected";
    case errc::errc_count: break;
  }
  return "unknown";
}

}  // namespace tokenward
