// Bindings of API keys: ApiKeyHasher (generation, hashing, constant-time checks of vk_ keys).
#include <memory>

#include "common.hpp"
#include "tokenward/opaque_tokens.hpp"

namespace tokenward::bindings {
namespace {

struct py_api_key_hasher {
  std::shared_ptr<const api_key_hasher> h;
};

// A candidate key as bytes, or nullopt when it cannot be one. An API key is ASCII, so a str that
// is not (including one with lone surrogates, which has no UTF-8 form) is refused without
// encoding it. Only str is accepted: keys arrive as text.
std::optional<secret_bytes> key_arg(py::handle h, const char* what) {
  if (!PyUnicode_Check(h.ptr())) throw py::type_error(std::string(what) + " must be str");
  if (!PyUnicode_IS_ASCII(h.ptr())) return std::nullopt;
  Py_ssize_t n = 0;
  const char* s = PyUnicode_AsUTF8AndSize(h.ptr(), &n);
  if (s == nullptr) throw py::error_already_set();
  return secret_bytes(std::string_view(s, static_cast<std::size_t>(n)));
}

constexpr const char* kClassDoc =
    "Generates and hashes API keys: 'vk_' and 256 random bits in base64url (46 characters). A store "
    "keeps hash(key) and the 12-character prefix, never the key. The hashing key is derived from the "
    "secret with HKDF-SHA256 and never leaves the native core.";

}  // namespace

void bind_api_keys(py::module_& m) {
  py::class_<py_api_key_hasher>(m, "ApiKeyHasher", kClassDoc)
      .def(py::init([](py::handle secret) {
             const secret_bytes bytes(text_view(secret, "secret"));
             py::gil_scoped_release nogil;
             return py_api_key_hasher{std::make_shared<const api_key_hasher>(unwrap(api_key_hasher::create(bytes.view())))};
           }),
           py::arg("secret"), "secret: str (as UTF-8) or bytes, at least 32 bytes.")
      .def(
          "new_key",
          [](const py_api_key_hasher&) {
            result<api_key> r = [] {
              py::gil_scoped_release nogil;
              return api_key_hasher::new_key();
            }();
            api_key k = unwrap(std::move(r));
            return py::make_tuple(py::str(k.key), py::str(k.prefix));
          },
          "A new key and its prefix: (key, prefix). Show the key once; store hash(key) and the prefix.")
      .def(
          "hash",
          [](const py_api_key_hasher& self, py::handle key) {
            auto k = key_arg(key, "key");
            if (!k) raise(errc::malformed, "not an API key (expected 'vk_' and 43 base64url characters)");
            py::gil_scoped_release nogil;
            return unwrap(self.h->hash(k->view()));
          },
          py::arg("key"), "hex(HMAC-SHA256) of the key; MalformedTokenError for anything but a vk_ key.")
      .def(
          "matches",
          [](const py_api_key_hasher& self, py::handle key, py::handle key_hash) {
            auto k = key_arg(key, "key");
            if (!PyUnicode_Check(key_hash.ptr())) throw py::type_error("key_hash must be str");
            if (!k || !PyUnicode_IS_ASCII(key_hash.ptr())) return false;
            const std::string expected = key_hash.cast<std::string>();
            py::gil_scoped_release nogil;
            return self.h->matches(k->view(), expected);
          },
          py::arg("key"), py::arg("key_hash"),
          "Whether hash(key) equals key_hash, compared in constant time; False for a malformed key or hash.")
      .def_static(
          "is_api_key",
          [](py::handle text) {
            if (!PyUnicode_Check(text.ptr())) throw py::type_error("text must be str");
            if (!PyUnicode_IS_ASCII(text.ptr())) return false;
            return api_key_hasher::is_api_key(text_view(text, "text"));
          },
          py::arg("text"), "Whether `text` has the exact shape of an API key.")
      .def_static(
          "prefix_of",
          [](py::handle key) {
            auto k = key_arg(key, "key");
            if (!k) raise(errc::malformed, "not an API key (expected 'vk_' and 43 base64url characters)");
            return unwrap(api_key_hasher::prefix_of(k->view()));
          },
          py::arg("key"), "The key's 12-character display prefix; MalformedTokenError for a non-key.")
      .def("__repr__", [](const py_api_key_hasher&) { return std::string("<ApiKeyHasher>"); });
}

}  // namespace tokenward::bindings
