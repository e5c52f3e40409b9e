#include "tokenward/claims.hpp"

#include <algorithm>
#include <cctype>

namespace tokenward {
namespace {

std::string quoted(const std::string& name) { return "'" + name.substr(0, 64) + "'"; }

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

namespace {

namespace dom = simdjson::dom;

// A member of the claims object, or an absent one.
struct member {
  dom::element v;
  bool found = false;
  [[nodiscard]] bool present() const { return found; }
  [[nodiscard]] bool is_number() const { return v.is_number(); }
  [[nodiscard]] double number() const { return v.get_double().value_unsafe(); }
  [[nodiscard]] bool is_string() const { return v.is_string(); }
  [[nodiscard]] std::string_view string() const { return v.get_string().value_unsafe(); }
  [[nodiscard]] bool is_array() const { return v.is_array(); }
  template <class F>
  bool each(F&& f) const {
    dom::array items;
    if (v.get(items) != simdjson::SUCCESS) return false;
    for (const auto item : items) {
      if (!f(member{item, true})) return false;
    }
    return true;
  }
};

struct claims_object {
  dom::object obj;
  bool valid = false;
  explicit claims_object(dom::element root) { valid = root.get(obj) == simdjson::SUCCESS; }
  [[nodiscard]] bool is_object() const { return valid; }
  [[nodiscard]] member find(std::string_view name) const {
    dom::element found;
    if (obj.at_key(name).get(found) != simdjson::SUCCESS) return {};
    return member{found, true};
  }
};

// The registered claims the policy reads, found in one pass over the members (json_doc refused
// duplicate names, so the one member of a name is the one at_key would find).
struct registered {
  member exp, nbf, iat, iss, aud;
  explicit registered(const claims_object& claims) {
    if (!claims.is_object()) return;
    for (const auto field : claims.obj) {
      const std::string_view k = field.key;
      if (k.size() != 3) continue;
      const member found{field.value, true};
      if (k == "exp") {
        exp = found;
      } else if (k == "nbf") {
        nbf = found;
      } else if (k == "iat") {
        iat = found;
      } else if (k == "iss") {
        iss = found;
      } else if (k == "aud") {
        aud = found;
      }
    }
  }
};

// A NumericDate (RFC 7519 §2): a JSON number; booleans are not numbers.
result<std::optional<double>> numeric_date(const member& m, const char* name) {
  if (!m.present()) return std::optional<double>{};
  if (!m.is_number()) return make_error(errc::invalid_claim, std::string("claim '") + name + "' must be a number");
  return std::optional<double>(m.number());
}

status check(const claims_object& claims, const claims_policy& p, double now) {
  if (!claims.is_object()) return make_error(errc::malformed, "JWT claims must be a JSON object");

  for (const auto& name : p.required) {
    if (!claims.find(name).present()) return make_error(errc::missing_claim, "missing required claim " + quoted(name));
  }

  const registered r(claims);
  auto exp = numeric_date(r.exp, "exp");
  if (!exp) return exp.err();
  if (*exp && now - p.leeway >= **exp) return make_error(errc::expired, "token has expired");

  auto nbf = numeric_date(r.nbf, "nbf");
  if (!nbf) return nbf.err();
  if (*nbf && now + p.leeway < **nbf) return make_error(errc::immature, "token is not valid yet (nbf)");

  auto iat = numeric_date(r.iat, "iat");
  if (!iat) return iat.err();
  if (*iat && now + p.leeway < **iat) return make_error(errc::immature, "token was issued in the future (iat)");

  if (!p.issuers.empty()) {
    const auto& iss = r.iss;
    if (!iss.present()) return make_error(errc::missing_claim, "missing required claim 'iss'");
    if (!iss.is_string()) return make_error(errc::wrong_issuer, "claim 'iss' must be a string");
    if (std::find(p.issuers.begin(), p.issuers.end(), iss.string()) == p.issuers.end()) {
      return make_error(errc::wrong_issuer, "token issuer is not accepted");
    }
  }

  const auto& aud = r.aud;
  if (p.audiences.empty()) {
    if (aud.present()) return make_error(errc::wrong_audience, "token names an audience but no audience is expected");
    return {};
  }
  if (!aud.present()) return make_error(errc::missing_claim, "missing required claim 'aud'");
  auto accepted = [&](std::string_view v) {
    return std::find(p.audiences.begin(), p.audiences.end(), v) != p.audiences.end();
  };
  if (aud.is_string()) {
    if (!accepted(aud.string())) return make_error(errc::wrong_audience, "token audience is not accepted");
    return {};
  }
  const auto bad_shape = [] {
    return make_error(errc::wrong_audience, "claim 'aud' must be a string or an array of strings");
  };
  if (!aud.is_array()) return bad_shape();
  bool match = false;
  const bool all_strings = aud.each([&](const member& v) {
    if (!v.is_string()) return false;
    match = match || accepted(v.string());
    return true;
  });
  if (!all_strings) return bad_shape();
  if (!match) return make_error(errc::wrong_audience, "token audience is not accepted");
  return {};
}

}  // namespace

status check_claims(simdjson::dom::element claims, const claims_policy& policy, double now) {
  return check(claims_object(claims), policy, now);
}

}  // namespace tokenward
