#include "common.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace tokenward::bindings {

// ---------------------------------------------------------------------------------------------
// Errors: native_error is thrown only by the binding layer and translated once, here.

namespace {

// The class in tokenward.exceptions for each code. The switch has no default, so a code without
// a case is a -Wswitch error in the -Werror build, and in every build its entry stays null and
// the static_assert below fails: adding an errc without its exception does not compile.
constexpr const char* exception_name(errc code) noexcept {
  switch (code) {
    case errc::ok: return "TokenwardError";  // never raised
    case errc::malformed: return "MalformedTokenError";
    case errc::bad_signature: return "InvalidSignatureError";
    case errc::expired: return "ExpiredTokenError";
    case errc::immature: return "ImmatureTokenError";
    case errc::wrong_issuer: return "InvalidIssuerError";
    case errc::wrong_audience: return "InvalidAudienceError";
    case errc::missing_claim: return "MissingClaimError";
    case errc::invalid_claim: return "InvalidClaimError";
    case errc::key_not_found: return "KeyNotFoundError";
    case errc::unsupported_algorithm: return "UnsupportedAlgorithmError";
    case errc::invalid_key: return "InvalidKeyError";
    case errc::configuration: return "ConfigurationError";
    case errc::internal: return "TokenwardError";
    case errc::decryption_failed: return "DecryptionError";
    case errc::bad_password_hash: return "PasswordHashError";
    case errc::password_rejected: return "WeakPasswordError";
    case errc::errc_count: break;
  }
  return nullptr;
}

constexpr std::array<const char*, kErrcCount> kExceptionNames = [] {
  std::array<const char*, kErrcCount> names{};
  for (std::size_t i = 0; i < kErrcCount; ++i) names[i] = exception_name(static_cast<errc>(i));
  return names;
}();

static_assert(
    [] {
      for (const char* name : kExceptionNames) {
        if (name == nullptr || name[0] == '\0') return false;
      }
      return true;
    }(),
    "every errc needs its exception class in exception_name()");

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

}  // namespace

py::dict error_classes() {
  const auto& table = exceptions();
  py::dict out;
  for (std::size_t i = 1; i < kErrcCount; ++i) out[py::str(std::string(code_name(static_cast<errc>(i))))] = table[i];
  return out;
}

void raise(const error& e) { throw native_error{e.code, e.detail}; }
void raise(errc code, std::string message) { throw native_error{code, std::move(message)}; }

void register_translator() {
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
}

bool is_mapping(py::handle h) {
  return PyDict_Check(h.ptr()) || py::isinstance(h, py::module_::import("collections.abc").attr("Mapping"));
}

// ---------------------------------------------------------------------------------------------
// JSON <-> Python, with the GIL held.

namespace {
constexpr int kMaxPyDepth = 64;
}  // namespace

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
      PyObject* text = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "strict");
      if (text == nullptr) throw py::error_already_set();
      return py::reinterpret_steal<py::object>(text);
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

namespace {

namespace dom = simdjson::dom;

// Claim names that most tokens carry (RFC 7519, OpenID Connect, Cognito, common extensions), made
// once as interned str objects: a dict built from a token reuses them instead of allocating and
// hashing a new key each time. Read-only after it is built.
constexpr std::array<std::string_view, 40> kCommonNames{
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "scp", "client_id", "azp", "token_use",
    "auth_time", "origin_jti", "event_id", "username", "cognito:groups", "cognito:username",
    "cognito:roles", "cognito:preferred_role", "email", "email_verified", "name", "given_name",
    "family_name", "preferred_username", "phone_number", "phone_number_verified", "nonce", "at_hash",
    "sid", "typ", "groups", "roles", "permissions", "tid", "oid", "version", "amr", "acr"};

// kCommonNames as interned str objects in a fixed open-addressed table: a name's first slot comes
// from its length and its first and last bytes, and a look-up compares lengths before bytes. The
// table is never more than a third full, so every probe sequence ends at an empty slot.
class name_table {
 public:
  name_table() {
    for (auto name : kCommonNames) {
      PyObject* s = PyUnicode_InternFromString(std::string(name).c_str());
      if (s == nullptr) throw py::error_already_set();
      std::size_t i = slot(name);
      while (slots_[i].object != nullptr) i = (i + 1) % kSlots;
      slots_[i] = {name, s};  // kept for the life of the process, as interned names are
    }
  }

  // A borrowed reference to the shared str for `name`, or null when it is not a common name.
  [[nodiscard]] PyObject* find(std::string_view name) const noexcept {
    if (name.empty()) return nullptr;
    for (std::size_t i = slot(name);; i = (i + 1) % kSlots) {
      const entry& e = slots_[i];
      if (e.object == nullptr) return nullptr;
      if (e.name.size() == name.size() && std::memcmp(e.name.data(), name.data(), name.size()) == 0) {
        return e.object;
      }
    }
  }

 private:
  static constexpr std::size_t kSlots = 128;
  static_assert(kCommonNames.size() * 3 <= kSlots);
  struct entry {
    std::string_view name;
    PyObject* object = nullptr;
  };
  static std::size_t slot(std::string_view name) noexcept {
    const auto first = static_cast<unsigned char>(name.front());
    const auto last = static_cast<unsigned char>(name.back());
    return (name.size() * 41U + first * 7U + last) % kSlots;
  }
  std::array<entry, kSlots> slots_{};
};

const name_table& common_names() {
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<name_table> storage;
  return storage.call_once_and_store_result([] { return name_table(); }).get_stored();
}

// Whether every byte of `s` is ASCII, eight bytes at a time.
bool is_ascii(std::string_view s) noexcept {
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  std::uint64_t any = 0;
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, s.data() + i, 8);
    any |= word;
  }
  for (; i < s.size(); ++i) any |= static_cast<unsigned char>(s[i]);
  return (any & kHigh) == 0;
}

// A new str of UTF-8 `s` (checked by the parser), or null with a Python error set. ASCII text, what
// tokens mostly hold, is copied straight into an exactly sized compact str.
PyObject* text_to_py(std::string_view s) {
  const auto size = static_cast<Py_ssize_t>(s.size());
  if (!is_ascii(s)) return PyUnicode_DecodeUTF8(s.data(), size, "strict");
  PyObject* out = PyUnicode_New(size, 127);
  if (out != nullptr) std::memcpy(PyUnicode_1BYTE_DATA(out), s.data(), s.size());
  return out;
}

// A member name as a new str reference (a shared one for common names), or null on error.
PyObject* name_to_py(std::string_view name, const name_table& common) {
  if (PyObject* shared = common.find(name)) {
    Py_INCREF(shared);
    return shared;
  }
  return text_to_py(name);
}

// New reference, or null with a Python error set. Strings were checked as UTF-8 by the parser.
PyObject* element_to_py(dom::element e, const name_table& common) {
  switch (e.type()) {
    case dom::element_type::OBJECT: {
      dom::object obj;
      if (e.get(obj) != simdjson::SUCCESS) break;
      // Sized up front (the count is on simdjson's tape), so the dict never grows while filled.
      PyObject* out = _PyDict_NewPresized(static_cast<Py_ssize_t>(obj.size()));
      if (out == nullptr) return nullptr;
      for (const auto field : obj) {
        PyObject* key = name_to_py(field.key, common);
        PyObject* value = key != nullptr ? element_to_py(field.value, common) : nullptr;
        const int rc = value != nullptr ? PyDict_SetItem(out, key, value) : -1;
        Py_XDECREF(key);
        Py_XDECREF(value);
        if (rc != 0) {
          Py_DECREF(out);
          return nullptr;
        }
      }
      return out;
    }
    case dom::element_type::ARRAY: {
      dom::array items;
      if (e.get(items) != simdjson::SUCCESS) break;
      // Sized up front (simdjson's tape has the count); the slots are filled in order.
      const std::size_t count = items.size();
      PyObject* out = PyList_New(static_cast<Py_ssize_t>(count));
      if (out == nullptr) return nullptr;
      Py_ssize_t i = 0;
      for (const auto item : items) {
        PyObject* value = static_cast<std::size_t>(i) < count ? element_to_py(item, common) : nullptr;
        if (value == nullptr) {
          if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "JSON array changed size");
          Py_DECREF(out);  // unfilled slots are null, which list_dealloc skips
          return nullptr;
        }
        PyList_SET_ITEM(out, i++, value);
      }
      if (static_cast<std::size_t>(i) != count) {
        PyErr_SetString(PyExc_RuntimeError, "JSON array changed size");
        Py_DECREF(out);
        return nullptr;
      }
      return out;
    }
    case dom::element_type::STRING: {
      return text_to_py(e.get_string().value_unsafe());
    }
    case dom::element_type::INT64: return PyLong_FromLongLong(e.get_int64().value_unsafe());
    case dom::element_type::UINT64: return PyLong_FromUnsignedLongLong(e.get_uint64().value_unsafe());
    case dom::element_type::DOUBLE: return PyFloat_FromDouble(e.get_double().value_unsafe());
    case dom::element_type::BOOL: return PyBool_FromLong(e.get_bool().value_unsafe() ? 1 : 0);
    case dom::element_type::NULL_VALUE: break;
  }
  Py_RETURN_NONE;
}

}  // namespace

py::object to_py(simdjson::dom::element e) {
  PyObject* out = element_to_py(e, common_names());
  if (out == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(out);
}

json from_py(py::handle h, int depth) {
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
  if (is_mapping(h)) {
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
std::string_view text_view(py::handle h, const char* what) {
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

std::string text_arg(py::handle h, const char* what) { return std::string(text_view(h, what)); }

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


}  // namespace tokenward::bindings
