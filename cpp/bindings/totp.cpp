// Bindings of one-time passwords (HOTP, TOTP), their secrets in base32, and recovery codes.
// Arguments become C++ values under the GIL (secrets straight into self-wiping memory); every
// HMAC runs with the GIL released.
#include <climits>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "tokenward/base32.hpp"
#include "tokenward/recovery_codes.hpp"
#include "tokenward/totp.hpp"

namespace tokenward::bindings {
namespace {

// An int (not a bool) within [lo, hi]; a TypeError for another type, ConfigurationError outside.
std::int64_t int_arg(py::handle h, const char* what, std::int64_t lo, std::int64_t hi) {
  if (!PyLong_Check(h.ptr()) || PyBool_Check(h.ptr())) throw py::type_error(std::string(what) + " must be int");
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(h.ptr(), &overflow);
  if (v == -1 && PyErr_Occurred() != nullptr) throw py::error_already_set();
  if (overflow != 0 || v < lo || v > hi) {
    raise(errc::configuration, std::string(what) + " must be " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  return v;
}

// A counter: an int in [0, 2^64 - 1].
std::uint64_t counter_arg(py::handle h) {
  if (!PyLong_Check(h.ptr()) || PyBool_Check(h.ptr())) throw py::type_error("counter must be int");
  const unsigned long long v = PyLong_AsUnsignedLongLong(h.ptr());
  if (v == static_cast<unsigned long long>(-1) && PyErr_Occurred() != nullptr) {
    PyErr_Clear();
    raise(errc::configuration, "counter must be 0 to 2**64 - 1");
  }
  return v;
}

// The secret, bytes only, copied into self-wiping memory.
secret_bytes secret_arg(py::handle h) {
  if (!PyBytes_Check(h.ptr())) throw py::type_error("secret must be bytes");
  return secret_bytes(std::string_view(PyBytes_AS_STRING(h.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(h.ptr()))));
}

otp::mac_digest digest_arg(py::handle h) {
  if (!PyUnicode_Check(h.ptr())) throw py::type_error("algorithm must be str");
  return unwrap(otp::digest_from_name(text_view(h, "algorithm")));
}

int digits_arg(py::handle h) { return static_cast<int>(int_arg(h, "digits", otp::kMinDigits, otp::kMaxDigits)); }
std::int64_t period_arg(py::handle h) { return int_arg(h, "period", 1, INT64_MAX); }
std::int64_t at_arg(py::handle h) { return int_arg(h, "at", 0, INT64_MAX); }

// A str that is all ASCII, copied; nullopt for a str that is not (it cannot be a code).
std::optional<std::string> ascii_arg(py::handle h, const char* what) {
  if (!PyUnicode_Check(h.ptr())) throw py::type_error(std::string(what) + " must be str");
  if (!PyUnicode_IS_ASCII(h.ptr())) return std::nullopt;
  return std::string(text_view(h, what));
}

// A sequence of str (not one str); an entry that is not ASCII cannot be a hash and stays empty.
std::vector<std::string> hashes_arg(py::handle h) {
  if (PyUnicode_Check(h.ptr()) || PyBytes_Check(h.ptr())) throw py::type_error("hashes must be a sequence of str");
  std::vector<std::string> out;
  for (auto item : h) {
    if (!PyUnicode_Check(item.ptr())) throw py::type_error("hashes must be a sequence of str");
    out.push_back(PyUnicode_IS_ASCII(item.ptr()) ? std::string(text_view(item, "hashes")) : std::string());
  }
  return out;
}

py::object step_or_none(const std::optional<std::uint64_t>& step) {
  if (!step) return py::none();
  return py::reinterpret_steal<py::object>(PyLong_FromUnsignedLongLong(*step));
}

struct py_recovery_code_hasher {
  std::shared_ptr<const recovery_code_hasher> h;
};

constexpr const char* kRecoveryDoc =
    "Makes and hashes single-use recovery codes: 80 random bits shown as 'ABCD-EFGH-IJKL-MNOP'. A "
    "store keeps hash(code), never the code; the hashing key is derived from the secret with "
    "HKDF-SHA256 and stays in the native core. Input is normalised: case, dashes and spaces.";

}  // namespace

void bind_totp(py::module_& m) {
  m.def(
      "hotp_code",
      [](py::handle secret, py::handle counter, py::handle digits, py::handle algorithm) {
        const std::uint64_t c = counter_arg(counter);
        const int d = digits_arg(digits);
        const otp::mac_digest a = digest_arg(algorithm);
        const secret_bytes s = secret_arg(secret);
        py::gil_scoped_release nogil;
        return unwrap(otp::hotp_code(s.view(), c, a, d));
      },
      py::arg("secret"), py::arg("counter"), py::kw_only(), py::arg("digits") = 6, py::arg("algorithm") = "SHA1",
      "The HOTP code (RFC 4226) of `counter` under `secret` (16 to 64 bytes).");
  m.def(
      "totp_code",
      [](py::handle secret, py::handle at, py::handle digits, py::handle period, py::handle algorithm) {
        const std::int64_t t = at_arg(at);
        const int d = digits_arg(digits);
        const std::int64_t p = period_arg(period);
        const otp::mac_digest a = digest_arg(algorithm);
        const secret_bytes s = secret_arg(secret);
        py::gil_scoped_release nogil;
        return unwrap(otp::totp_code(s.view(), t, p, a, d));
      },
      py::arg("secret"), py::arg("at"), py::kw_only(), py::arg("digits") = 6, py::arg("period") = 30,
      py::arg("algorithm") = "SHA1", "The TOTP code (RFC 6238, T0 = 0) at Unix time `at` under `secret`.");
  m.def(
      "totp_verify",
      [](py::handle secret, py::handle code, py::handle at, py::handle digits, py::handle period, py::handle algorithm,
         py::handle window) -> py::object {
        const std::int64_t t = at_arg(at);
        const int d = digits_arg(digits);
        const std::int64_t p = period_arg(period);
        const otp::mac_digest a = digest_arg(algorithm);
        const int w = static_cast<int>(int_arg(window, "window", 0, otp::kMaxWindow));
        const secret_bytes s = secret_arg(secret);
        const auto c = ascii_arg(code, "code");
        result<std::optional<std::uint64_t>> r = [&]() -> result<std::optional<std::uint64_t>> {
          py::gil_scoped_release nogil;
          auto key = otp::otp_key::create(s.view(), a, d);
          if (!key) return key.err();
          auto step = otp::time_step(t, p);
          if (!step) return step.err();
          if (!c) return std::optional<std::uint64_t>{};
          return key->verify(*c, *step, w);
        }();
        return step_or_none(unwrap(std::move(r)));
      },
      py::arg("secret"), py::arg("code"), py::arg("at"), py::kw_only(), py::arg("digits") = 6, py::arg("period") = 30,
      py::arg("algorithm") = "SHA1", py::arg("window") = 1,
      "The time step within +-window of `at` whose code equals `code` (the latest if several), or "
      "None. Every step is compared in constant time. Remember the step: refuse it and earlier "
      "ones next time, so that a code works once.");
  m.def(
      "totp_secret",
      [](py::handle size) {
        const auto n = static_cast<std::size_t>(
            int_arg(size, "size", static_cast<std::int64_t>(otp::kMinSecretBytes), static_cast<std::int64_t>(otp::kMaxSecretBytes)));
        result<secret_bytes> r = [n] {
          py::gil_scoped_release nogil;
          return otp::new_secret(n);
        }();
        const secret_bytes s = unwrap(std::move(r));
        return py::bytes(s.view().data(), s.size());
      },
      py::arg("size") = otp::kSecretBytes, "A new one-time-password secret from the private DRBG (160 bits by default).");
  m.def(
      "_hotp_truncate",
      [](py::handle secret, py::handle counter, py::handle algorithm) {
        const std::uint64_t c = counter_arg(counter);
        const otp::mac_digest a = digest_arg(algorithm);
        const secret_bytes s = secret_arg(secret);
        py::gil_scoped_release nogil;
        auto key = unwrap(otp::otp_key::create(s.view(), a, otp::kMinDigits));
        return unwrap(key.truncated(c));
      },
      py::arg("secret"), py::arg("counter"), py::kw_only(), py::arg("algorithm") = "SHA1",
      "TEST ONLY: the 31-bit dynamic truncation of RFC 4226 section 5.3.");
  m.def(
      "base32_encode",
      [](py::handle data) {
        if (!PyBytes_Check(data.ptr())) throw py::type_error("data must be bytes");
        return b32::encode(text_view(data, "data"));
      },
      py::arg("data"), "Base32 (RFC 4648): upper case, no padding.");
  m.def(
      "base32_decode",
      [](py::handle text) {
        if (!PyUnicode_Check(text.ptr())) throw py::type_error("text must be str");
        std::optional<secret_bytes> out;
        if (PyUnicode_IS_ASCII(text.ptr())) out = b32::decode(text_view(text, "text"));
        if (!out) {
          raise(errc::invalid_key, "not canonical base32 (upper-case A-Z and 2-7, no padding, no spaces)");
        }
        return py::bytes(out->view().data(), out->size());
      },
      py::arg("text"), "Strict base32: the canonical form only; InvalidKeyError for anything else.");

  py::class_<py_recovery_code_hasher>(m, "RecoveryCodeHasher", kRecoveryDoc)
      .def(py::init([](py::handle secret) {
             const secret_bytes bytes(text_view(secret, "secret"));
             py::gil_scoped_release nogil;
             return py_recovery_code_hasher{
                 std::make_shared<const recovery_code_hasher>(unwrap(recovery_code_hasher::create(bytes.view())))};
           }),
           py::arg("secret"), "secret: str (as UTF-8) or bytes, at least 32 bytes.")
      .def_static(
          "new_codes",
          [](py::handle count) {
            const auto n = static_cast<std::size_t>(int_arg(count, "count", 1, static_cast<std::int64_t>(kMaxRecoveryCodes)));
            result<std::vector<std::string>> r = [n] {
              py::gil_scoped_release nogil;
              return recovery_code_hasher::new_codes(n);
            }();
            return unwrap(std::move(r));
          },
          py::arg("count") = 10, "`count` new codes in display form. Show them once; store hash(code) of each.")
      .def_static(
          "normalize",
          [](py::handle code) -> std::optional<std::string> {
            auto c = ascii_arg(code, "code");
            if (!c) return std::nullopt;
            return recovery_code_hasher::normalize(*c);
          },
          py::arg("code"), "The 16 canonical characters of a typed code, or None when it cannot be one.")
      .def(
          "hash",
          [](const py_recovery_code_hasher& self, py::handle code) {
            auto c = ascii_arg(code, "code");
            if (!c) raise(errc::malformed, "not a recovery code");
            py::gil_scoped_release nogil;
            return unwrap(self.h->hash(*c));
          },
          py::arg("code"), "hex(HMAC-SHA256) of the normalised code; MalformedTokenError for a non-code.")
      .def(
          "find",
          [](const py_recovery_code_hasher& self, py::handle code, py::handle hashes) -> py::object {
            auto c = ascii_arg(code, "code");
            const std::vector<std::string> stored = hashes_arg(hashes);
            if (!c) return py::none();
            result<std::optional<std::size_t>> r = [&] {
              py::gil_scoped_release nogil;
              return self.h->find(*c, stored);
            }();
            const auto index = unwrap(std::move(r));
            if (!index) return py::none();
            return py::int_(*index);
          },
          py::arg("code"), py::arg("hashes"),
          "The index of the hash in `hashes` that the code hashes to, or None. Every hash is compared "
          "in constant time.")
      .def("__repr__", [](const py_recovery_code_hasher&) { return std::string("<RecoveryCodeHasher>"); });
}

}  // namespace tokenward::bindings
