// Binding of the JWKS cache's policy (cpp/include/tokenward/jwks_cache.hpp) as _core.JWKSCache.
// python/tokenward/jwks.py does the HTTP around it: it asks plan(), fetches when handed a ticket,
// and reports the body or the failure back.
#include <chrono>
#include <cmath>
#include <tuple>

#include "key_source.hpp"
#include "tokenward/peek.hpp"

namespace tokenward::bindings {

double py_jwks_cache::now() const {
  if (clock.is_none()) {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
  }
  const double t = clock().cast<double>();
  if (std::isnan(t)) raise(errc::configuration, "the clock returned NaN");
  return t;
}

namespace {

jwks_cache::ask ask_arg(const std::string& name) {
  if (name == "keys") return jwks_cache::ask::keys;
  if (name == "refresh") return jwks_cache::ask::refresh;
  if (name == "force") return jwks_cache::ask::force;
  throw py::value_error("ask must be 'keys', 'refresh' or 'force'");
}

const char* action_name(jwks_cache::action a) {
  switch (a) {
    case jwks_cache::action::use: return "use";
    case jwks_cache::action::wait: return "wait";
    case jwks_cache::action::fetch: return "fetch";
  }
  return "use";
}

py::tuple settled_tuple(const jwks_cache::settled& s) {
  const char* what = s.what == jwks_cache::outcome::swapped      ? "swapped"
                     : s.what == jwks_cache::outcome::kept_stale ? "kept_stale"
                                                                  : "unavailable";
  return py::make_tuple(what, s.seconds_left, s.key_count, s.error);
}

py::object usable_keys(const py_jwks_cache& self) {
  auto snap = self.cache->current();
  if (!snap->usable(self.now())) return py::none();
  return py::cast(py_keyset{snap->keys});
}

}  // namespace

void bind_jwks_cache(py::module_& m) {
  // Routing between key sources (CognitoVerifier: one verifier per issuer). Never a decision.
  m.def(
      "_unverified_issuer",
      [](py::handle token) -> std::optional<std::string> {
        return unverified_issuer(text_view(token, "token"));
      },
      py::arg("token"), "The payload's 'iss', unverified, or None: for picking a verifier only.");

  py::class_<py_jwks_cache, std::shared_ptr<py_jwks_cache>>(
      m, "JWKSCache", "The JWKS cache's policy (TTL, cooldown, single flight, stale bound); it never does I/O.")
      .def(py::init([](double ttl, double cooldown, double max_stale, std::size_t max_bytes, std::size_t max_keys,
                       bool allow_secret_keys, py::object clock) {
             if (!clock.is_none() && !PyCallable_Check(clock.ptr())) throw py::type_error("clock must be callable");
             jwks_cache_options opts;
             opts.ttl = ttl;
             opts.cooldown = cooldown;
             opts.max_stale = max_stale;
             opts.limits = jwks_limits{max_bytes, max_keys};
             opts.allow_secret_keys = allow_secret_keys;
             return std::make_shared<py_jwks_cache>(py_jwks_cache{unwrap(jwks_cache::create(opts)), std::move(clock)});
           }),
           py::kw_only(), py::arg("ttl") = 600.0, py::arg("cooldown") = 30.0, py::arg("max_stale") = 86400.0,
           py::arg("max_bytes") = std::size_t{1} << 20, py::arg("max_keys") = 100, py::arg("allow_secret_keys") = false,
           py::arg("clock") = py::none())
      .def(
          "plan",
          [](const py_jwks_cache& self, const std::string& ask) {
            const auto a = ask_arg(ask);
            const double now = self.now();
            auto d = self.cache->plan(a, now);
            return std::make_tuple(std::string(action_name(d.what)), d.ticket);
          },
          py::arg("ask"),
          "Decide: ('use', 0) read keys; ('wait', t) a fetch is under way; ('fetch', t) fetch now and report.")
      .def(
          "complete",
          [](const py_jwks_cache& self, std::uint64_t ticket, py::handle body) {
            std::string text = text_arg(body, "body");
            const double now = self.now();
            jwks_cache::settled s = [&] {
              py::gil_scoped_release nogil;
              return self.cache->complete(ticket, text, now);
            }();
            return settled_tuple(s);
          },
          py::arg("ticket"), py::arg("body"),
          "The fetch brought `body`: parse, check, swap. Returns (outcome, seconds_left, key_count, error).")
      .def(
          "fail",
          [](const py_jwks_cache& self, std::uint64_t ticket, std::string reason) {
            return settled_tuple(self.cache->fail(ticket, std::move(reason), self.now()));
          },
          py::arg("ticket"), py::arg("reason"), "The fetch failed. Returns (outcome, seconds_left, key_count, error).")
      .def(
          "install",
          [](const py_jwks_cache& self, const py_keyset& keys) { unwrap(self.cache->install(keys.set, self.now())); },
          py::arg("keys"), "Put a key set in directly (counts as a good fetch).")
      .def("in_flight", [](const py_jwks_cache& self, std::uint64_t t) { return self.cache->in_flight(t); },
           py::arg("ticket"))
      .def("now", &py_jwks_cache::now, "The clock the decisions read.")
      .def_property_readonly("keys", &usable_keys, "The usable keys (fresh or within the stale bound), or None.")
      .def_property_readonly("fresh", [](const py_jwks_cache& self) { return self.cache->current()->fresh(self.now()); })
      .def_property_readonly("generation", [](const py_jwks_cache& self) { return self.cache->current()->generation; })
      .def_property_readonly("fetch_attempts", [](const py_jwks_cache& self) { return self.cache->fetch_attempts(); })
      .def_property_readonly("last_error", [](const py_jwks_cache& self) { return self.cache->last_error(); })
      .def_property_readonly("usable_for", [](const py_jwks_cache& self) {
        // Seconds the current keys remain usable (negative: not usable).
        return self.cache->current()->usable_until - self.now();
      });
}

}  // namespace tokenward::bindings
