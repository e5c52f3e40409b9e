// HMAC-SHA-256 on the CPU's SHA extensions (SHA-NI), for the HS256 hot path: the key's hash
// states after K0 ^ ipad and K0 ^ opad are 32 bytes each, so a MAC starts from a copy on the
// stack instead of OpenSSL's EVP_MD_CTX_copy_ex (which frees and allocates a context each time).
// Used only where available() says the CPU has the instructions; OpenSSL serves everywhere else.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tokenward::sha256ni {

using state = std::array<std::uint32_t, 8>;

// The CPU has SHA-NI, SSSE3 and SSE4.1 (read once).
bool available() noexcept;

// SHA-256's initial state (FIPS 180-4 §5.3.3).
state initial() noexcept;

// Absorbs `blocks` whole 64-byte blocks of `data` into `s`. Needs available().
void compress(state& s, const unsigned char* data, std::size_t blocks) noexcept;

// HMAC-SHA-256 of `data` (RFC 2104) from the states after one block of K0 ^ ipad (`inner`) and of
// K0 ^ opad (`outer`), into `out` (32 bytes). Needs available(). Wipes its intermediates.
void hmac(const state& inner, const state& outer, std::string_view data, unsigned char* out) noexcept;

}  // namespace tokenward::sha256ni
