#include "tokenward/secret.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <utility>

namespace tokenward {

secret_bytes::secret_bytes(std::size_t size)
    : bytes_(size == 0 ? nullptr : std::make_unique<unsigned char[]>(size)), size_(size) {}

secret_bytes::secret_bytes(std::string_view bytes) : secret_bytes(bytes.size()) {
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(bytes_.get()));
}

secret_bytes::secret_bytes(secret_bytes&& other) noexcept
    : bytes_(std::move(other.bytes_)), size_(std::exchange(other.size_, 0)) {}

secret_bytes& secret_bytes::operator=(secret_bytes&& other) noexcept {
  if (this != &other) {
    clear();
    bytes_ = std::move(other.bytes_);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

secret_bytes::~secret_bytes() { clear(); }

void secret_bytes::shrink(std::size_t size) noexcept {
  if (size >= size_) return;
  OPENSSL_cleanse(bytes_.get() + size, size_ - size);
  size_ = size;
}

void secret_bytes::clear() noexcept {
  if (bytes_) OPENSSL_cleanse(bytes_.get(), size_);
  bytes_.reset();
  size_ = 0;
}

}  // namespace tokenward
