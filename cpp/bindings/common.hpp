// The binding layer is the only part of tokenward that knows pybind11: the files in cpp/bindings/.
// Arguments are converted to C++ values while the GIL is held, the GIL is released for parsing and
// cryptography, and a failed status becomes a Python exception from tokenward.exceptions here and
// nowhere else.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenward/algorithms.hpp"
#include "tokenward/errc.hpp"
#include "tokenward/json.hpp"
#include "tokenward/json_doc.hpp"

namespace tokenward::bindings {

namespace py = pybind11;

// The one C++ exception type of the binding layer; register_translator() maps it to the Python
// class for its code.
struct native_error {
  errc code;
  std::string message;
};

void register_translator();
// {code name: exception class} for every errc but ok: what the translator raises (tests check it).
py::dict error_classes();

[[noreturn]] void raise(const error& e);
[[noreturn]] void raise(errc code, std::string message);

template <class T>
T unwrap(result<T>&& r) {
  if (!r) raise(r.err());
  return std::move(r).value();
}
inline void unwrap(const status& s) {
  if (!s) raise(s.err());
}

// JSON <-> Python, with the GIL held.
py::object to_py(const json& j);
// Straight from simdjson's DOM to Python objects, with no intermediate DOM.
py::object to_py(simdjson::dom::element e);
json from_py(py::handle h, int depth = 0);
bool is_mapping(py::handle h);

// str (as UTF-8) or bytes, copied.
std::string text_arg(py::handle h, const char* what);
// The same without a copy: valid while the object lives (str and bytes are immutable).
std::string_view text_view(py::handle h, const char* what);
alg alg_arg(const std::string& name);
std::optional<alg> opt_alg_arg(const std::optional<std::string>& name);
// A str, or a sequence of str; an empty sequence is a mistake, not "anything goes".
std::vector<std::string> strings_arg(py::handle h, const char* what);
inline py::bytes to_bytes(const std::string& s) { return {s.data(), s.size()}; }

// One function per concern, each in its own file; module.cpp calls them in order.
void bind_jose(py::module_& m);
void bind_passwords(py::module_& m);  // password.cpp: Argon2id, OneTimeTokens
void bind_field_cipher(py::module_& m);
void bind_debug_tokens(py::module_& m);
void bind_api_keys(py::module_& m);
void bind_totp(py::module_& m);

}  // namespace tokenward::bindings
