// The only file that knows pybind11. Arguments are converted to C++ values while the GIL is held,
// the GIL is released for parsing and cryptography, and a failed status becomes a Python exception
// from tokenward.exceptions here and nowhere else.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tokenward/errc.hpp"
#include "tokenward/json.hpp"
#include "tokenward/jwk.hpp"
#include "tokenward/jws.hpp"
#include "tokenward/keyset.hpp"
#include "tokenward/verifier.hpp"

namespace py = pybind11;
using namespace tokenward;

namespace {

// ---------------------------------------------------------------------------------------------
// Errors: one C++ exception type, thrown only in this file, translated once.

struct native_error {
  errc code;
  std::string message;
};

constexpr std::array<const char*, 14> kExceptionNames{
    "TokenwardError",        // ok (unused)
    "MalformedTokenError",   // malformed
    "InvalidSignatureError", // bad_signature
    "ExpiredTokenError",     // expired
    "ImmatureTokenError",    // immature
    "InvalidIssuerError",    // wrong_issuer
    "InvalidAudienceError",  // wrong_audience
    "MissingClaimError",     // missing_claim
    "InvalidClaimError",     // invalid_claim
    "KeyNotFoundError",      // key_not_found
    "UnsupportedAlgorithmError",  // unsupported_algorithm
    "InvalidKeyError",       // invalid_key
    "ConfigurationError",    // configuration
    "TokenwardError",        // internal
};

using exception_table = std::array<py::object, kExceptionNames.size()>;

const exception_table& exceptions() {
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<exception_table> storage;
  return storage
      .call_once_and_store_result([] {
        py::module_ mod = py::module_::import("tokenward.exceptions");
        exception_table table;
        for (std::size_t i = 0; i < kExceptionNames.size(); ++i) table[i] = mod.attr(kExceptionNames[i]);
        return table;
      })
      .get_stored();
}

[[noreturn]] void raise(const error& e) { throw native_error{e.code, e.detail}; }
[[noreturn]] void raise(errc code, std::string message) { throw native_error{code, std::move(message)}; }

template <class T>
T unwrap(result<T>&& r) {
  if (!r) raise(r.err());
  return std::move(r).value();
}
void unwrap(const status& s) {
  if (!s) raise(s.err());
}

// ---------------------------------------------------------------------------------------------
// JSON <-> Python, with the GIL held.

constexpr int kMaxPyDepth = 64;

py::object to_py(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return py::none();
    case json::value_t::boolean: return py::bool_(j.get<bool>());
    case json::value_t::number_integer: return py::reinterpret_steal<py::object>(PyLong_FromLongLong(j.get<std::int64_t>()));
    case json::value_t::number_unsigned:
      return py::reinterpret_steal<py::object>(PyLong_FromUnsignedLongLong(j.get<std::uint64_t>()));
    case json::value_t::number_float: return py::float_(j.get<double>());
    case json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      return py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "strict"));
    }
    case json::value_t::array: {
      py::list out(j.size());
      std::size_t i = 0;
      for (const auto& v : j) out[i++] = to_py(v);
      return out;
    }
    case json::value_t::object: {
      py::dict out;
      for (const auto& [k, v] : j.items()) out[py::str(k)] = to_py(v);
      return out;
    }
    default: break;
  }
  raise(errc::internal, "unexpected JSON value");
}

json from_py(py::handle h, int depth = 0) {
  if (depth > kMaxPyDepth) throw py::value_error("value is nested too deeply to serialise as JSON");
  if (h.is_none()) return nullptr;
  if (PyBool_Check(h.ptr())) return h.ptr() == Py_True;
  if (PyLong_Check(h.ptr())) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(h.ptr(), &overflow);
    if (overflow == 0) return static_cast<std::int64_t>(v);
    if (overflow > 0) {
      const unsigned long long u = PyLong_AsUnsignedLongLong(h.ptr());
      if (!PyErr_Occurred()) return static_cast<std::uint64_t>(u);
      PyErr_Clear();
    }
    throw py::value_error("integer is out of the 64-bit range JSON numbers keep exactly");
  }
  if (PyFloat_Check(h.ptr())) {
    const double d = PyFloat_AsDouble(h.ptr());
    if (!std::isfinite(d)) throw py::value_error("NaN and infinity are not JSON numbers");
    return d;
  }
  if (PyUnicode_Check(h.ptr())) {
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(h.ptr(), &n);
    if (s == nullptr) throw py::error_already_set();
    return std::string(s, static_cast<std::size_t>(n));
  }
  if (PyList_Check(h.ptr()) || PyTuple_Check(h.ptr())) {
    json arr = json::array();
    for (auto item : h) arr.push_back(from_py(item, depth + 1));
    return arr;
  }
  if (PyDict_Check(h.ptr()) || py::isinstance(h, py::module_::import("collections.abc").attr("Mapping"))) {
    json obj = json::object();
    for (auto item : py::reinterpret_borrow<py::object>(h).attr("items")()) {
      auto pair = item.cast<py::tuple>();
      if (!PyUnicode_Check(pair[0].ptr())) throw py::type_error("JSON object keys must be strings");
      obj[pair[0].cast<std::string>()] = from_py(pair[1], depth + 1);
    }
    return obj;
  }
  throw py::type_error(std::string("Object of type ") + Py_TYPE(h.ptr())->tp_name + " is not JSON serializable");
}

// A token or other text argument as bytes: str (UTF-8) or bytes.
std::string text_arg(py::handle h, const char* what) {
  if (PyUnicode_Check(h.ptr())) {
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(h.ptr(), &n);
    if (s == nullptr) throw py::error_already_set();
    return {s, static_cast<std::size_t>(n)};
  }
  if (PyBytes_Check(h.ptr())) {
    return {PyBytes_AS_STRING(h.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(h.ptr()))};
  }
  throw py::type_error(std::string(what) + " must be str or bytes");
}

alg alg_arg(const std::string& name) {
  auto a = alg_from_name(name);
  if (!a) {
    if (name == "none") raise(errc::configuration, "'none' is never an accepted algorithm");
    raise(errc::configuration, "unknown algorithm '" + name.substr(0, 16) + "'");
  }
  return *a;
}

std::optional<alg> opt_alg_arg(const std::optional<std::string>& name) {
  if (!name) return std::nullopt;
  return alg_arg(*name);
}

// A str, or a sequence of str; an empty sequence is a mistake, not "anything goes".
std::vector<std::string> strings_arg(py::handle h, const char* what) {
  std::vector<std::string> out;
  if (h.is_none()) return out;
  if (PyUnicode_Check(h.ptr())) {
    out.push_back(h.cast<std::string>());
    return out;
  }
  if (PyBytes_Check(h.ptr())) throw py::type_error(std::string(what) + " must be a str or a sequence of str");
  for (auto item : h) {
    if (!PyUnicode_Check(item.ptr())) throw py::type_error(std::string(what) + " must be a str or a sequence of str");
    out.push_back(item.cast<std::string>());
  }
  if (out.empty()) raise(errc::configuration, std::string(what) + " must not be an empty list");
  return out;
}

py::bytes to_bytes(const std::string& s) { return {s.data(), s.size()}; }

// ---------------------------------------------------------------------------------------------
// Python-side wrappers.

struct py_keyset {
  std::shared_ptr<const jwk_set> set;
};

struct py_verifier {
  std::shared_ptr<verifier> v;
};

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

PYBIND11_MODULE(_core, m, py::mod_gil_not_used()) {
  m.doc() = "tokenward native core (private: use the tokenward package)";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const native_error& e) {
      const auto& table = exceptions();
      const auto index = static_cast<std::size_t>(e.code);
      const py::object& cls = table[index < table.size() ? index : 0];
      PyErr_SetString(cls.ptr(), e.message.c_str());
    }
  });

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
                       py::handle require, const std::optional<std::string>& typ, std::size_t max_token_size) {
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
             bool single = false;
             auto set = keys_arg(keys, single);
             return py_verifier{unwrap(verifier::create(std::move(opts), std::move(set), single))};
           }),
           py::arg("keys"), py::kw_only(), py::arg("algorithms"), py::arg("issuer") = py::none(),
           py::arg("audience") = py::none(), py::arg("leeway") = 0.0, py::arg("require") = py::tuple(),
           py::arg("typ") = py::none(), py::arg("max_token_size") = 65536)
      .def(
          "verify",
          [](const py_verifier& self, py::handle token, std::optional<double> now) {
            std::string t = text_arg(token, "token");
            result<json> r = [&] {
              py::gil_scoped_release nogil;
              return self.v->verify(t, now.value_or(verifier::now_seconds()));
            }();
            return to_py(unwrap(std::move(r)));
          },
          py::arg("token"), py::kw_only(), py::arg("now") = py::none(),
          "Verify the signature, header and claims; return the claims as a dict.")
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
            bool single = false;
            auto set = keys_arg(keys, single);
            if (single != self.v->single_key()) {
              raise(errc::configuration, "replace_keys must get the same kind of keys (JWK or JWKSet) as the verifier");
            }
            unwrap(self.v->replace_keys(std::move(set)));
          },
          py::arg("keys"), "Swap in new keys atomically; verifications in flight finish with the old ones.")
      .def_property_readonly("keys", [](const py_verifier& self) { return py_keyset{self.v->keys()}; })
      .def_property_readonly("algorithms", [](const py_verifier& self) {
        std::vector<std::string> out;
        for (alg a : self.v->options().algorithms) out.emplace_back(alg_name(a));
        return out;
      });

  // --- functions ---------------------------------------------------------------------------
  m.def(
      "encode",
      [](py::handle claims, const jwk& key, py::handle headers, const std::optional<std::string>& algorithm) {
        if (!PyDict_Check(claims.ptr()) &&
            !py::isinstance(claims, py::module_::import("collections.abc").attr("Mapping"))) {
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
        return to_py(unwrap(parse_json(p.payload, json_limits{lim.max_token_bytes, lim.max_depth}, "JWT claims")));
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
