// Bindings of account credentials: Argon2id (password hashes) and OneTimeTokens (single-use
// e-mail tokens). Passwords are copied into self-wiping memory while the GIL is held; the GIL is
// released for every hash and verification, so other threads (an event loop) run meanwhile.
#include <memory>

#include "common.hpp"
#include "tokenward/one_time_tokens.hpp"
#include "tokenward/password.hpp"
#include "tokenward/secret.hpp"

namespace tokenward::bindings {
namespace {

struct py_argon2id {
  std::shared_ptr<const password_hasher> h;
};

struct py_one_time_tokens {
  std::shared_ptr<const one_time_tokens> t;
};

// A password as bytes in self-wiping memory: str as UTF-8, or bytes. nullopt for a str with no
// UTF-8 form (a lone surrogate), which no stored hash can be the hash of.
std::optional<secret_bytes> password_arg(py::handle h) {
  if (PyUnicode_Check(h.ptr())) {
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(h.ptr(), &n);
    if (s == nullptr) {
      PyErr_Clear();
      return std::nullopt;
    }
    return secret_bytes(std::string_view(s, static_cast<std::size_t>(n)));
  }
  if (PyBytes_Check(h.ptr())) {
    return secret_bytes(std::string_view(PyBytes_AS_STRING(h.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(h.ptr()))));
  }
  throw py::type_error("password must be str or bytes");
}

// A PHC string: ASCII str only (anything else cannot be one).
std::optional<std::string> phc_arg(py::handle h) {
  if (!PyUnicode_Check(h.ptr())) throw py::type_error("hash must be str");
  if (!PyUnicode_IS_ASCII(h.ptr())) return std::nullopt;
  return h.cast<std::string>();
}

[[noreturn]] void not_a_phc() {
  raise(errc::bad_password_hash, "not an Argon2id password hash tokenward can check: not ASCII text");
}

constexpr const char* kArgon2idDoc =
    "Argon2id password hashes through libsodium (crypto_pwhash_str): PHC strings "
    "'$argon2id$v=19$m=<KiB>,t=<passes>,p=1$<salt>$<hash>' that argon2-cffi and pwdlib read and "
    "write. opslimit is the number of passes (2 to 32), memlimit the memory in bytes (a whole "
    "number of KiB, 19 MiB to 4 GiB). The GIL is released while hashing and verifying. Passwords "
    "are used as given (str as UTF-8): tokenward.passwords.PasswordHasher normalises them first.";

constexpr const char* kOneTimeDoc =
    "Single-use tokens of accounts. purpose 'verify-email' makes 'twv_' tokens, "
    "'reset-password' makes 'twr_' tokens, 'mfa' makes 'twm_' tokens (a sign-in waiting for its "
    "second factor); each is 47 characters, 256 random bits. A store keeps hash(token), an "
    "HMAC-SHA256 under a key derived from the secret and the purpose with HKDF, never the token; "
    "a token of one purpose is malformed for the others.";

}  // namespace

void bind_passwords(py::module_& m) {
  auto cls = py::class_<py_argon2id>(m, "Argon2id", kArgon2idDoc);
  cls.def(py::init([](std::uint64_t opslimit, std::size_t memlimit) {
            py::gil_scoped_release nogil;
            return py_argon2id{std::make_shared<const password_hasher>(unwrap(password_hasher::create(opslimit, memlimit)))};
          }),
          py::kw_only(), py::arg("opslimit"), py::arg("memlimit"),
          "ConfigurationError for parameters outside the bounds.")
      .def(
          "hash",
          [](const py_argon2id& self, py::handle password) {
            auto pw = password_arg(password);
            if (!pw) raise(errc::password_rejected, "the password is not valid Unicode text");
            result<std::string> r = [&] {
              py::gil_scoped_release nogil;
              return self.h->hash(pw->view());
            }();
            return unwrap(std::move(r));
          },
          py::arg("password"),
          "A new PHC string (fresh random salt). WeakPasswordError for a password longer than "
          "MAX_PASSWORD_BYTES bytes or with no UTF-8 form.")
      .def(
          "verify",
          [](const py_argon2id& self, py::handle phc, py::handle password) {
            auto text = phc_arg(phc);
            if (!text) not_a_phc();
            auto pw = password_arg(password);
            if (!pw) {
              unwrap(parse_argon2id(*text));  // a malformed hash is still reported
              return false;
            }
            result<bool> r = [&] {
              py::gil_scoped_release nogil;
              return self.h->verify(*text, pw->view());
            }();
            return unwrap(std::move(r));
          },
          py::arg("hash"), py::arg("password"),
          "Whether password matches hash. PasswordHashError for a hash that is not an Argon2id "
          "PHC string within bounds; False for a wrong password.")
      .def(
          "verify_dummy",
          [](const py_argon2id& self, py::handle password) {
            auto pw = password_arg(password);
            if (!pw) return false;
            py::gil_scoped_release nogil;
            return self.h->verify_dummy(pw->view());
          },
          py::arg("password"),
          "One verification at this hasher's parameters that never matches: the cost of a wrong "
          "password, for an unknown e-mail. Always False.")
      .def(
          "needs_rehash",
          [](const py_argon2id& self, py::handle phc) {
            auto text = phc_arg(phc);
            if (!text) not_a_phc();
            return unwrap(self.h->needs_rehash(*text));
          },
          py::arg("hash"),
          "Whether hash was made with other parameters than this hasher's (passes, memory, one "
          "lane, 16-byte salt, 32-byte hash). PasswordHashError for a malformed hash.")
      .def_property_readonly("opslimit", [](const py_argon2id& self) { return self.h->opslimit(); })
      .def_property_readonly("memlimit", [](const py_argon2id& self) { return self.h->memlimit(); })
      .def("__repr__", [](const py_argon2id& self) {
        return "<Argon2id opslimit=" + std::to_string(self.h->opslimit()) +
               " memlimit=" + std::to_string(self.h->memlimit()) + ">";
      });
  cls.attr("MAX_PASSWORD_BYTES") = kPasswordMaxBytes;

  py::class_<py_one_time_tokens>(m, "OneTimeTokens", kOneTimeDoc)
      .def(py::init([](py::handle secret, const std::string& purpose) {
             const secret_bytes bytes(text_view(secret, "secret"));
             py::gil_scoped_release nogil;
             return py_one_time_tokens{
                 std::make_shared<const one_time_tokens>(unwrap(one_time_tokens::create(bytes.view(), purpose)))};
           }),
           py::arg("secret"), py::arg("purpose"),
           "secret: str (as UTF-8) or bytes, at least 32 bytes; purpose: 'verify-email', "
           "'reset-password' or 'mfa' (ConfigurationError otherwise).")
      .def(
          "issue",
          [](const py_one_time_tokens& self) {
            result<one_time_token> r = [&] {
              py::gil_scoped_release nogil;
              return self.t->issue();
            }();
            one_time_token tok = unwrap(std::move(r));
            return py::make_tuple(py::str(tok.token), py::str(tok.hash));
          },
          "A new token and its hash: (token, token_hash). Send the token; store the hash.")
      .def(
          "hash",
          [](const py_one_time_tokens& self, py::handle token) {
            if (!PyUnicode_Check(token.ptr())) throw py::type_error("token must be str");
            if (!PyUnicode_IS_ASCII(token.ptr())) {
              raise(errc::malformed, "not a " + std::string(self.t->purpose()) + " token");
            }
            const secret_bytes tok(text_view(token, "token"));
            py::gil_scoped_release nogil;
            return unwrap(self.t->hash(tok.view()));
          },
          py::arg("token"),
          "hex(HMAC-SHA256) of the token, to look it up by; MalformedTokenError for anything but "
          "a token of this purpose.")
      .def(
          "matches",
          [](const py_one_time_tokens& self, py::handle token, py::handle token_hash) {
            if (!PyUnicode_Check(token.ptr())) throw py::type_error("token must be str");
            if (!PyUnicode_Check(token_hash.ptr())) throw py::type_error("token_hash must be str");
            if (!PyUnicode_IS_ASCII(token.ptr()) || !PyUnicode_IS_ASCII(token_hash.ptr())) return false;
            const secret_bytes tok(text_view(token, "token"));
            const std::string expected = token_hash.cast<std::string>();
            py::gil_scoped_release nogil;
            return self.t->matches(tok.view(), expected);
          },
          py::arg("token"), py::arg("token_hash"),
          "Whether hash(token) equals token_hash, compared in constant time; False for a "
          "malformed token or hash and for a token of another purpose.")
      .def(
          "is_token",
          [](const py_one_time_tokens& self, py::handle text) {
            if (!PyUnicode_Check(text.ptr())) throw py::type_error("text must be str");
            if (!PyUnicode_IS_ASCII(text.ptr())) return false;
            return self.t->is_token(text_view(text, "text"));
          },
          py::arg("text"), "Whether text has the exact shape of a token of this purpose.")
      .def_property_readonly("purpose", [](const py_one_time_tokens& self) { return std::string(self.t->purpose()); })
      .def_property_readonly("prefix", [](const py_one_time_tokens& self) { return std::string(self.t->prefix()); })
      .def("__repr__", [](const py_one_time_tokens& self) {
        return "<OneTimeTokens purpose='" + std::string(self.t->purpose()) + "'>";
      });
}

}  // namespace tokenward::bindings
