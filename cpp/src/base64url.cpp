#include "tokenward/base64url.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define TOKENWARD_B64_AVX2 1
#endif

namespace tokenward::b64 {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Decoding: one 256-entry table per position in a quad, each holding the character's six bits
// already shifted to their place in the 24-bit group, so a quad is four loads and three ORs.
// A character outside the alphabet has kBad, whose top byte survives the ORs and is tested once.
constexpr std::uint32_t kBad = 0xFF000000U;

constexpr std::array<std::uint32_t, 256> make_table(unsigned shift) {
  std::array<std::uint32_t, 256> t{};
  for (auto& v : t) v = kBad;
  for (std::uint32_t i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = i << shift;
  return t;
}
constexpr auto kQuad0 = make_table(18);
constexpr auto kQuad1 = make_table(12);
constexpr auto kQuad2 = make_table(6);
constexpr auto kQuad3 = make_table(0);

// Encoding: 12 bits to two characters at once (a 4096-entry table of character pairs).
constexpr std::array<std::array<char, 2>, 4096> make_pairs() {
  std::array<std::array<char, 2>, 4096> t{};
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = {kAlphabet[i >> 6], kAlphabet[i & 63]};
  return t;
}
constexpr auto kPairs = make_pairs();

}  // namespace

void encode_append(std::string& out, std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  const std::size_t start = out.size();
  out.resize(start + (n * 4 + 2) / 3);
  char* o = out.data() + start;
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
    std::memcpy(o, kPairs[v >> 12].data(), 2);
    std::memcpy(o + 2, kPairs[v & 0xFFF].data(), 2);
    o += 4;
  }
  if (n - i == 1) {
    const std::uint32_t v = std::uint32_t{p[i]} << 16;
    std::memcpy(o, kPairs[v >> 12].data(), 2);
  } else if (n - i == 2) {
    const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8);
    std::memcpy(o, kPairs[v >> 12].data(), 2);
    o[2] = kAlphabet[(v >> 6) & 63];
  }
}

std::string encode(std::string_view bytes) {
  std::string out;
  encode_append(out, bytes);
  return out;
}

namespace {

// The decoded size of `text`, or nullopt for a length no canonical encoding has.
std::optional<std::size_t> decoded_size(std::string_view text) noexcept {
  const std::size_t rem = text.size() % 4;
  if (rem == 1) return std::nullopt;
  return text.size() / 4 * 3 + (rem == 0 ? 0 : rem - 1);
}

std::uint32_t quad(const unsigned char* in) noexcept {
  return kQuad0[in[0]] | kQuad1[in[1]] | kQuad2[in[2]] | kQuad3[in[3]];
}

#ifdef TOKENWARD_B64_AVX2
// 32 characters (8 quads) to 24 bytes per step with AVX2, for as many whole steps as `in` holds
// before `whole`; returns how many characters it took (a multiple of 32), or SIZE_MAX when a
// character is outside the alphabet.
//
// Each byte is split into nibbles. Validity: the high nibble picks a class bit (kHiClass), the low
// nibble the set of classes in which it is NOT a character of the alphabet (kLoInvalid); a byte is
// valid when the two share no bit. Classes: 0x01 high nibbles 0, 1, 8-F (nothing valid; 8-F
// also because a byte of 0x80 and above never is), 0x02 '-' (2D), 0x04 digits (30-39), 0x08
// 'A'-'O' and 'a'-'o' (41-4F, 61-6F), 0x10 'P'-'Z' and '_' (50-5A, 5F), 0x20 'p'-'z' (70-7A).
// The six bits are then the byte plus an offset chosen by the high nibble, '_' (the only
// character of its high nibble with another offset) taking slot 0. Packing: the standard
// multiply-add pairs 4 x 6 bits into 3 bytes per 32-bit lane, a shuffle puts them in order.
__attribute__((target("avx2"))) std::size_t decode_avx2(const unsigned char* in, std::size_t whole,
                                                        unsigned char* o) noexcept {
  const __m256i lo_invalid = _mm256_broadcastsi128_si256(_mm_setr_epi8(  //
      0x0B, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x07, 0x37, 0x37, 0x35, 0x37, 0x27));
  const __m256i hi_class = _mm256_broadcastsi128_si256(_mm_setr_epi8(  //
      0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x08, 0x20, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01));
  const __m256i roll = _mm256_broadcastsi128_si256(_mm_setr_epi8(  //
      -32, 0, 17, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0));
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  const __m256i under = _mm256_set1_epi8(0x5F);
  const __m256i pair = _mm256_set1_epi32(0x01400140), quad = _mm256_set1_epi32(0x00011000);
  const __m256i order = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,  //
                                         2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
  std::size_t i = 0;
  for (; i + 32 <= whole; i += 32) {
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i));
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi32(c, 4), nibble);
    const __m256i lo = _mm256_and_si256(c, nibble);
    if (!_mm256_testz_si256(_mm256_shuffle_epi8(lo_invalid, lo), _mm256_shuffle_epi8(hi_class, hi))) return SIZE_MAX;
    const __m256i slot = _mm256_andnot_si256(_mm256_cmpeq_epi8(c, under), hi);
    const __m256i six = _mm256_add_epi8(c, _mm256_shuffle_epi8(roll, slot));
    const __m256i twelve = _mm256_maddubs_epi16(six, pair);   // a << 6 | b per 16 bits
    const __m256i twenty4 = _mm256_madd_epi16(twelve, quad);  // ab << 12 | cd per 32 bits
    const __m256i packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(twenty4, order), lanes);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o), _mm256_castsi256_si128(packed));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(o + 16), _mm256_extracti128_si256(packed, 1));
    o += 24;
  }
  return i;
}

bool have_avx2() noexcept {
  static const bool yes = __builtin_cpu_supports("avx2") != 0;  // set once, read-only after
  return yes;
}
#endif

// Decodes `text` into `o`, which has room for decoded_size(text) bytes; false if not canonical.
bool decode_into(std::string_view text, unsigned char* o) noexcept {
  const std::size_t n = text.size();
  const std::size_t whole = n / 4 * 4;
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
#ifdef TOKENWARD_B64_AVX2
  if (whole >= 32 && have_avx2()) {
    i = decode_avx2(in, whole, o);
    if (i == SIZE_MAX) return false;
    o += i / 4 * 3;
  }
#endif
  // All quads but the last: each writes four bytes (the fourth is overwritten by the next quad).
  for (; i + 4 < whole; i += 4) {
    const std::uint32_t v = quad(in + i);
    if (v & kBad) return false;
    const std::uint32_t be = __builtin_bswap32(v << 8);
    std::memcpy(o, &be, 4);
    o += 3;
  }
  if (i < whole) {  // the last whole quad: exactly three bytes
    const std::uint32_t v = quad(in + i);
    if (v & kBad) return false;
    o[0] = static_cast<unsigned char>(v >> 16);
    o[1] = static_cast<unsigned char>(v >> 8);
    o[2] = static_cast<unsigned char>(v);
    o += 3;
    i += 4;
  }
  const std::size_t rem = n - i;
  if (rem == 2) {
    const std::uint32_t v = kQuad0[in[i]] | kQuad1[in[i + 1]];
    if ((v & kBad) != 0 || (v & 0xFFFFU) != 0) return false;  // unused low bits must be zero
    o[0] = static_cast<unsigned char>(v >> 16);
  } else if (rem == 3) {
    const std::uint32_t v = kQuad0[in[i]] | kQuad1[in[i + 1]] | kQuad2[in[i + 2]];
    if ((v & kBad) != 0 || (v & 0xFFU) != 0) return false;
    o[0] = static_cast<unsigned char>(v >> 16);
    o[1] = static_cast<unsigned char>(v >> 8);
  }
  return true;
}

}  // namespace

std::optional<std::string> decode(std::string_view text, std::size_t spare) {
  const auto size = decoded_size(text);
  if (!size) return std::nullopt;
  std::string out;
  out.reserve(*size + spare);
  out.resize(*size);
  if (!decode_into(text, reinterpret_cast<unsigned char*>(out.data()))) return std::nullopt;
  return out;
}

std::optional<secret_bytes> decode_secret(std::string_view text) {
  const auto size = decoded_size(text);
  if (!size) return std::nullopt;
  secret_bytes out(*size);
  if (*size != 0 && !decode_into(text, out.data())) return std::nullopt;  // `out` wipes itself
  return out;
}

}  // namespace tokenward::b64
