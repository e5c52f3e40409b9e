#include "tokenward/crypto/random.hpp"

#include <openssl/rand.h>

#include <climits>

#include "tokenward/ossl.hpp"

namespace tokenward::crypto {
namespace {

error no_randomness() { return make_error(errc::internal, "the random number generator failed"); }

}  // namespace

status random_fill(unsigned char* out, std::size_t size) {
  if (size == 0) return {};
  if (size > static_cast<std::size_t>(INT_MAX)) return make_error(errc::configuration, "too many random bytes");
  if (RAND_bytes(out, static_cast<int>(size)) != 1) {
    ossl::clear_errors();
    return no_randomness();
  }
  return {};
}

result<std::string> random_bytes(std::size_t size) {
  std::string out(size, '\0');
  TW_TRY(random_fill(reinterpret_cast<unsigned char*>(out.data()), size));
  return out;
}

result<secret_bytes> random_secret(std::size_t size) {
  secret_bytes out(size);
  if (size == 0) return out;
  if (size > static_cast<std::size_t>(INT_MAX)) return make_error(errc::configuration, "too many random bytes");
  if (RAND_priv_bytes(out.data(), static_cast<int>(size)) != 1) {
    ossl::clear_errors();
    return no_randomness();
  }
  return out;
}

}  // namespace tokenward::crypto
