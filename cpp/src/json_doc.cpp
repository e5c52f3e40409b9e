#include "tokenward/json_doc.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace tokenward {
namespace dom = simdjson::dom;

namespace {

// A parser keeps the buffers of the largest document it has seen. One spare per thread is kept for
// reuse, and only while its buffers stay small; a parser that grew past this is freed after use.
constexpr std::size_t kKeepCapacity = 64 * 1024;

thread_local std::unique_ptr<dom::parser> t_spare;

std::unique_ptr<dom::parser> take_parser() {
  if (t_spare) return std::move(t_spare);
  return std::make_unique<dom::parser>();
}

void give_back(std::unique_ptr<dom::parser>& parser) noexcept {
  if (parser && !t_spare && parser->capacity() <= kKeepCapacity) t_spare = std::move(parser);
}

const char* describe(simdjson::error_code code) {
  switch (code) {
    case simdjson::DEPTH_ERROR: return "nesting too deep";
    case simdjson::UTF8_ERROR: return "invalid UTF-8";
    case simdjson::NUMBER_ERROR: return "number out of range or malformed";
    case simdjson::STRING_ERROR:
    case simdjson::UNESCAPED_CHARS: return "malformed string";
    case simdjson::MEMALLOC: return "out of memory";
    default: return "invalid JSON";
  }
}

// The walk after simdjson's parse: duplicate names, and the depth in parse_json's terms (the number
// of nested containers; simdjson's own limit counts differently around empty containers, so it is
// set one higher and the exact bound is applied here).
class checker {
 public:
  explicit checker(std::size_t max_depth) : max_depth_(max_depth) {}
  const char* problem = nullptr;

  bool ok(dom::element e, std::size_t depth) {
    switch (e.type()) {
      case dom::element_type::OBJECT: {
        dom::object obj;
        if (!enter(depth) || e.get(obj) != simdjson::SUCCESS) return fail("nesting too deep");
        return object_ok(obj, depth + 1);
      }
      case dom::element_type::ARRAY: {
        dom::array items;
        if (!enter(depth) || e.get(items) != simdjson::SUCCESS) return fail("nesting too deep");
        for (const auto item : items) {
          if (!ok(item, depth + 1)) return false;
        }
        return true;
      }
      default: return true;
    }
  }

 private:
  // Names of one object are compared pairwise while few (the usual case) and sorted when many.
  static constexpr std::size_t kPairwise = 24;

  [[nodiscard]] bool enter(std::size_t depth) const { return depth < max_depth_; }
  bool fail(const char* why) {
    problem = why;
    return false;
  }

  // The length and the first seven bytes of a name: names that differ there differ, and names of
  // at most seven bytes are equal exactly when their prints are.
  static std::uint64_t print(std::string_view name) noexcept {
    std::uint64_t p = static_cast<std::uint64_t>(name.size() & 0xFF) << 56;
    const std::size_t n = name.size() < 7 ? name.size() : 7;
    for (std::size_t i = 0; i < n; ++i) p |= static_cast<std::uint64_t>(static_cast<unsigned char>(name[i])) << (8 * i);
    return p;
  }

  bool object_ok(dom::object obj, std::size_t depth) {
    std::array<std::string_view, kPairwise> few{};
    std::array<std::uint64_t, kPairwise> prints{};
    std::size_t count = 0;
    std::vector<std::string_view> many;
    for (const auto field : obj) {
      const std::string_view name = field.key;
      if (count < kPairwise) {
        const std::uint64_t p = print(name);
        for (std::size_t i = 0; i < count; ++i) {
          if (prints[i] == p && (name.size() <= 7 || few[i] == name)) return fail("duplicate member name");
        }
        prints[count] = p;
        few[count++] = name;
      } else {
        if (many.empty()) many.assign(few.begin(), few.end());
        many.push_back(name);
      }
      if (!ok(field.value, depth)) return false;
    }
    if (many.empty()) return true;
    std::sort(many.begin(), many.end());
    if (std::adjacent_find(many.begin(), many.end()) != many.end()) return fail("duplicate member name");
    return true;
  }

  std::size_t max_depth_;
};

}  // namespace

json_doc::~json_doc() { give_back(parser_); }

result<json_doc> json_doc::parse(const std::string& text, const json_limits& limits, std::string_view what) {
  auto fail = [&](const char* why) {
    return make_error(errc::malformed, std::string(what) + ": " + why);
  };
  if (text.size() > limits.max_bytes) {
    return make_error(errc::malformed, std::string(what) + " is larger than " + std::to_string(limits.max_bytes) +
                                           " bytes");
  }
  auto parser = take_parser();
  const std::size_t capacity = std::max<std::size_t>(text.size(), 1024);
  // One more than parse_json's bound; checker applies the exact one.
  const std::size_t depth = limits.max_depth + 1;
  if (parser->capacity() < text.size() || parser->max_depth() != depth) {
    if (parser->allocate(std::max(capacity, parser->capacity()), depth) != simdjson::SUCCESS) {
      return fail("out of memory");
    }
  }
  dom::element root;
  simdjson::error_code code = simdjson::SUCCESS;
  if (text.capacity() - text.size() >= kJsonPadding) {
    code = parser->parse(simdjson::padded_string_view(text.data(), text.size(), text.capacity()))
               .get(root);
  } else {
    code = parser->parse(text.data(), text.size(), true).get(root);
  }
  checker check(limits.max_depth);
  const char* problem = code != simdjson::SUCCESS ? describe(code)
                        : !check.ok(root, 0)       ? check.problem
                                                   : nullptr;
  if (problem != nullptr) {
    give_back(parser);
    return fail(problem);
  }
  return json_doc(std::move(parser), root);
}

json to_json(dom::element e) {
  switch (e.type()) {
    case dom::element_type::OBJECT: {
      json out = json::object();
      dom::object obj;
      if (e.get(obj) != simdjson::SUCCESS) return out;
      for (const auto field : obj) out[std::string(field.key)] = to_json(field.value);
      return out;
    }
    case dom::element_type::ARRAY: {
      json out = json::array();
      dom::array items;
      if (e.get(items) != simdjson::SUCCESS) return out;
      for (const auto item : items) out.push_back(to_json(item));
      return out;
    }
    case dom::element_type::STRING: return std::string(e.get_string().value_unsafe());
    case dom::element_type::INT64: return e.get_int64().value_unsafe();
    case dom::element_type::UINT64: return e.get_uint64().value_unsafe();
    case dom::element_type::DOUBLE: return e.get_double().value_unsafe();
    case dom::element_type::BOOL: return e.get_bool().value_unsafe();
    case dom::element_type::NULL_VALUE: break;
  }
  return nullptr;
}

}  // namespace tokenward
