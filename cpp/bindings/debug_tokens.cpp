// Bindings of the custom provider's tokens: HS256 access tokens and opaque refresh tokens.
#include <cmath>
#include <memory>

#include "common.hpp"
#include "token_cache.hpp"
#include "tokenward/debug_tokens.hpp"
#include "tokenward/verifier.hpp"

namespace tokenward::bindings {
namespace {

struct py_debug_tokens {
  std::shared_ptr<const debug_tokens> t;
  std::shared_ptr<token_cache> cache;  // null unless cache_size > 0; the keys never change
};

debug_token_options options_arg(std::string issuer, double leeway) {
  if (!std::isfinite(leeway)) raise(errc::configuration, "leeway must be a finite number");
  debug_token_options opts;
  opts.issuer = std::move(issuer);
  opts.leeway = leeway;
  return opts;
}

py_debug_tokens with_cache(std::shared_ptr<const debug_tokens> t, std::size_t cache_size, double leeway) {
  return py_debug_tokens{std::move(t), token_cache::make(cache_size, leeway)};
}

// GIL held. The claims of a valid access token, verified in full without the GIL; the token's
// error otherwise.
py::object fresh_access(const py_debug_tokens& self, std::string_view t, double at) {
  result<json_doc> r = [&] {
    py::gil_scoped_release nogil;
    return self.t->verify_access(t, at);
  }();
  return to_py(unwrap(std::move(r)).root());
}

// A sequence of str (possibly empty); a lone str is refused, it is almost always a mistake.
std::vector<std::string> names_arg(py::handle h, const char* what) {
  std::vector<std::string> out;
  if (PyUnicode_Check(h.ptr()) || PyBytes_Check(h.ptr())) {
    throw py::type_error(std::string(what) + " must be a sequence of str, not a single string");
  }
  for (auto item : h) {
    if (!PyUnicode_Check(item.ptr())) throw py::type_error(std::string(what) + " must be a sequence of str");
    out.push_back(item.cast<std::string>());
  }
  return out;
}

}  // namespace

void bind_debug_tokens(py::module_& m) {
  py::class_<py_debug_tokens>(m, "DebugTokens",
                              "Tokens of the custom (debug) provider: HS256 access tokens (typ at+jwt) and opaque "
                              "refresh tokens, all keyed by one secret through HKDF-SHA256.")
      .def(py::init([](py::handle secret, std::string issuer, double leeway, std::size_t cache_size) {
             std::string bytes = text_arg(secret, "secret");
             auto opts = options_arg(std::move(issuer), leeway);
             return with_cache(unwrap(debug_tokens::create(bytes, std::move(opts))), cache_size, leeway);
           }),
           py::arg("secret"), py::kw_only(), py::arg("issuer") = "tokenward", py::arg("leeway") = 0.0,
           py::arg("cache_size") = 0)
      .def_static(
          "with_random_secret",
          [](std::string issuer, double leeway, std::size_t cache_size) {
            auto opts = options_arg(std::move(issuer), leeway);
            return with_cache(unwrap(debug_tokens::create_random(std::move(opts))), cache_size, leeway);
          },
          py::kw_only(), py::arg("issuer") = "tokenward", py::arg("leeway") = 0.0, py::arg("cache_size") = 0,
          "Keys from 32 random bytes that never leave the native core: tokens die with the process.")
      .def(
          "issue_access",
          [](const py_debug_tokens& self, const std::string& sub, const std::optional<std::string>& email,
             py::handle groups, py::handle scopes, std::int64_t lifetime, std::optional<std::int64_t> iat,
             const std::optional<std::string>& jti, const std::optional<std::string>& sid, py::handle extra) {
            debug_identity who;
            who.sub = sub;
            who.sid = sid.value_or("");
            who.email = email.value_or("");
            who.groups = names_arg(groups, "groups");
            who.scopes = names_arg(scopes, "scopes");
            for (const auto& s : who.scopes) {
              if (s.empty() || s.find(' ') != std::string::npos) {
                raise(errc::configuration, "a scope must be a non-empty string without spaces");
              }
            }
            json extra_claims;  // null: none; converted here, under the GIL
            if (!extra.is_none()) {
              if (!is_mapping(extra)) throw py::type_error("extra must be a mapping of claim names to JSON values");
              extra_claims = from_py(extra);
            }
            const std::int64_t issued =
                iat.value_or(static_cast<std::int64_t>(std::floor(verifier::now_seconds())));
            py::gil_scoped_release nogil;
            return unwrap(self.t->issue_access(who, issued, lifetime, jti.value_or(""), extra_claims));
          },
          py::arg("sub"), py::kw_only(), py::arg("email") = py::none(), py::arg("groups") = py::tuple(),
          py::arg("scopes") = py::tuple(), py::arg("lifetime"), py::arg("iat") = py::none(),
          py::arg("jti") = py::none(), py::arg("sid") = py::none(), py::arg("extra") = py::none(),
          "Mint an access token. The same sub/email/groups/scopes/lifetime/iat/jti/sid/extra give the "
          "same token; sid names the session (refresh-token family) it belongs to. extra (a mapping) "
          "adds claims of the caller's own: a name the token sets itself (iss, sub, aud, exp, nbf, "
          "iat, jti, sid, token_use, scope, groups, email, cognito:groups, client_id, auth_time, typ) "
          "or more than 4096 bytes of JSON is a ConfigurationError.")
      .def_static(
          "is_reserved_claim", [](std::string_view name) { return is_reserved_access_claim(name); },
          py::arg("name"), "Whether an access token sets claim `name` itself (extra claims may not).")
      .def(
          "verify_access",
          [](const py_debug_tokens& self, py::handle token, std::optional<double> now) {
            const std::string_view t = text_view(token, "token");  // the caller's object keeps it alive
            const double at = now.value_or(verifier::now_seconds());
            return through_cache(self.cache.get(), t, at, [&] { return fresh_access(self, t, at); });
          },
          py::arg("token"), py::kw_only(), py::arg("now") = py::none(),
          "Verify an access token (signature, typ, issuer, times, token_use); return its claims. With "
          "cache_size > 0, a token that passed is answered from the verified-token cache until its exp.")
      .def(
          "check_access",
          [](const py_debug_tokens& self, py::handle token, std::optional<double> now) {
            const std::string_view t = text_view(token, "token");
            const double at = now.value_or(verifier::now_seconds());
            if (!self.cache) {
              fresh_access(self, t, at);
            } else if (!self.cache->holds(t, at)) {  // a miss, counted once: verify, remember
              self.cache->put(t, fresh_access(self, t, at));
            }
          },
          py::arg("token"), py::kw_only(), py::arg("now") = py::none(),
          "verify_access without the claims: None for a valid access token, the same errors "
          "otherwise. A token in the verified-token cache costs a look-up and its times only.")
      .def(
          "cache_info",
          [](const py_debug_tokens& self) -> py::object {
            if (!self.cache) return py::none();
            return self.cache->info();
          },
          "Counters of the verified-token cache (hits, misses, size, capacity), or None without one.")
      .def_static(
          "new_refresh_token", [] { return unwrap(debug_tokens::new_refresh_token()); },
          "A new refresh token: 'twr_' and 256 random bits in base64url.")
      .def(
          "successor_refresh_token",
          [](const py_debug_tokens& self, const std::string& token) {
            return unwrap(self.t->successor_refresh_token(token));
          },
          py::arg("token"), "The refresh token that replaces `token` when it is rotated.")
      .def(
          "refresh_token_hash",
          [](const py_debug_tokens& self, const std::string& token) { return unwrap(self.t->refresh_token_hash(token)); },
          py::arg("token"), "hex(HMAC-SHA256) of a refresh token under a key derived from the secret.")
      .def_static("is_refresh_token", &debug_tokens::is_refresh_token, py::arg("token"),
                  "Whether `token` has the exact shape of a refresh token.")
      .def_static(
          "random_id", [](std::size_t nbytes) { return unwrap(debug_tokens::random_id(nbytes)); },
          py::arg("nbytes") = 16, "`nbytes` random bytes in base64url.")
      .def_property_readonly("issuer", [](const py_debug_tokens& self) { return self.t->issuer(); })
      .def("__repr__", [](const py_debug_tokens& self) {
        return "<DebugTokens issuer=" + py::repr(py::str(self.t->issuer())).cast<std::string>() + ">";
      });
}

}  // namespace tokenward::bindings
