// The extension module tokenward._core: registers the error translator, then each binding file.
#include "common.hpp"
#include "key_source.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m, py::mod_gil_not_used()) {
  m.doc() = "tokenward native core (private: use the tokenward package)";
  tokenward::bindings::register_translator();
  m.def("_error_classes", &tokenward::bindings::error_classes,
        "TEST ONLY: {errc name: exception class} for every native error code.");
  tokenward::bindings::bind_jose(m);
  tokenward::bindings::bind_passwords(m);
  tokenward::bindings::bind_field_cipher(m);
  tokenward::bindings::bind_debug_tokens(m);
  tokenward::bindings::bind_api_keys(m);
  tokenward::bindings::bind_jwks_cache(m);
  tokenward::bindings::bind_key_ring(m);
  tokenward::bindings::bind_totp(m);
}
