#include "tokenward/claims.hpp"

#include <algorithm>
#include <cctype>

namespace tokenward {
namespace {

std::string quoted(const std::string& name) { return "'" + name.substr(0, 64) + "'"; }

// A NumericDate (RFC 7519 §2): a JSON number; booleans are not numbers.
result<std::optional<double>> numeric_date(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::optional<double>{};
  if (!it->is_number()) return make_error(errc::invalid_claim, std::string("claim '") + name + "' must be a number");
  return std::optional<double>(it->get<double>());
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

bool typ_matches(std::string_view header_typ, std::string_view expected) {
  auto norm = [](std::string_view s) {
    std::string l = lower(s);
    if (l.rfind("application/", 0) == 0 && l.find('/', 12) == std::string::npos) l.erase(0, 12);
    return l;
  };
  return norm(header_typ) == norm(expected);
}

status check_claims(const json& claims, const claims_policy& p, double now) {
  if (!claims.is_object()) return make_error(errc::malformed, "JWT claims must be a JSON object");

  for (const auto& name : p.required) {
    if (!claims.contains(name)) return make_error(errc::missing_claim, "missing required claim " + quoted(name));
  }

  auto exp = numeric_date(claims, "exp");
  if (!exp) return exp.err();
  if (*exp && now - p.leeway >= **exp) return make_error(errc::expired, "token has expired");

  auto nbf = numeric_date(claims, "nbf");
  if (!nbf) return nbf.err();
  if (*nbf && now + p.leeway < **nbf) return make_error(errc::immature, "token is not valid yet (nbf)");

  auto iat = numeric_date(claims, "iat");
  if (!iat) return iat.err();
  if (*iat && now + p.leeway < **iat) return make_error(errc::immature, "token was issued in the future (iat)");

  if (!p.issuers.empty()) {
    auto it = claims.find("iss");
    if (it == claims.end()) return make_error(errc::missing_claim, "missing required claim 'iss'");
    if (!it->is_string()) return make_error(errc::wrong_issuer, "claim 'iss' must be a string");
    const auto& iss = it->get_ref<const std::string&>();
    if (std::find(p.issuers.begin(), p.issuers.end(), iss) == p.issuers.end()) {
      return make_error(errc::wrong_issuer, "token issuer is not accepted");
    }
  }

  auto aud_it = claims.find("aud");
  if (p.audiences.empty()) {
    if (aud_it != claims.end()) {
      return make_error(errc::wrong_audience, "token names an audience but no audience is expected");
    }
    return {};
  }
  if (aud_it == claims.end()) return make_error(errc::missing_claim, "missing required claim 'aud'");
  auto accepted = [&](const json& v) {
    return v.is_string() &&
           std::find(p.audiences.begin(), p.audiences.end(), v.get_ref<const std::string&>()) != p.audiences.end();
  };
  if (aud_it->is_string()) {
    if (!accepted(*aud_it)) return make_error(errc::wrong_audience, "token audience is not accepted");
    return {};
  }
  if (!aud_it->is_array()) return make_error(errc::wrong_audience, "claim 'aud' must be a string or an array of strings");
  bool match = false;
  for (const auto& v : *aud_it) {
    if (!v.is_string()) return make_error(errc::wrong_audience, "claim 'aud' must be a string or an array of strings");
    match = match || accepted(v);
  }
  if (!match) return make_error(errc::wrong_audience, "token audience is not accepted");
  return {};
}

}  // namespace tokenward
