// Binding of the issuer key ring (cpp/include/tokenward/key_ring.hpp) as _core.KeyRing;
// python/tokenward/keyring.py is the public API over it (files, PEM, time).
#include <string>
#include <tuple>

#include <openssl/crypto.h>

#include "key_source.hpp"
#include "tokenward/key_ring.hpp"

namespace tokenward::bindings {
namespace {

ring_state state_arg(const std::string& s) {
  if (s == "current") return ring_state::current;
  if (s == "next") return ring_state::next;
  if (s == "previous") return ring_state::previous;
  throw py::value_error("a ring key's state is 'current', 'next' or 'previous'");
}

const char* state_name(ring_state s) {
  switch (s) {
    case ring_state::current: return "current";
    case ring_state::next: return "next";
    case ring_state::previous: return "previous";
  }
  return "previous";
}

}  // namespace

void bind_key_ring(py::module_& m) {
  py::class_<key_ring, std::shared_ptr<key_ring>>(m, "KeyRing", "An issuer's current, next and previous keys.")
      .def(py::init([](const std::string& algorithm, double retain,
                       const std::vector<std::tuple<jwk, std::string, double>>& keys) {
             const alg a = alg_arg(algorithm);
             std::vector<ring_key> entries;
             entries.reserve(keys.size());
             for (const auto& [k, state, retired] : keys) entries.push_back(ring_key{k, state_arg(state), retired});
             py::gil_scoped_release nogil;
             return unwrap(key_ring::create(a, retain, std::move(entries)));
           }),
           py::arg("algorithm"), py::arg("retain"), py::arg("keys"))
      .def_static(
          "new_key",
          [](const std::string& algorithm) {
            const alg a = alg_arg(algorithm);
            py::gil_scoped_release nogil;
            return unwrap(key_ring::new_key(a));
          },
          py::arg("algorithm"), "A new private key for a ring: kid = RFC 7638 thumbprint, alg and use set.")
      .def(
          "rotate",
          [](key_ring& self, double now) {
            py::gil_scoped_release nogil;
            return unwrap(self.rotate(now));
          },
          py::arg("now"))
      .def(
          "stage_next",
          [](key_ring& self) {
            py::gil_scoped_release nogil;
            return unwrap(self.stage_next());
          })
      .def("prune", &key_ring::prune, py::arg("now"))
      .def(
          "sign",
          [](const key_ring& self, py::handle claims, py::handle headers) {
            if (!is_mapping(claims)) throw py::type_error("claims must be a mapping");
            json c = from_py(claims);
            json h = headers.is_none() ? json(nullptr) : from_py(headers);
            if (!headers.is_none() && !h.is_object()) throw py::type_error("headers must be a mapping");
            py::gil_scoped_release nogil;
            return unwrap(self.sign(c, h));
          },
          py::arg("claims"), py::arg("headers") = py::none())
      .def_property_readonly("keys",
                             [](const key_ring& self) {
                               std::vector<std::tuple<jwk, std::string, double>> out;
                               for (const auto& rk : self.keys()) {
                                 out.emplace_back(rk.key, state_name(rk.state), rk.retired_at);
                               }
                               return out;
                             })
      .def_property_readonly("current_kid", &key_ring::current_kid)
      .def("public_jwks", [](const key_ring& self) { return to_py(unwrap(self.public_jwks())); })
      .def("private_pem",
           [](const key_ring& self) {
             auto keys = self.keys();
             std::string pem = unwrap(private_pem(keys));
             py::bytes out = to_bytes(pem);
             OPENSSL_cleanse(pem.data(), pem.size());  // the copy Python holds is the caller's
             return out;
           })
      .def_property_readonly("algorithm", [](const key_ring& self) { return std::string(alg_name(self.algorithm())); })
      .def_property_readonly("retain", &key_ring::retain)
      .def_property_readonly("symmetric", &key_ring::symmetric)
      .def_property_readonly("cache", [](const key_ring& self) {
        return std::make_shared<py_jwks_cache>(py_jwks_cache{self.published(), py::none()});
      });
}

}  // namespace tokenward::bindings
