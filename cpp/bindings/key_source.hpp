// Binding types shared by the key-source bindings (jwks_cache.cpp) and the verifier (jose.cpp):
// the Python JWKSet wrapper and the Python JWKSCache wrapper with its clock.
#pragma once

#include <memory>

#include "common.hpp"
#include "tokenward/jwks_cache.hpp"
#include "tokenward/keyset.hpp"

namespace tokenward::bindings {

struct py_keyset {
  std::shared_ptr<const jwk_set> set;
};

// _core.JWKSCache: the C++ cache and the clock its decisions read. A null clock is the native
// monotonic clock (the one time.monotonic reads), so the verifier's fast path never calls Python.
struct py_jwks_cache {
  std::shared_ptr<jwks_cache> cache;
  py::object clock;  // None, or a callable returning seconds; called with the GIL held

  [[nodiscard]] double now() const;
};

void bind_jwks_cache(py::module_& m);
void bind_key_ring(py::module_& m);

}  // namespace tokenward::bindings
