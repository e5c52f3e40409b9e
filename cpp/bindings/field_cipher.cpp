// Bindings of field encryption: FieldCipher and the private known-answer hooks of its primitives.
#include <memory>

#include "common.hpp"
#include "tokenward/crypto/aead.hpp"
#include "tokenward/crypto/kdf.hpp"
#include "tokenward/field_cipher.hpp"

namespace tokenward::bindings {
namespace {

using cipher_ptr = std::shared_ptr<field_cipher>;

field_cipher::secrets secrets_arg(py::handle mapping) {
  field_cipher::secrets out;
  for (auto item : py::reinterpret_borrow<py::object>(mapping).attr("items")()) {
    auto pair = item.cast<py::tuple>();
    if (!PyUnicode_Check(pair[0].ptr())) throw py::type_error("key ids must be str");
    out.emplace_back(pair[0].cast<std::string>(), text_arg(pair[1], "secret"));
  }
  return out;
}

std::string primary_arg(const field_cipher::secrets& keys, const std::optional<std::string>& primary) {
  if (primary) return *primary;
  if (keys.size() == 1) return keys.front().first;
  raise(errc::configuration, "with several keys, primary= must name the key to encrypt with");
}

json claims_arg(py::handle claims) {
  if (!is_mapping(claims)) throw py::type_error("claims must be a mapping");
  return from_py(claims);
}

py::object optional_str(const std::string& s) {
  if (s.empty()) return py::none();
  return py::str(s);
}

constexpr const char* kDefaultKeyId = "0";

constexpr const char* kClassDoc =
    "Encrypts the members of a JWT payload one by one; iss, sub, aud, jti, nbf, exp and iat stay in "
    "clear.\n\n"
    "FieldCipher(secret) or FieldCipher({key_id: secret, ...}, primary=key_id) is the default scheme: "
    "AES-256-GCM with HKDF-SHA256 keys, a random 96-bit nonce per field and the key id in every "
    "ciphertext. FieldCipher.ignis_legacy() and FieldCipher.ignis_v3() read and write Ignis's formats. "
    "Immutable and thread-safe; see docs/field-encryption.md.";

}  // namespace

void bind_field_cipher(py::module_& m) {
  py::class_<field_cipher, cipher_ptr>(m, "FieldCipher", kClassDoc)
      .def(py::init([](py::handle secret, const std::optional<std::string>& primary) {
             field_cipher::secrets keys;
             if (is_mapping(secret)) {
               keys = secrets_arg(secret);
             } else {
               if (primary) raise(errc::configuration, "primary= is for a mapping of key ids to secrets");
               keys.emplace_back(kDefaultKeyId, text_arg(secret, "secret"));
             }
             const std::string p = primary_arg(keys, primary);
             py::gil_scoped_release nogil;
             return std::make_shared<field_cipher>(unwrap(field_cipher::create(keys, p)));
           }),
           py::arg("secret"), py::kw_only(), py::arg("primary") = py::none(),
           "AES-256-GCM with keys derived by HKDF-SHA256 from secrets of at least 32 bytes. A single "
           "secret gets the key id '0'.")
      .def_static(
          "ignis_legacy",
          [](py::handle secret) {
            std::string s = text_arg(secret, "secret");
            py::gil_scoped_release nogil;
            return std::make_shared<field_cipher>(unwrap(field_cipher::ignis_legacy(s)));
          },
          py::arg("secret"),
          "Ignis's original format: AES-256-CBC, the secret right-padded with '0' (or cut) to 32 bytes, "
          "base64(iv || ciphertext). Unauthenticated: only for fields inside a signed token.")
      .def_static(
          "ignis_v3",
          [](py::handle secrets_by_id, const std::string& algorithm, const std::optional<std::string>& primary) {
            if (!is_mapping(secrets_by_id)) throw py::type_error("secrets_by_id must be a mapping of key ids to secrets");
            bool gcm = false;
            if (algorithm == "aes-256-gcm") {
              gcm = true;
            } else if (algorithm != "aes-256-cbc") {
              raise(errc::configuration, "algorithm must be 'aes-256-cbc' or 'aes-256-gcm'");
            }
            const auto keys = secrets_arg(secrets_by_id);
            const std::string p = primary_arg(keys, primary);
            py::gil_scoped_release nogil;
            return std::make_shared<field_cipher>(unwrap(field_cipher::ignis_v3(keys, p, gcm)));
          },
          py::arg("secrets_by_id"), py::arg("algorithm") = "aes-256-cbc", py::kw_only(),
          py::arg("primary") = py::none(),
          "Ignis's versioned envelope: PBKDF2-HMAC-SHA256 keys (100 000 iterations), a key id, "
          "AES-256-CBC or AES-256-GCM.")
      .def(
          "encrypt",
          [](const field_cipher& self, py::handle plaintext) {
            std::string pt = text_arg(plaintext, "plaintext");
            py::gil_scoped_release nogil;
            return unwrap(self.encrypt(pt));
          },
          py::arg("plaintext"), "Encrypt one value (str as UTF-8, or bytes) on its own.")
      .def(
          "decrypt",
          [](const field_cipher& self, py::handle ciphertext) {
            std::string ct = text_arg(ciphertext, "ciphertext");
            result<std::string> r = [&] {
              py::gil_scoped_release nogil;
              return self.decrypt(ct);
            }();
            return to_bytes(unwrap(std::move(r)));
          },
          py::arg("ciphertext"), "Decrypt one value written by encrypt(); raises DecryptionError.")
      .def(
          "encrypt_claims",
          [](const field_cipher& self, py::handle claims) {
            json c = claims_arg(claims);
            result<json> r = [&] {
              py::gil_scoped_release nogil;
              return self.encrypt_claims(c);
            }();
            return to_py(unwrap(std::move(r)));
          },
          py::arg("claims"),
          "Encrypt the name and the value of every member but the registered claims; drop null members.")
      .def(
          "decrypt_claims",
          [](const field_cipher& self, py::handle claims) {
            json c = claims_arg(claims);
            result<json> r = [&] {
              py::gil_scoped_release nogil;
              return self.decrypt_claims(c);
            }();
            return to_py(unwrap(std::move(r)));
          },
          py::arg("claims"), "The inverse of encrypt_claims(); raises DecryptionError.")
      .def_property_readonly("scheme", [](const field_cipher& self) { return std::string(self.scheme_name()); })
      .def_property_readonly("primary_key_id",
                             [](const field_cipher& self) { return optional_str(self.primary_key_id()); })
      .def_property_readonly("key_ids", &field_cipher::key_ids)
      .def("__repr__", [](const field_cipher& self) {
        std::string out = "<FieldCipher " + std::string(self.scheme_name());
        if (!self.primary_key_id().empty()) {
          out += " primary=" + py::repr(py::str(self.primary_key_id())).cast<std::string>();
          out += " keys=" + std::to_string(self.key_ids().size());
        }
        return out + ">";
      });

  // --- private hooks, for known-answer tests only --------------------------------------------
  m.def(
      "_field_encrypt_with_iv",
      [](const field_cipher& cipher, py::handle plaintext, const py::bytes& iv) {
        std::string pt = text_arg(plaintext, "plaintext");
        std::string fixed = iv;
        py::gil_scoped_release nogil;
        return unwrap(cipher.encrypt_with_fixed_iv_for_tests(pt, fixed));
      },
      py::arg("cipher"), py::arg("plaintext"), py::arg("iv"),
      "TEST ONLY: encrypt one value with a fixed IV to reproduce known answers. Never use it otherwise.");

  m.def(
      "_aes_gcm_encrypt",
      [](const py::bytes& key, const py::bytes& iv, const py::bytes& aad, const py::bytes& plaintext) {
        std::string k = key, i = iv, a = aad, p = plaintext;
        result<std::string> r = [&] {
          py::gil_scoped_release nogil;
          return crypto::aes_gcm_encrypt(k, i, a, p);
        }();
        return to_bytes(unwrap(std::move(r)));
      },
      py::arg("key"), py::arg("iv"), py::arg("aad"), py::arg("plaintext"));

  m.def(
      "_aes_gcm_decrypt",
      [](const py::bytes& key, const py::bytes& iv, const py::bytes& aad, const py::bytes& ciphertext,
         const py::bytes& tag) {
        std::string k = key, i = iv, a = aad, c = ciphertext, t = tag;
        result<std::string> r = [&] {
          py::gil_scoped_release nogil;
          return crypto::aes_gcm_decrypt(k, i, a, c, t);
        }();
        return to_bytes(unwrap(std::move(r)));
      },
      py::arg("key"), py::arg("iv"), py::arg("aad"), py::arg("ciphertext"), py::arg("tag"));

  m.def(
      "_aes_cbc_encrypt",
      [](const py::bytes& key, const py::bytes& iv, const py::bytes& plaintext) {
        std::string k = key, i = iv, p = plaintext;
        result<std::string> r = [&] {
          py::gil_scoped_release nogil;
          return crypto::aes_cbc_encrypt(k, i, p);
        }();
        return to_bytes(unwrap(std::move(r)));
      },
      py::arg("key"), py::arg("iv"), py::arg("plaintext"));

  m.def(
      "_aes_cbc_decrypt",
      [](const py::bytes& key, const py::bytes& iv, const py::bytes& ciphertext) {
        std::string k = key, i = iv, c = ciphertext;
        result<std::string> r = [&] {
          py::gil_scoped_release nogil;
          return crypto::aes_cbc_decrypt(k, i, c);
        }();
        return to_bytes(unwrap(std::move(r)));
      },
      py::arg("key"), py::arg("iv"), py::arg("ciphertext"));

  m.def(
      "_hkdf_sha256",
      [](const py::bytes& ikm, const py::bytes& salt, const py::bytes& info, std::size_t size) {
        std::string k = ikm, s = salt, i = info;
        result<secret_bytes> r = [&] {
          py::gil_scoped_release nogil;
          return crypto::hkdf_sha256(k, s, i, size);
        }();
        return to_bytes(std::string(unwrap(std::move(r)).view()));
      },
      py::arg("ikm"), py::arg("salt"), py::arg("info"), py::arg("size"));

  m.def(
      "_pbkdf2_sha256",
      [](const py::bytes& password, const py::bytes& salt, std::uint32_t iterations, std::size_t size) {
        std::string p = password, s = salt;
        result<secret_bytes> r = [&] {
          py::gil_scoped_release nogil;
          return crypto::pbkdf2_sha256(p, s, iterations, size);
        }();
        return to_bytes(std::string(unwrap(std::move(r)).view()));
      },
      py::arg("password"), py::arg("salt"), py::arg("iterations"), py::arg("size"));
}

}  // namespace tokenward::bindings
