#include "tokenward/base32.hpp"

#include <array>
#include <cstdint>

namespace tokenward::b32 {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

constexpr std::array<std::int8_t, 256> kValues = [] {
  std::array<std::int8_t, 256> v{};
  v.fill(-1);
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) v[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return v;
}();

}  // namespace

std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : bytes) {
    buffer = (buffer << 8U) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kAlphabet[(buffer >> static_cast<unsigned>(bits)) & 0x1FU]);
    }
    buffer &= (1U << static_cast<unsigned>(bits)) - 1U;
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << static_cast<unsigned>(5 - bits)) & 0x1FU]);
  return out;
}

std::optional<secret_bytes> decode(std::string_view text) {
  // A final group of r characters carries 5r bits: r = 2, 4, 5, 7 hold 1, 2, 3, 4 bytes; 1, 3, 6
  // cannot end an encoding.
  const std::size_t rest = text.size() % 8;
  if (rest == 1 || rest == 3 || rest == 6) return std::nullopt;
  secret_bytes out(text.size() * 5 / 8);
  std::uint32_t buffer = 0;
  int bits = 0;
  std::size_t n = 0;
  for (const char c : text) {
    const std::int8_t v = kValues[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;  // `out` wipes what it holds
    buffer = (buffer << 5U) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.data()[n++] = static_cast<unsigned char>(buffer >> static_cast<unsigned>(bits));
      buffer &= (1U << static_cast<unsigned>(bits)) - 1U;
    }
  }
  if (buffer != 0) return std::nullopt;  // unused trailing bits must be zero (canonical form)
  buffer = 0;
  if (n != out.size()) return std::nullopt;
  return out;
}

}  // namespace tokenward::b32
