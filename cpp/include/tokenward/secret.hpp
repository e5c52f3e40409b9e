// Secret bytes that wipe themselves: HMAC keys, derived keys, private key components, API-key
// hashing keys. The bytes live in one heap buffer that OPENSSL_cleanse overwrites when the owner
// lets go (destruction, move-assignment over it, shrink), so an early return never leaves a copy
// behind. Moving hands the buffer over: nothing is copied, the source is left empty.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace tokenward {

class secret_bytes {
 public:
  secret_bytes() noexcept = default;
  // `size` zero bytes, to be filled through data().
  explicit secret_bytes(std::size_t size);
  // A copy of `bytes` (the caller wipes its own copy if it has to).
  explicit secret_bytes(std::string_view bytes);
  secret_bytes(secret_bytes&& other) noexcept;
  secret_bytes& operator=(secret_bytes&& other) noexcept;
  secret_bytes(const secret_bytes&) = delete;
  secret_bytes& operator=(const secret_bytes&) = delete;
  ~secret_bytes();

  [[nodiscard]] std::string_view view() const noexcept {
    return {reinterpret_cast<const char*>(bytes_.get()), size_};
  }
  [[nodiscard]] unsigned char* data() noexcept { return bytes_.get(); }
  [[nodiscard]] const unsigned char* data() const noexcept { return bytes_.get(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  // Keeps the first `size` bytes (at most size()) and wipes the rest.
  void shrink(std::size_t size) noexcept;
  // Wipes and releases the bytes now.
  void clear() noexcept;

 private:
  std::unique_ptr<unsigned char[]> bytes_;
  std::size_t size_ = 0;
};

}  // namespace tokenward
