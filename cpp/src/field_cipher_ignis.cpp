// The Ignis formats: legacy AES-256-CBC with the '0'-padded key, and the v3 envelope (PBKDF2 keys,
// a key id, AES-256-CBC or AES-256-GCM), both in standard base64; and how Ignis writes values.
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdint>
#include <optional>

#include "field_cipher_detail.hpp"
#include "tokenward/crypto/aead.hpp"
#include "tokenward/crypto/kdf.hpp"
#include "tokenward/field_cipher.hpp"

namespace tokenward {
namespace {

using namespace field_cipher_detail;

constexpr std::string_view kIgnisSalt = "ignis-kdf-salt-v1";
constexpr unsigned char kIgnisV3Version = 0x01;
constexpr std::string_view kRoles = "roles";

const unsigned char* bytes_of(std::string_view s) noexcept { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes_of(std::string& s) noexcept { return reinterpret_cast<unsigned char*>(s.data()); }

// Standard base64 (RFC 4648 §4) with padding; decode accepts only the canonical form.
std::string base64_encode(std::string_view bytes) {
  if (bytes.empty()) return {};
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
  const int n = EVP_EncodeBlock(bytes_of(out), bytes_of(bytes), static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  // EVP_DecodeBlock skips surrounding whitespace and ignores padding; check the exact form first.
  if (text.size() % 4 != 0 || text.size() > static_cast<std::size_t>(INT_MAX)) return std::nullopt;
  if (text.empty()) return std::string{};
  std::size_t pad = 0;
  while (pad < 2 && text[text.size() - 1 - pad] == '=') ++pad;
  for (std::size_t i = 0; i < text.size() - pad; ++i) {
    const char c = text[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok) return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(bytes_of(out), bytes_of(text), static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) != out.size()) return std::nullopt;
  out.resize(out.size() - pad);
  // Canonical only: the unused bits before the padding must be zero.
  if (base64_encode(out) != text) return std::nullopt;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Ignis roles: {id, identifier, priority} <-> "id|identifier|priority".

result<std::string> role_to_string(const json& role) {
  const auto bad = [] {
    return make_error(errc::configuration,
                      "in the Ignis formats 'roles' must be a list of {id, identifier, priority} objects "
                      "(priority an integer) or of 'id|identifier|priority' strings");
  };
  if (role.is_string()) {
    const auto& s = role.get_ref<const std::string&>();
    const auto first = s.find('|');
    const auto last = s.rfind('|');
    if (first == std::string::npos || first == last) return bad();
    std::int64_t p = 0;
    const auto* b = s.data() + last + 1;
    const auto* e = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(b, e, p);
    if (b == e || ec != std::errc{} || ptr != e) return bad();
    return s;
  }
  if (!role.is_object() || role.size() != 3) return bad();
  const auto id = role.find("id");
  const auto identifier = role.find("identifier");
  const auto priority = role.find("priority");
  if (id == role.end() || identifier == role.end() || priority == role.end()) return bad();
  std::string out;
  if (id->is_string()) {
    out = id->get<std::string>();
  } else if (id->is_number_integer()) {
    out = id->dump();
  } else {
    return bad();
  }
  if (out.find('|') != std::string::npos) return bad();  // the id ends at the first '|'
  if (!identifier->is_string() || !priority->is_number_integer()) return bad();
  out += '|';
  out += identifier->get_ref<const std::string&>();
  out += '|';
  out += priority->dump();
  return out;
}

// Splits at the first and the last '|', so an identifier may itself contain '|'.
std::optional<json> role_from_string(const std::string& s) {
  const auto first = s.find('|');
  const auto last = s.rfind('|');
  if (first == std::string::npos || first == last) return std::nullopt;
  std::int64_t p = 0;
  const auto* b = s.data() + last + 1;
  const auto* e = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(b, e, p);
  if (b == e || ec != std::errc{} || ptr != e) return std::nullopt;
  json role = json::object();
  role["id"] = s.substr(0, first);
  role["identifier"] = s.substr(first + 1, last - first - 1);
  role["priority"] = p;
  return role;
}

}  // namespace

result<field_cipher> field_cipher::ignis_legacy(std::string_view secret) {
  if (secret.empty()) return make_error(errc::configuration, "the Ignis secret must not be empty");
  key_entry e{{}, secret_bytes(kKeyBytes)};
  std::fill_n(e.key.data(), kKeyBytes, static_cast<unsigned char>('0'));
  std::copy_n(secret.begin(), std::min(secret.size(), kKeyBytes), e.key.data());
  std::vector<key_entry> ring;
  ring.push_back(std::move(e));
  return field_cipher(scheme::ignis_legacy, std::move(ring), 0);
}

result<field_cipher> field_cipher::ignis_v3(const secrets& keys, std::string_view primary, bool gcm) {
  TW_TRY(check_ring(keys, primary));
  std::vector<key_entry> ring;
  ring.reserve(keys.size());
  for (const auto& [id, secret] : keys) {
    if (secret.empty()) return make_error(errc::configuration, "Ignis secrets must not be empty");
    auto k = crypto::pbkdf2_sha256(secret, kIgnisSalt, kIgnisPbkdf2Iterations, kKeyBytes);
    if (!k) return k.err();
    ring.push_back(key_entry{id, std::move(*k)});
  }
  return field_cipher(gcm ? scheme::ignis_v3_gcm : scheme::ignis_v3_cbc, std::move(ring), index_of(keys, primary));
}

result<std::string> field_cipher::seal_ignis(const key_entry& k, std::string_view iv,
                                             std::string_view plaintext) const {
  if (scheme_ == scheme::ignis_legacy) {
    auto ct = crypto::aes_cbc_encrypt(key_of(k), iv, plaintext);
    if (!ct) return ct.err();
    std::string body(iv);
    body += *ct;
    return base64_encode(body);
  }
  std::string body(1, static_cast<char>(kIgnisV3Version));
  body += static_cast<char>(k.id.size());
  body += k.id;
  body += iv;
  if (scheme_ == scheme::ignis_v3_cbc) {
    auto ct = crypto::aes_cbc_encrypt(key_of(k), iv, plaintext);
    if (!ct) return ct.err();
    body += *ct;
  } else {
    auto sealed = crypto::aes_gcm_encrypt(key_of(k), iv, {}, plaintext);
    if (!sealed) return sealed.err();
    const std::string_view s(*sealed);
    body += s.substr(s.size() - kTagBytes);  // Ignis puts the tag before the ciphertext
    body += s.substr(0, s.size() - kTagBytes);
  }
  return base64_encode(body);
}

result<std::string> field_cipher::open_ignis(std::string_view ciphertext) const {
  if (scheme_ == scheme::ignis_legacy) {
    auto raw = base64_decode(ciphertext);
    if (!raw || raw->size() < kIgnisIvBytes + kBlockBytes || raw->size() % kBlockBytes != 0) return decrypt_failed();
    const std::string_view body(*raw);
    auto pt = crypto::aes_cbc_decrypt(key_of(keys_.front()), body.substr(0, kIgnisIvBytes), body.substr(kIgnisIvBytes));
    if (!pt) return decrypt_failed();
    return pt;
  }
  auto raw = base64_decode(ciphertext);
  if (!raw || raw->size() < 2) return decrypt_failed();
  const std::string_view body(*raw);
  if (static_cast<unsigned char>(body[0]) != kIgnisV3Version) return decrypt_failed();
  const std::size_t id_len = static_cast<unsigned char>(body[1]);
  if (id_len == 0 || body.size() < 2 + id_len + kIgnisIvBytes) return decrypt_failed();
  const key_entry* k = find(body.substr(2, id_len));
  if (k == nullptr) return decrypt_failed();
  const std::string_view key = key_of(*k);
  const std::string_view iv = body.substr(2 + id_len, kIgnisIvBytes);
  const std::string_view rest = body.substr(2 + id_len + kIgnisIvBytes);
  result<std::string> pt = [&]() -> result<std::string> {
    if (scheme_ == scheme::ignis_v3_cbc) return crypto::aes_cbc_decrypt(key, iv, rest);
    if (rest.size() < kTagBytes) return decrypt_failed();
    return crypto::aes_gcm_decrypt(key, iv, {}, rest.substr(kTagBytes), rest.substr(0, kTagBytes));
  }();
  if (!pt) return decrypt_failed();
  return pt;
}

// Ignis writes every value as its string form, and the roles as JSON of "id|identifier|priority".
result<std::string> field_cipher::ignis_value_plaintext(const std::string& name, const json& value) {
  if (name != kRoles) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_boolean()) return std::string(value.get<bool>() ? "true" : "false");
    return compact(value);  // numbers as JSON numbers, arrays and objects as compact JSON
  }
  if (!value.is_array()) {
    return make_error(errc::configuration, "in the Ignis formats 'roles' must be a list");
  }
  json strings = json::array();
  for (const auto& role : value) {
    auto s = role_to_string(role);
    if (!s) return s.err();
    strings.push_back(std::move(*s));
  }
  return compact(strings);
}

result<json> field_cipher::ignis_value_from_plaintext(const std::string& name, std::string&& plaintext) {
  if (!valid_utf8(plaintext)) return decrypt_failed();
  if (name != kRoles) return json(std::move(plaintext));
  auto strings = parse_json(plaintext, json_limits{plaintext.size(), 2}, "roles");
  if (!strings || !strings->is_array()) return decrypt_failed();
  json roles = json::array();
  for (const auto& s : *strings) {
    if (!s.is_string()) return decrypt_failed();
    auto role = role_from_string(s.get_ref<const std::string&>());
    if (!role) return decrypt_failed();
    roles.push_back(std::move(*role));
  }
  return roles;
}

}  // namespace tokenward
