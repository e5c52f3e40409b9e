// Bindings of the JOSE core: JWK, JWKSet, Verifier, encode and the primitive test hooks.
#include <memory>

#include "common.hpp"
#include "key_source.hpp"
#include "token_cache.hpp"
#include "tokenward/jwk.hpp"
#include "tokenward/jws.hpp"
#include "tokenward/keyset.hpp"
#include "tokenward/verifier.hpp"

namespace tokenward::bindings {
namespace {

// Where a verifier's keys come from: fixed (a JWK or a JWKSet given to it), a JWKSCache it reads
// directly (RemoteJWKS, KeyRing), or a key source in Python (the subclass's _verify_slow asks it).
enum class source_kind { fixed, cache, python };

struct py_verifier {
  std::shared_ptr<verifier> v;
  std::shared_ptr<token_cache> cache;  // null unless cache_size > 0
  source_kind kind = source_kind::fixed;
  std::shared_ptr<py_jwks_cache> source;  // kind == cache
};

// Thrown inside a verification to say "this needs the key source" (keys not fresh, or the token
// names a key the set lacks); caught before anything is cached.
struct need_source {};

void install_keys(const py_verifier& self, const std::shared_ptr<const jwk_set>& keys) {
  if (self.v->keys() == keys) return;
  unwrap(self.v->replace_keys(keys));
  if (self.cache) self.cache->clear();
}

// The claims of `t` checked in full with the verifier's current keys, the cache not asked. With
// `soft`, a token naming a key the set lacks throws need_source instead of KeyNotFoundError.
py::object fresh_claims(const py_verifier& self, std::string_view t, double at, bool soft) {
  if (self.v->options().field_cipher) {
    result<json> r = [&] {
      py::gil_scoped_release nogil;
      return self.v->verify(t, at);
    }();
    if (soft && !r && r.err().code == errc::key_not_found) throw need_source{};
    return to_py(unwrap(std::move(r)));
  }
  result<json_doc> r = [&] {
    py::gil_scoped_release nogil;
    return self.v->verify_doc(t, at);
  }();
  if (soft && !r && r.err().code == errc::key_not_found) throw need_source{};
  return to_py(unwrap(std::move(r)).root());
}

// fresh_claims through the verified-token cache.
py::object verify_claims(const py_verifier& self, std::string_view t, double at, bool soft) {
  return through_cache(self.cache.get(), t, at, [&] { return fresh_claims(self, t, at, soft); });
}

// The claims when the keys at hand decide; a null object when the key source must be asked.
py::object verify_fast(const py_verifier& self, std::string_view t, double at) {
  if (self.kind == source_kind::fixed) return verify_claims(self, t, at, false);
  if (self.kind == source_kind::python) return {};
  auto snap = self.source->cache->current();
  if (!snap->fresh(self.source->now())) return {};
  install_keys(self, snap->keys);
  try {
    return verify_claims(self, t, at, true);
  } catch (const need_source&) {
    return {};
  }
}

// verify_fast without the claims: true when `t` is valid (in the cache and in its time, or
// checked in full with the keys at hand, then cached), false when the key source must be asked;
// the token's error otherwise.
bool check_fast(const py_verifier& self, std::string_view t, double at) {
  if (self.kind == source_kind::python) return false;
  const bool soft = self.kind != source_kind::fixed;
  if (soft) {
    auto snap = self.source->cache->current();
    if (!snap->fresh(self.source->now())) return false;
    install_keys(self, snap->keys);  // new keys empty the cache first
  }
  if (self.cache && self.cache->holds(t, at)) return true;
  try {
    py::object claims = fresh_claims(self, t, at, soft);
    if (self.cache) self.cache->put(t, claims);
  } catch (const need_source&) {
    return false;
  }
  return true;
}

// The py_verifier inside `self`, which the method descriptor has checked is a Verifier. An
// instance of a class with one bound C++ base keeps its value pointer in pybind11's simple layout;
// anything else (not initialized, several bound bases) goes through pybind11's own cast, which
// says what is wrong.
const py_verifier& verifier_of(PyObject* self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  if (inst->simple_layout && inst->simple_holder_constructed && inst->simple_value_holder[0] != nullptr) {
    return *static_cast<const py_verifier*>(inst->simple_value_holder[0]);
  }
  return py::handle(self).cast<const py_verifier&>();
}

// Verifier.verify(token, *, now=None): the claims as a dict.
py::object verify_call(PyObject* self, PyObject* token, PyObject* now) {
  const py_verifier& v = verifier_of(self);
  // The caller's reference keeps the token object, and so this view, alive while the GIL is
  // released; str and bytes buffers are immutable.
  const std::string_view t = text_view(token, "token");
  double at = 0;
  if (now == nullptr || now == Py_None) {
    at = verifier::now_seconds();
  } else {
    at = PyFloat_Check(now) ? PyFloat_AS_DOUBLE(now) : PyFloat_AsDouble(now);
    if (at == -1.0 && PyErr_Occurred()) throw py::error_already_set();
  }
  if (py::object claims = verify_fast(v, t, at)) return claims;
  // Keys not fresh, or a kid the set lacks: the Python side asks the key source.
  py::handle me(self);
  if (!py::hasattr(me, "_verify_slow")) {
    raise(errc::configuration, "a verifier over a key source must be a tokenward.Verifier");
  }
  return me.attr("_verify_slow")(py::handle(token), now == nullptr ? py::handle(Py_None) : py::handle(now));
}

// The vectorcall entry of verify(): arguments as the signature says (token positional or by
// name, now by name only), C++ exceptions through pybind11's translators.
PyObject* verify_entry(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) noexcept {
  PyObject* token = nargs >= 1 ? args[0] : nullptr;
  PyObject* now = nullptr;
  if (nargs > 1) {
    PyErr_Format(PyExc_TypeError, "verify() takes 1 positional argument but %zd were given", nargs);
    return nullptr;
  }
  if (kwnames != nullptr) {
    const Py_ssize_t n = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyObject* name = PyTuple_GET_ITEM(kwnames, i);
      PyObject* value = args[nargs + i];
      if (PyUnicode_CompareWithASCIIString(name, "now") == 0) {
        now = value;
      } else if (PyUnicode_CompareWithASCIIString(name, "token") == 0) {
        if (token != nullptr) {
          PyErr_SetString(PyExc_TypeError, "verify() got multiple values for argument 'token'");
          return nullptr;
        }
        token = value;
      } else {
        PyErr_Format(PyExc_TypeError, "verify() got an unexpected keyword argument '%U'", name);
        return nullptr;
      }
    }
  }
  if (token == nullptr) {
    PyErr_SetString(PyExc_TypeError, "verify() missing required argument 'token'");
    return nullptr;
  }
  try {
    return verify_call(self, token, now).release().ptr();
  } catch (...) {
    py::detail::try_translate_exceptions();
    return nullptr;
  }
}

void install_verify(const py::type& cls) {
  // Filled once here, at import, and only read afterwards (by the method descriptor).
  static PyMethodDef verify_def = {
      "verify", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&verify_entry)),
      METH_FASTCALL | METH_KEYWORDS,
      "verify($self, token, *, now=None)\n--\n\nVerify the signature, header and claims; return the claims as a "
      "dict."};
  py::object descr = py::reinterpret_steal<py::object>(
      PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), &verify_def));
  if (!descr) throw py::error_already_set();
  py::setattr(cls, "verify", descr);
}

std::shared_ptr<const jwk_set> keys_arg(py::handle h, bool& single) {
  if (py::isinstance<jwk>(h)) {
    single = true;
    return std::make_shared<const jwk_set>(std::vector<jwk>{h.cast<jwk>()});
  }
  if (py::isinstance<py_keyset>(h)) {
    single = false;
    return h.cast<const py_keyset&>().set;
  }
  throw py::type_error("keys must be a JWK or a JWKSet");
}

std::string key_type_name(key_type t) {
  switch (t) {
    case key_type::rsa: return "RSA";
    case key_type::ec: return "EC";
    case key_type::okp: return "OKP";
    case key_type::oct: return "oct";
  }
  return "?";
}

jwk jwk_from_any(py::handle data) {
  if (PyUnicode_Check(data.ptr()) || PyBytes_Check(data.ptr())) {
    std::string text = text_arg(data, "data");
    py::gil_scoped_release nogil;
    return unwrap(jwk::from_json_text(text));
  }
  json j = from_py(data);
  py::gil_scoped_release nogil;
  return unwrap(jwk::from_json(j));
}

}  // namespace

void bind_jose(py::module_& m) {
  // --- JWK ---------------------------------------------------------------------------------
  py::class_<jwk>(m, "JWK", "A JSON Web Key: RSA, EC (P-256/384/521), OKP (Ed25519) or oct (HMAC).")
      .def_static(
          "generate",
          [](const std::string& algorithm, int rsa_bits) {
            const alg a = alg_arg(algorithm);
            py::gil_scoped_release nogil;
            return unwrap(jwk::generate(a, rsa_bits));
          },
          py::arg("algorithm"), py::kw_only(), py::arg("rsa_bits") = kMinRsaBits,
          "Generate a new key for `algorithm`; its kid is its RFC 7638 thumbprint.")
      .def_static("from_json", &jwk_from_any, py::arg("data"), "Import a JWK from JSON text or a mapping.")
      .def_static(
          "from_pem",
          [](py::handle data, const std::optional<std::string>& algorithm) {
            std::string pem = text_arg(data, "data");
            const auto a = opt_alg_arg(algorithm);
            py::gil_scoped_release nogil;
            return unwrap(jwk::from_pem(pem, a));
          },
          py::arg("data"), py::arg("algorithm") = py::none(),
          "Import a PEM key: SubjectPublicKeyInfo, PKCS#8, PKCS#1, SEC1 or an X.509 certificate.")
      .def_static(
          "from_secret",
          [](py::handle secret, const std::optional<std::string>& algorithm) {
            std::string bytes = text_arg(secret, "secret");
            const auto a = opt_alg_arg(algorithm);
            return unwrap(jwk::from_secret(bytes, a));
          },
          py::arg("secret"), py::arg("algorithm") = py::none(), "An HMAC (oct) key from secret bytes or text.")
      .def("public", [](const jwk& k) { return unwrap(k.public_key()); }, "The public half of an asymmetric key.")
      .def(
          "to_json", [](const jwk& k, bool priv) { return unwrap(k.to_json(priv)).dump(); },
          py::arg("private") = false, "The key as JWK JSON text; private members only when asked for.")
      .def(
          "to_dict", [](const jwk& k, bool priv) { return to_py(unwrap(k.to_json(priv))); },
          py::arg("private") = false, "The key as a JWK dict; private members only when asked for.")
      .def(
          "to_pem", [](const jwk& k, bool priv) { return unwrap(k.to_pem(priv)); }, py::arg("private") = false,
          "The key as PEM text: SubjectPublicKeyInfo, or unencrypted PKCS#8 with private=True.")
      .def("thumbprint", &jwk::thumbprint, "The RFC 7638 SHA-256 thumbprint, base64url.")
      .def_property_readonly("kid", [](const jwk& k) -> std::optional<std::string> {
        if (k.kid().empty()) return std::nullopt;
        return k.kid();
      })
      .def_property_readonly("algorithm", [](const jwk& k) -> std::optional<std::string> {
        if (!k.algorithm()) return std::nullopt;
        return std::string(alg_name(*k.algorithm()));
      })
      .def_property_readonly("key_type", [](const jwk& k) { return key_type_name(k.type()); })
      .def_property_readonly("curve", [](const jwk& k) -> std::optional<std::string> {
        if (k.crv() == curve::none) return std::nullopt;
        return std::string(curve_name(k.crv()));
      })
      .def_property_readonly("is_private", &jwk::is_private)
      .def_property_readonly("use", [](const jwk& k) -> std::optional<std::string> {
        if (k.use().empty()) return std::nullopt;
        return k.use();
      })
      .def_property_readonly("key_ops", [](const jwk& k) -> std::optional<std::vector<std::string>> {
        if (k.key_ops().empty()) return std::nullopt;
        return k.key_ops();
      })
      .def("__repr__", [](const jwk& k) {
        std::string out = "<JWK " + key_type_name(k.type());
        if (k.crv() != curve::none) out += " " + std::string(curve_name(k.crv()));
        if (k.algorithm()) out += " alg=" + std::string(alg_name(*k.algorithm()));
        if (!k.kid().empty()) out += " kid=" + py::repr(py::str(k.kid())).cast<std::string>();
        out += k.is_private() ? " private>" : " public>";
        return out;
      });

  // --- JWKSet ------------------------------------------------------------------------------
  py::class_<py_keyset>(m, "JWKSet", "An immutable JSON Web Key Set.")
      .def(py::init([](const std::vector<jwk>& keys) { return py_keyset{std::make_shared<const jwk_set>(keys)}; }),
           py::arg("keys"))
      .def_static(
          "from_json",
          [](py::handle data, std::size_t max_bytes, std::size_t max_keys) {
            const jwks_limits limits{max_bytes, max_keys};
            if (PyUnicode_Check(data.ptr()) || PyBytes_Check(data.ptr())) {
              std::string text = text_arg(data, "data");
              py::gil_scoped_release nogil;
              return py_keyset{std::make_shared<const jwk_set>(unwrap(jwk_set::from_json_text(text, limits)))};
            }
            json j = from_py(data);
            py::gil_scoped_release nogil;
            return py_keyset{std::make_shared<const jwk_set>(unwrap(jwk_set::from_json(j, limits)))};
          },
          py::arg("data"), py::kw_only(), py::arg("max_bytes") = std::size_t{1} << 20, py::arg("max_keys") = 100,
          "Parse a JWKS document; keys that cannot be used for signatures are skipped.")
      .def(
          "get",
          [](const py_keyset& s, const std::string& kid) -> std::optional<jwk> {
            bool ambiguous = false;
            const jwk* k = s.set->find(kid, ambiguous);
            if (ambiguous) raise(errc::key_not_found, "several keys share this kid");
            if (k == nullptr) return std::nullopt;
            return *k;
          },
          py::arg("kid"), "The key with this kid, or None.")
      .def_property_readonly("keys", [](const py_keyset& s) { return s.set->keys(); })
      .def_property_readonly("skipped", [](const py_keyset& s) { return s.set->skipped_reasons(); })
      .def(
          "to_json",
          [](const py_keyset& s, bool priv) {
            json out = json::object();
            out["keys"] = json::array();
            for (const auto& k : s.set->keys()) out["keys"].push_back(unwrap(k.to_json(priv)));
            return out.dump();
          },
          py::arg("private") = false)
      .def("__len__", [](const py_keyset& s) { return s.set->keys().size(); })
      .def("__iter__", [](const py_keyset& s) { return py::iter(py::cast(s.set->keys())); })
      .def("__repr__", [](const py_keyset& s) { return "<JWKSet of " + std::to_string(s.set->keys().size()) + " keys>"; });

  // --- Verifier ----------------------------------------------------------------------------
  py::class_<py_verifier>(m, "Verifier",
                          "A compiled verification policy, safe to share between threads. verify() releases the GIL.")
      .def(py::init([](py::handle keys, py::handle algorithms, py::handle issuer, py::handle audience, double leeway,
                       py::handle require, const std::optional<std::string>& typ, std::size_t max_token_size,
                       py::handle cipher, std::size_t cache_size, bool access_token) {
             verifier_options opts;
             if (PyUnicode_Check(algorithms.ptr())) throw py::type_error("algorithms must be a list of names, not a str");
             for (const auto& name : strings_arg(algorithms, "algorithms")) opts.algorithms.push_back(alg_arg(name));
             opts.claims.issuers = strings_arg(issuer, "issuer");
             opts.claims.audiences = strings_arg(audience, "audience");
             opts.claims.leeway = leeway;
             if (!PyUnicode_Check(require.ptr())) {
               for (auto item : require) opts.claims.required.push_back(item.cast<std::string>());
             } else {
               opts.claims.required.push_back(require.cast<std::string>());
             }
             opts.typ = typ;
             if (max_token_size < 64 || max_token_size > (std::size_t{16} << 20)) {
               raise(errc::configuration, "max_token_size must be between 64 bytes and 16 MiB");
             }
             opts.limits.max_token_bytes = max_token_size;
             opts.access_token = access_token;
             if (!cipher.is_none()) {
               if (!py::isinstance<field_cipher>(cipher)) throw py::type_error("field_cipher must be a FieldCipher");
               opts.field_cipher = cipher.cast<std::shared_ptr<field_cipher>>();
             }
             auto cache = token_cache::make(cache_size, opts.claims.leeway);
             bool single = false;
             source_kind kind = source_kind::fixed;
             std::shared_ptr<py_jwks_cache> source;
             std::shared_ptr<const jwk_set> set;
             if (keys.is_none()) {
               kind = source_kind::python;
               set = std::make_shared<const jwk_set>();
             } else if (py::isinstance<py_jwks_cache>(keys)) {
               kind = source_kind::cache;
               source = keys.cast<std::shared_ptr<py_jwks_cache>>();
               auto snap = source->cache->current();
               set = snap->keys ? snap->keys : std::make_shared<const jwk_set>();
             } else {
               set = keys_arg(keys, single);
             }
             return py_verifier{unwrap(verifier::create(std::move(opts), std::move(set), single)), std::move(cache),
                                kind, std::move(source)};
           }),
           py::arg("keys"), py::kw_only(), py::arg("algorithms"), py::arg("issuer") = py::none(),
           py::arg("audience") = py::none(), py::arg("leeway") = 0.0, py::arg("require") = py::tuple(),
           py::arg("typ") = py::none(), py::arg("max_token_size") = 65536, py::arg("field_cipher") = py::none(),
           py::arg("cache_size") = 0, py::arg("access_token") = false)
      .def(
          "_try_verify",
          [](const py_verifier& self, py::handle token, std::optional<double> now) -> py::object {
            const std::string_view t = text_view(token, "token");
            py::object claims = verify_fast(self, t, now.value_or(verifier::now_seconds()));
            if (!claims) return py::none();
            return claims;
          },
          py::arg("token"), py::arg("now") = py::none(),
          "verify() when the keys at hand decide; None when the key source must be asked.")
      .def(
          "_try_check",
          [](const py_verifier& self, py::handle token, std::optional<double> now) {
            return check_fast(self, text_view(token, "token"), now.value_or(verifier::now_seconds()));
          },
          py::arg("token"), py::arg("now") = py::none(),
          "_try_verify without the claims: True for a valid token, False when the key source must "
          "be asked.")
      .def(
          "_verify_with",
          [](const py_verifier& self, const py_keyset& keys, py::handle token, std::optional<double> now) {
            if (self.kind == source_kind::fixed) raise(errc::configuration, "this verifier has fixed keys");
            const std::string_view t = text_view(token, "token");
            install_keys(self, keys.set);
            return verify_claims(self, t, now.value_or(verifier::now_seconds()), false);
          },
          py::arg("keys"), py::arg("token"), py::arg("now") = py::none(),
          "Install `keys` (from the key source) if they are new, then verify with them.")
      .def(
          "verify_signature",
          [](const py_verifier& self, py::handle token) {
            std::string t = text_arg(token, "token");
            result<std::string> r = [&] {
              py::gil_scoped_release nogil;
              return self.v->verify_signature(t);
            }();
            return to_bytes(unwrap(std::move(r)));
          },
          py::arg("token"), "Verify the signature and header only; return the raw payload bytes.")
      .def(
          "replace_keys",
          [](py_verifier& self, py::handle keys) {
            if (self.kind != source_kind::fixed) {
              raise(errc::configuration, "this verifier's keys come from its key source; replace them there");
            }
            bool single = false;
            auto set = keys_arg(keys, single);
            if (single != self.v->single_key()) {
              raise(errc::configuration, "replace_keys must get the same kind of keys (JWK or JWKSet) as the verifier");
            }
            unwrap(self.v->replace_keys(std::move(set)));
            if (self.cache) self.cache->clear();
          },
          py::arg("keys"), "Swap in new keys atomically; verifications in flight finish with the old ones.")
      .def(
          "cache_info",
          [](const py_verifier& self) -> py::object {
            if (!self.cache) return py::none();
            return self.cache->info();
          },
          "Counters of the verified-token cache (hits, misses, size, capacity), or None without one.")
      .def_property_readonly("keys", [](const py_verifier& self) { return py_keyset{self.v->keys()}; })
      .def_property_readonly("algorithms", [](const py_verifier& self) {
        std::vector<std::string> out;
        for (alg a : self.v->options().algorithms) out.emplace_back(alg_name(a));
        return out;
      });

  // verify() is the hot call: a raw METH_FASTCALL method (see verify_entry) in place of a
  // pybind11 method and its dispatcher.
  install_verify(py::type::of<py_verifier>());

  // --- functions ---------------------------------------------------------------------------
  m.def(
      "encode",
      [](py::handle claims, const jwk& key, py::handle headers, const std::optional<std::string>& algorithm) {
        if (!is_mapping(claims)) {
          throw py::type_error("claims must be a mapping");
        }
        const std::string payload = from_py(claims).dump(-1, ' ', false, json::error_handler_t::strict);
        json header = headers.is_none() ? json::object() : from_py(headers);
        if (!header.is_object()) throw py::type_error("headers must be a mapping");
        std::optional<alg> a = opt_alg_arg(algorithm);
        if (a && key.algorithm() && *a != *key.algorithm()) {
          raise(errc::configuration, "algorithm does not match the key's own algorithm");
        }
        if (!a) a = key.algorithm();
        if (auto it = header.find("alg"); it != header.end()) {
          if (!it->is_string()) raise(errc::configuration, "header 'alg' must be a string");
          const auto ha = alg_arg(it->get<std::string>());
          if (a && ha != *a) raise(errc::configuration, "headers cannot change the algorithm");
          a = ha;
        }
        if (!a) raise(errc::configuration, "the key has no algorithm; pass algorithm=...");
        if (!key.fits(*a)) raise(errc::configuration, "algorithm " + std::string(alg_name(*a)) + " does not fit this key");
        header["alg"] = std::string(alg_name(*a));
        if (!header.contains("typ")) header["typ"] = "JWT";
        if (!header.contains("kid") && !key.kid().empty()) header["kid"] = key.kid();
        unwrap(key.check_usable(*a, key_op::sign));
        py::gil_scoped_release nogil;
        return unwrap(jws::encode(header, payload, *a, key));
      },
      py::arg("claims"), py::arg("key"), py::arg("headers") = py::none(), py::arg("algorithm") = py::none());

  m.def(
      "unverified_header",
      [](py::handle token) {
        std::string t = text_arg(token, "token");
        return to_py(unwrap(jws::header_of(t, jws::limits{})));
      },
      py::arg("token"));

  m.def(
      "unverified_claims",
      [](py::handle token) {
        std::string t = text_arg(token, "token");
        const jws::limits lim;
        auto p = unwrap(jws::parse(t, lim));
        return to_py(unwrap(json_doc::parse(p.payload, json_limits{lim.max_token_bytes, lim.max_depth}, "JWT claims")).root());
      },
      py::arg("token"));

  m.def(
      "_sign_raw",
      [](const std::string& algorithm, const jwk& key, const py::bytes& message) {
        const alg a = alg_arg(algorithm);
        std::string msg = message;
        std::string sig = [&] {
          py::gil_scoped_release nogil;
          return unwrap(jws::sign(a, key, msg));
        }();
        return to_bytes(sig);
      },
      py::arg("algorithm"), py::arg("key"), py::arg("message"));

  m.def(
      "_verify_raw",
      [](const std::string& algorithm, const jwk& key, const py::bytes& message, const py::bytes& signature) {
        const alg a = alg_arg(algorithm);
        std::string msg = message;
        std::string sig = signature;
        status s = [&] {
          py::gil_scoped_release nogil;
          return jws::verify(a, key, msg, sig);
        }();
        if (s.ok()) return true;
        if (s.err().code == errc::bad_signature) return false;
        raise(s.err());
      },
      py::arg("algorithm"), py::arg("key"), py::arg("message"), py::arg("signature"));

  m.def(
      "_hmac",
      [](const std::string& algorithm, const py::bytes& key, const py::bytes& message) {
        const alg a = alg_arg(algorithm);
        std::string k = key;
        std::string msg = message;
        return to_bytes(unwrap(jws::hmac(a, k, msg)));
      },
      py::arg("algorithm"), py::arg("key"), py::arg("message"));
}

}  // namespace tokenward::bindings
