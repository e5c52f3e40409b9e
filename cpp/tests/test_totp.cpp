// Known answers of the C++ one-time-password core, with no Python in between: every row of
// RFC 6238 Appendix B (with the errata's per-hash seeds), RFC 4226 Appendix D (codes and the
// dynamic truncation values), the window's edges, bounds, base32 (RFC 4648 §10) and recovery-code
// normalisation. tests/test_totp_native.py compiles and runs it; exit code 0 when all pass.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "tokenward/base32.hpp"
#include "tokenward/recovery_codes.hpp"
#include "tokenward/totp.hpp"

namespace {

using tokenward::errc;
using tokenward::otp::mac_digest;

int failures = 0;
int checks = 0;

void check(bool ok, const std::string& what) {
  ++checks;
  if (!ok) {
    ++failures;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

struct totp_row {
  std::int64_t at;
  const char* code;
  mac_digest digest;
};

constexpr std::string_view kSeed20 = "12345678901234567890";
constexpr std::string_view kSeed32 = "12345678901234567890123456789012";
constexpr std::string_view kSeed64 = "1234567890123456789012345678901234567890123456789012345678901234";

std::string_view seed_for(mac_digest d) {
  switch (d) {
    case mac_digest::sha1: return kSeed20;
    case mac_digest::sha256: return kSeed32;
    case mac_digest::sha512: return kSeed64;
  }
  return kSeed20;
}

}  // namespace

int main() {
  namespace otp = tokenward::otp;

  const totp_row rfc6238[] = {
      {59, "94287082", mac_digest::sha1},          {59, "46119246", mac_digest::sha256},
      {59, "90693936", mac_digest::sha512},        {1111111109, "07081804", mac_digest::sha1},
      {1111111109, "68084774", mac_digest::sha256}, {1111111109, "25091201", mac_digest::sha512},
      {1111111111, "14050471", mac_digest::sha1},  {1111111111, "67062674", mac_digest::sha256},
      {1111111111, "99943326", mac_digest::sha512}, {1234567890, "89005924", mac_digest::sha1},
      {1234567890, "91819424", mac_digest::sha256}, {1234567890, "93441116", mac_digest::sha512},
      {2000000000, "69279037", mac_digest::sha1},  {2000000000, "90698825", mac_digest::sha256},
      {2000000000, "38618901", mac_digest::sha512}, {20000000000, "65353130", mac_digest::sha1},
      {20000000000, "77737706", mac_digest::sha256}, {20000000000, "47863826", mac_digest::sha512},
  };
  for (const auto& row : rfc6238) {
    const std::string label = "RFC 6238 " + std::to_string(row.at) + " " + std::string(otp::digest_name(row.digest));
    auto code = otp::totp_code(seed_for(row.digest), row.at, 30, row.digest, 8);
    check(code && *code == row.code, label);
    auto step = otp::totp_verify(seed_for(row.digest), row.code, row.at, 30, row.digest, 8, 1);
    check(step && *step && **step == static_cast<std::uint64_t>(row.at / 30), label + " verify");
  }

  const std::uint32_t truncations[] = {1284755224, 1094287082, 137359152, 1726969429, 1640338314,
                                       868254676,  1918287922, 82162583,  673399871,  645520489};
  const char* hotp[] = {"755224", "287082", "359152", "969429", "338314",
                        "254676", "287922", "162583", "399871", "520489"};
  auto key = otp::otp_key::create(kSeed20, mac_digest::sha1, 6);
  check(key.ok(), "RFC 4226 key");
  if (!key) return 1;
  for (std::uint64_t c = 0; c < 10; ++c) {
    auto t = key->truncated(c);
    check(t && *t == truncations[c], "RFC 4226 truncation " + std::to_string(c));
    auto code = key->code(c);
    check(code && *code == hotp[c], "RFC 4226 code " + std::to_string(c));
  }

  // The window: ±1 step by default, clipped at step 0; malformed codes are no match, not errors.
  const std::string c5 = *key->code(5);
  for (std::uint64_t step = 3; step <= 7; ++step) {
    auto r = key->verify(c5, step, 1);
    const bool expected = step >= 4 && step <= 6;
    check(r && r->has_value() == expected && (!expected || **r == 5), "window at step " + std::to_string(step));
  }
  check(*key->verify(*key->code(1), 0, 1) == std::optional<std::uint64_t>{1}, "window clipped at 0");
  check(!key->verify(*key->code(2), 0, 1)->has_value(), "window clipped at 0, two steps ahead");
  check(*key->verify(*key->code(UINT64_MAX), UINT64_MAX, 1) == std::optional<std::uint64_t>{UINT64_MAX}, "window clipped at the top");
  for (std::string_view bad : {"", "75522", "7552244", "75522a", " 75522", "755224\n"}) {
    auto r = key->verify(bad, 0, 1);
    check(r && !r->has_value(), "malformed code '" + std::string(bad) + "'");
  }
  check(key->verify("755224", 0, -1).err().code == errc::configuration, "negative window");
  check(key->verify("755224", 0, otp::kMaxWindow + 1).err().code == errc::configuration, "window too wide");

  // Bounds.
  check(otp::otp_key::create(std::string(15, 'k'), mac_digest::sha1, 6).err().code == errc::invalid_key, "15-byte secret");
  check(otp::otp_key::create(std::string(65, 'k'), mac_digest::sha1, 6).err().code == errc::invalid_key, "65-byte secret");
  check(otp::otp_key::create(std::string(16, 'k'), mac_digest::sha1, 6).ok(), "16-byte secret");
  check(otp::otp_key::create(std::string(64, 'k'), mac_digest::sha512, 8).ok(), "64-byte secret");
  check(otp::otp_key::create(kSeed20, mac_digest::sha1, 5).err().code == errc::configuration, "5 digits");
  check(otp::otp_key::create(kSeed20, mac_digest::sha1, 9).err().code == errc::configuration, "9 digits");
  check(otp::time_step(59, 0).err().code == errc::configuration, "period 0");
  check(otp::time_step(-1, 30).err().code == errc::configuration, "negative time");
  check(otp::digest_from_name("sha1").err().code == errc::configuration, "lower-case algorithm name");
  check(otp::digest_from_name("SHA384").err().code == errc::configuration, "SHA384");
  check(otp::new_secret()->size() == 20, "new secret of 160 bits");
  check(otp::new_secret(15).err().code == errc::invalid_key, "new secret too short");

  // Base32: RFC 4648 §10, and strictness.
  const std::pair<std::string_view, std::string_view> b32[] = {
      {"", ""}, {"f", "MY"}, {"fo", "MZXQ"}, {"foo", "MZXW6"}, {"foob", "MZXW6YQ"}, {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI"}};
  for (const auto& [plain, text] : b32) {
    check(tokenward::b32::encode(plain) == text, "base32 encode '" + std::string(plain) + "'");
    auto d = tokenward::b32::decode(text);
    check(d && d->view() == plain, "base32 decode '" + std::string(text) + "'");
  }
  for (std::string_view bad : {"MY======", "my", "M", "MZX", "MZXW6Y", "MZ", "MZXW0", "MZ XW"}) {
    check(!tokenward::b32::decode(bad), "base32 refuses '" + std::string(bad) + "'");
  }

  // Recovery codes.
  using tokenward::recovery_code_hasher;
  check(recovery_code_hasher::normalize("abcd efgh-2345-67xy") == std::optional<std::string>{"ABCDEFGH234567XY"}, "normalise");
  check(!recovery_code_hasher::normalize("ABCD-EFGH-2345-67X0"), "normalise refuses 0");
  auto codes = recovery_code_hasher::new_codes(10);
  check(codes && codes->size() == 10 && (*codes)[0].size() == 19 && (*codes)[0][4] == '-', "new codes");
  auto hasher = recovery_code_hasher::create(std::string(32, 'h'));
  check(hasher.ok(), "hasher");
  if (hasher && codes) {
    std::vector<std::string> hashes;
    for (const auto& c : *codes) hashes.push_back(*hasher->hash(c));
    check(*hasher->find((*codes)[7], hashes) == std::optional<std::size_t>{7}, "find");
    check(!hasher->find("AAAA-AAAA-AAAA-AAAA", hashes)->has_value(), "find nothing");
  }

  std::printf("%d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
