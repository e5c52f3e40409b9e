#include "sha256_ni.hpp"

#include <openssl/crypto.h>

#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define TOKENWARD_SHA_NI 1
#endif

namespace tokenward::sha256ni {

state initial() noexcept {
  return {0x6a09e667U, 0xbb67ae85U, 0x3c6ef372U, 0xa54ff53aU, 0x510e527fU, 0x9b05688cU, 0x1f83d9abU, 0x5be0cd19U};
}

#ifdef TOKENWARD_SHA_NI

namespace {

bool detect() noexcept {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) == 0) return false;
  const bool ssse3 = (c & (1U << 9)) != 0;
  const bool sse41 = (c & (1U << 19)) != 0;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
  const bool sha = (b & (1U << 29)) != 0;
  return ssse3 && sse41 && sha;
}

alignas(16) constexpr std::uint32_t kRound[64] = {
    0x428a2f98U, 0x71374491U, 0xb5c0fbcfU, 0xe9b5dba5U, 0x3956c25bU, 0x59f111f1U, 0x923f82a4U, 0xab1c5ed5U,
    0xd807aa98U, 0x12835b01U, 0x243185beU, 0x550c7dc3U, 0x72be5d74U, 0x80deb1feU, 0x9bdc06a7U, 0xc19bf174U,
    0xe49b69c1U, 0xefbe4786U, 0x0fc19dc6U, 0x240ca1ccU, 0x2de92c6fU, 0x4a7484aaU, 0x5cb0a9dcU, 0x76f988daU,
    0x983e5152U, 0xa831c66dU, 0xb00327c8U, 0xbf597fc7U, 0xc6e00bf3U, 0xd5a79147U, 0x06ca6351U, 0x14292967U,
    0x27b70a85U, 0x2e1b2138U, 0x4d2c6dfcU, 0x53380d13U, 0x650a7354U, 0x766a0abbU, 0x81c2c92eU, 0x92722c85U,
    0xa2bfe8a1U, 0xa81a664bU, 0xc24b8b70U, 0xc76c51a3U, 0xd192e819U, 0xd6990624U, 0xf40e3585U, 0x106aa070U,
    0x19a4c116U, 0x1e376c08U, 0x2748774cU, 0x34b0bcb5U, 0x391c0cb3U, 0x4ed8aa4aU, 0x5b9cca4fU, 0x682e6ff3U,
    0x748f82eeU, 0x78a5636fU, 0x84c87814U, 0x8cc70208U, 0x90befffaU, 0xa4506cebU, 0xbef9a3f7U, 0xc67178f2U};

// Four rounds at a time (g = 0..15): two sha256rnds2 over the schedule words plus constants; from
// group 1 the schedule for four groups ahead is prepared with sha256msg1/sha256msg2.
__attribute__((target("sha,ssse3,sse4.1"))) void compress_ni(state& s, const unsigned char* data,
                                                              std::size_t blocks) noexcept {
  const __m128i byteswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  __m128i tmp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data()));        // DCBA
  __m128i state1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + 4));  // HGFE
  tmp = _mm_shuffle_epi32(tmp, 0xB1);                                                // CDAB
  state1 = _mm_shuffle_epi32(state1, 0x1B);                                          // EFGH
  __m128i state0 = _mm_alignr_epi8(tmp, state1, 8);                                  // ABEF
  state1 = _mm_blend_epi16(state1, tmp, 0xF0);                                       // CDGH
  for (; blocks > 0; --blocks, data += 64) {
    const __m128i abef = state0;
    const __m128i cdgh = state1;
    __m128i m[4];
    // Fully unrolled, so that m[] lives in registers and every index is a constant.
#pragma GCC unroll 16
    for (int g = 0; g < 16; ++g) {
      const int cur = g & 3;
      if (g < 4) {
        m[cur] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * g)), byteswap);
      }
      __m128i msg = _mm_add_epi32(m[cur], _mm_load_si128(reinterpret_cast<const __m128i*>(kRound + 4 * g)));
      state1 = _mm_sha256rnds2_epu32(state1, state0, msg);
      if (g >= 3 && g <= 14) {
        const int next = (g + 1) & 3;
        const __m128i t = _mm_alignr_epi8(m[cur], m[(g + 3) & 3], 4);
        m[next] = _mm_sha256msg2_epu32(_mm_add_epi32(m[next], t), m[cur]);
      }
      msg = _mm_shuffle_epi32(msg, 0x0E);
      state0 = _mm_sha256rnds2_epu32(state0, state1, msg);
      if (g >= 1 && g <= 12) {
        const int prev = (g + 3) & 3;
        m[prev] = _mm_sha256msg1_epu32(m[prev], m[cur]);
      }
    }
    state0 = _mm_add_epi32(state0, abef);
    state1 = _mm_add_epi32(state1, cdgh);
  }
  tmp = _mm_shuffle_epi32(state0, 0x1B);        // FEBA
  state1 = _mm_shuffle_epi32(state1, 0xB1);     // DCHG
  state0 = _mm_blend_epi16(tmp, state1, 0xF0);  // DCBA
  state1 = _mm_alignr_epi8(state1, tmp, 8);     // HGFE
  _mm_storeu_si128(reinterpret_cast<__m128i*>(s.data()), state0);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(s.data() + 4), state1);
}

void store_be(unsigned char* out, const state& s) noexcept {
  for (std::size_t i = 0; i < 8; ++i) {
    out[4 * i] = static_cast<unsigned char>(s[i] >> 24);
    out[4 * i + 1] = static_cast<unsigned char>(s[i] >> 16);
    out[4 * i + 2] = static_cast<unsigned char>(s[i] >> 8);
    out[4 * i + 3] = static_cast<unsigned char>(s[i]);
  }
}

// Absorbs the rest of a message (`tail`, under 64 bytes) and its length padding (FIPS 180-4
// §5.1.1); `total` is the whole message's length in bytes, the blocks already absorbed included.
void finish(state& s, const unsigned char* tail, std::size_t n, std::uint64_t total) noexcept {
  alignas(16) unsigned char last[128] = {};
  std::memcpy(last, tail, n);
  last[n] = 0x80;
  const std::size_t blocks = n < 56 ? 1 : 2;
  const std::uint64_t bits = total * 8;
  for (std::size_t i = 0; i < 8; ++i) last[blocks * 64 - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
  compress_ni(s, last, blocks);
  OPENSSL_cleanse(last, sizeof last);
}

}  // namespace

bool available() noexcept {
  static const bool yes = detect();  // set once, read-only after
  return yes;
}

void compress(state& s, const unsigned char* data, std::size_t blocks) noexcept { compress_ni(s, data, blocks); }

void hmac(const state& inner, const state& outer, std::string_view data, unsigned char* out) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t whole = data.size() / 64;
  state s = inner;
  compress_ni(s, p, whole);
  finish(s, p + whole * 64, data.size() % 64, 64 + std::uint64_t{data.size()});
  alignas(16) unsigned char digest[32];
  store_be(digest, s);
  s = outer;
  finish(s, digest, sizeof digest, 64 + sizeof digest);
  store_be(out, s);
  OPENSSL_cleanse(digest, sizeof digest);
  OPENSSL_cleanse(s.data(), sizeof s);
}

#else

bool available() noexcept { return false; }
void compress(state&, const unsigned char*, std::size_t) noexcept {}
void hmac(const state&, const state&, std::string_view, unsigned char*) noexcept {}

#endif

}  // namespace tokenward::sha256ni
