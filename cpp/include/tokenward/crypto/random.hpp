// Random bytes from OpenSSL's DRBGs, seeded by the operating system. The one place in the core
// that calls RAND_bytes / RAND_priv_bytes.
#pragma once

#include <cstddef>
#include <string>

#include "tokenward/errc.hpp"
#include "tokenward/secret.hpp"

namespace tokenward::crypto {

// Public values (IVs, nonces, ids): OpenSSL's public DRBG (RAND_bytes).
status random_fill(unsigned char* out, std::size_t size);
result<std::string> random_bytes(std::size_t size);
// Values that are secrets (keys, API keys, refresh tokens): the private DRBG (RAND_priv_bytes),
// straight into self-wiping memory.
result<secret_bytes> random_secret(std::size_t size);

}  // namespace tokenward::crypto
