#include "tokenward/base64url.hpp"

#include <array>

namespace tokenward::b64 {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> make_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr auto kTable = make_table();

}  // namespace

void encode_append(std::string& out, std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  out.reserve(out.size() + (n * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (n - i == 1) {
    std::uint32_t v = std::uint32_t{p[i]} << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (n - i == 2) {
    std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
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

// Decodes `text` into `o`, which has room for decoded_size(text) bytes; false if not canonical.
bool decode_into(std::string_view text, unsigned char* o) noexcept {
  const std::size_t n = text.size();
  const std::size_t rem = n % 4;
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  // Whole quads: any invalid character makes the OR of the table values negative.
  for (; i + 4 <= n; i += 4) {
    const int a = kTable[in[i]], b = kTable[in[i + 1]], c = kTable[in[i + 2]], d = kTable[in[i + 3]];
    if ((a | b | c | d) < 0) return false;
    const auto v = (static_cast<std::uint32_t>(a) << 18) | (static_cast<std::uint32_t>(b) << 12) |
                   (static_cast<std::uint32_t>(c) << 6) | static_cast<std::uint32_t>(d);
    *o++ = static_cast<unsigned char>(v >> 16);
    *o++ = static_cast<unsigned char>(v >> 8);
    *o++ = static_cast<unsigned char>(v);
  }
  if (rem == 2) {
    const int a = kTable[in[i]], b = kTable[in[i + 1]];
    if ((a | b) < 0 || (b & 0x0F) != 0) return false;  // unused low bits must be zero
    *o = static_cast<unsigned char>((a << 2) | (b >> 4));
  } else if (rem == 3) {
    const int a = kTable[in[i]], b = kTable[in[i + 1]], c = kTable[in[i + 2]];
    if ((a | b | c) < 0 || (c & 0x03) != 0) return false;
    o[0] = static_cast<unsigned char>((a << 2) | (b >> 4));
    o[1] = static_cast<unsigned char>(((b & 0x0F) << 4) | (c >> 2));
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
