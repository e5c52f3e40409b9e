#include "tokenward/json.hpp"

#include <string>
#include <vector>

namespace tokenward {
namespace {

// A DOM builder for nlohmann's SAX interface that refuses duplicate names and deep nesting.
class strict_builder final : public nlohmann::json_sax<json> {
 public:
  explicit strict_builder(std::size_t max_depth) : max_depth_(max_depth) {}

  bool null() override { return add(json(nullptr)); }
  bool boolean(bool v) override { return add(json(v)); }
  bool number_integer(number_integer_t v) override { return add(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return add(json(v)); }
  bool number_float(number_float_t v, const string_t& text) override {
    // nlohmann turns an integer too large for 64 bits into a double; we refuse it instead, as the
    // verify path's parser (json_doc.hpp) does, rather than keep an inexact value.
    if (text.find_first_of(".eE") == string_t::npos) return fail("number out of range or malformed");
    return add(json(v));
  }
  bool string(string_t& v) override { return add(json(std::move(v))); }
  bool binary(binary_t&) override { return fail("binary values are not JSON"); }

  bool start_object(std::size_t) override { return open(json::object()); }
  bool key(string_t& k) override {
    json& obj = *stack_.back();
    auto [it, inserted] = obj.get_ref<json::object_t&>().try_emplace(std::move(k));
    if (!inserted) return fail("duplicate member name");
    slot_ = &it->second;
    return true;
  }
  bool end_object() override {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return open(json::array()); }
  bool end_array() override {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return fail("invalid JSON");
  }

  json root;
  const char* problem = nullptr;

 private:
  bool fail(const char* why) {
    if (problem == nullptr) problem = why;
    return false;
  }
  json* place(json&& v) {
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      auto& arr = parent.get_ref<json::array_t&>();
      arr.push_back(std::move(v));
      return &arr.back();
    }
    *slot_ = std::move(v);
    return slot_;
  }
  bool add(json&& v) {
    place(std::move(v));
    return true;
  }
  bool open(json&& container) {
    if (stack_.size() >= max_depth_) return fail("nesting too deep");
    stack_.push_back(place(std::move(container)));
    return true;
  }

  std::size_t max_depth_;
  std::vector<json*> stack_;
  json* slot_ = nullptr;
};

}  // namespace

result<json> parse_json(std::string_view text, const json_limits& limits, std::string_view what) {
  if (text.size() > limits.max_bytes) {
    return make_error(errc::malformed, std::string(what) + " is larger than " +
                                           std::to_string(limits.max_bytes) + " bytes");
  }
  // nlohmann's lexer takes a NUL byte for the end of the input and would ignore what follows it.
  // A raw NUL is never valid JSON (inside strings it must be escaped), so refuse it first.
  if (text.find('\0') != std::string_view::npos) {
    return make_error(errc::malformed, std::string(what) + ": invalid JSON");
  }
  strict_builder builder(limits.max_depth);
  const bool ok = json::sax_parse(text.begin(), text.end(), &builder, json::input_format_t::json, true);
  if (!ok || builder.problem != nullptr) {
    return make_error(errc::malformed, std::string(what) + ": " +
                                           (builder.problem != nullptr ? builder.problem : "invalid JSON"));
  }
  return std::move(builder.root);
}

}  // namespace tokenward
