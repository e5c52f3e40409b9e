// The verify path's JSON: simdjson's DOM parser held to the same rules as parse_json (json.hpp).
// Token headers and claims are parsed here, without building a nlohmann DOM: RFC 8259 with UTF-8
// checked, one value and nothing after it, bounded size and depth, and no duplicate member names
// anywhere. Integers must fit 64 bits (signed or unsigned) and numbers must be finite; parse_json
// refuses the same. cpp/fuzz/fuzz_json.cpp checks that both parsers accept exactly the same texts
// and read the same values from them.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "tokenward/errc.hpp"
#include "tokenward/json.hpp"

namespace tokenward {

// Spare capacity simdjson may read past the end of its input.
inline constexpr std::size_t kJsonPadding = simdjson::SIMDJSON_PADDING;

class json_doc {
 public:
  // Parses `text`. With kJsonPadding bytes of spare capacity past text.size() (as
  // b64::decode(..., kJsonPadding) leaves) it is parsed in place, otherwise from a padded copy.
  // On failure the code is errc::malformed and `what` names the document in the message.
  static result<json_doc> parse(const std::string& text, const json_limits& limits, std::string_view what);

  json_doc(json_doc&&) noexcept = default;
  json_doc& operator=(json_doc&&) noexcept = default;
  json_doc(const json_doc&) = delete;
  json_doc& operator=(const json_doc&) = delete;
  ~json_doc();

  // Valid while this json_doc lives. Strings and names are copies, not views into the input.
  [[nodiscard]] simdjson::dom::element root() const noexcept { return root_; }

 private:
  json_doc(std::unique_ptr<simdjson::dom::parser> parser, simdjson::dom::element root) noexcept
      : parser_(std::move(parser)), root_(root) {}

  // Parsers are reused: each thread keeps one spare (see json_doc.cpp).
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::element root_;
};

// The same value as nlohmann json, for code that needs a DOM it can keep or change.
json to_json(simdjson::dom::element e);

}  // namespace tokenward
