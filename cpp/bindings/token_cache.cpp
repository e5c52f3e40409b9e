#include "token_cache.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

#include "tokenward/algorithms.hpp"
#include "tokenward/ossl.hpp"

namespace tokenward::bindings {
namespace {

// The compact form of claims: a value is one tag byte and what it needs.
//   none, true, false    the tag alone
//   int, uint, float     8 bytes (int64, uint64, double, native byte order)
//   str                  a u32 byte count and the UTF-8 bytes
//   list                 a u32 count and the items
//   dict                 a u32 count and (name, value) pairs; a name is a u16 index into the
//                        cache's name table, or kInlineName, a u32 byte count and the UTF-8 bytes
// JSON values are all claims can hold (the dict came from verified JSON, or a field cipher's
// decryption of it); anything else makes put() keep nothing.
enum tag : unsigned char { t_none, t_true, t_false, t_int, t_uint, t_float, t_str, t_list, t_dict };
constexpr std::uint16_t kInlineName = 0xFFFF;

template <class T>
void put_raw(std::string& out, T v) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));
  out.append(bytes, sizeof(T));
}

template <class T>
T get_raw(const char*& p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  p += sizeof(T);
  return v;
}

bool put_text(std::string& out, PyObject* s) {
  Py_ssize_t size = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(s, &size);
  if (utf8 == nullptr || size > std::numeric_limits<std::uint32_t>::max()) {
    PyErr_Clear();
    return false;
  }
  put_raw(out, static_cast<std::uint32_t>(size));
  out.append(utf8, static_cast<std::size_t>(size));
  return true;
}

// Writes the compact form of claims; names go through `name_id` (a u16 or kInlineName).
template <class NameId>
bool encode(std::string& out, PyObject* v, NameId& name_id) {
  if (v == Py_None) {
    out.push_back(static_cast<char>(t_none));
  } else if (v == Py_True || v == Py_False) {
    out.push_back(static_cast<char>(v == Py_True ? t_true : t_false));
  } else if (PyLong_CheckExact(v)) {
    int overflow = 0;
    const long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow == 0 && !(n == -1 && PyErr_Occurred())) {
      out.push_back(static_cast<char>(t_int));
      put_raw(out, static_cast<std::int64_t>(n));
    } else {
      PyErr_Clear();
      const unsigned long long u = PyLong_AsUnsignedLongLong(v);
      if (u == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
        PyErr_Clear();
        return false;
      }
      out.push_back(static_cast<char>(t_uint));
      put_raw(out, static_cast<std::uint64_t>(u));
    }
  } else if (PyFloat_CheckExact(v)) {
    out.push_back(static_cast<char>(t_float));
    put_raw(out, PyFloat_AS_DOUBLE(v));
  } else if (PyUnicode_CheckExact(v)) {
    out.push_back(static_cast<char>(t_str));
    return put_text(out, v);
  } else if (PyList_CheckExact(v)) {
    out.push_back(static_cast<char>(t_list));
    const Py_ssize_t n = PyList_GET_SIZE(v);
    put_raw(out, static_cast<std::uint32_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
      if (!encode(out, PyList_GET_ITEM(v, i), name_id)) return false;
    }
  } else if (PyDict_CheckExact(v)) {
    out.push_back(static_cast<char>(t_dict));
    put_raw(out, static_cast<std::uint32_t>(PyDict_GET_SIZE(v)));
    PyObject* k = nullptr;
    PyObject* item = nullptr;
    Py_ssize_t pos = 0;
    while (PyDict_Next(v, &pos, &k, &item)) {
      if (!PyUnicode_CheckExact(k)) return false;
      const std::uint16_t id = name_id(k);
      put_raw(out, id);
      if (id == kInlineName && !put_text(out, k)) return false;
      if (!encode(out, item, name_id)) return false;
    }
  } else {
    return false;
  }
  return true;
}

py::object text_at(const char*& p) {
  const auto size = get_raw<std::uint32_t>(p);
  const bool ascii = std::all_of(p, p + size, [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  PyObject* s = nullptr;
  if (ascii) {  // most claims: the str is made at its final size and filled, no decoding
    s = PyUnicode_New(static_cast<Py_ssize_t>(size), 0x7F);
    if (s != nullptr) std::memcpy(PyUnicode_DATA(s), p, size);
  } else {
    s = PyUnicode_DecodeUTF8(p, static_cast<Py_ssize_t>(size), "strict");
  }
  p += size;
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(s);
}

// Builds fresh objects from the compact form (written by encode(), so trusted to be well formed).
py::object decode(const char*& p, const token_cache::name_table& names) {
  switch (static_cast<tag>(*p++)) {
    case t_none:
      return py::none();
    case t_true:
      return py::bool_(true);
    case t_false:
      return py::bool_(false);
    case t_int:
      return py::reinterpret_steal<py::object>(PyLong_FromLongLong(get_raw<std::int64_t>(p)));
    case t_uint:
      return py::reinterpret_steal<py::object>(PyLong_FromUnsignedLongLong(get_raw<std::uint64_t>(p)));
    case t_float:
      return py::reinterpret_steal<py::object>(PyFloat_FromDouble(get_raw<double>(p)));
    case t_str:
      return text_at(p);
    case t_list: {
      const auto n = get_raw<std::uint32_t>(p);
      py::list out(n);
      for (std::uint32_t i = 0; i < n; ++i) {
        PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), decode(p, names).release().ptr());
      }
      return out;
    }
    case t_dict: {
      const auto n = get_raw<std::uint32_t>(p);
      py::object out = py::reinterpret_steal<py::object>(_PyDict_NewPresized(static_cast<Py_ssize_t>(n)));
      if (!out) throw py::error_already_set();
      for (std::uint32_t i = 0; i < n; ++i) {
        const auto id = get_raw<std::uint16_t>(p);
        py::object name = id == kInlineName ? text_at(p) : names[id];
        py::object value = decode(p, names);
        if (PyDict_SetItem(out.ptr(), name.ptr(), value.ptr()) != 0) throw py::error_already_set();
      }
      return out;
    }
  }
  throw std::logic_error("corrupt verified-token cache entry");
}

// SHA-256 on a context each thread keeps (initialising it again is cheaper than a new one).
bool sha256(std::string_view token, token_cache::digest& out) {
  thread_local const ossl::md_ctx ctx(EVP_MD_CTX_new());
  unsigned int len = 0;
  const bool ok = ctx && EVP_DigestInit_ex2(ctx.get(), digest(alg::HS256), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx.get(), token.data(), token.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == out.size();
  if (!ok) ERR_clear_error();
  return ok;
}

// Copies dicts and lists (the only mutable values claims hold) so callers cannot change what the
// hot tier keeps; strings, numbers, booleans and None are immutable and shared.
py::object fresh_copy(PyObject* value) {
  if (PyDict_CheckExact(value)) {
    py::object out = py::reinterpret_steal<py::object>(_PyDict_NewPresized(PyDict_GET_SIZE(value)));
    if (!out) throw py::error_already_set();
    PyObject* k = nullptr;
    PyObject* v = nullptr;
    Py_ssize_t pos = 0;
    while (PyDict_Next(value, &pos, &k, &v)) {
      py::object copy = fresh_copy(v);
      if (PyDict_SetItem(out.ptr(), k, copy.ptr()) != 0) throw py::error_already_set();
    }
    return out;
  }
  if (PyList_CheckExact(value)) {
    const Py_ssize_t n = PyList_GET_SIZE(value);
    py::list out(static_cast<std::size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyList_SET_ITEM(out.ptr(), i, fresh_copy(PyList_GET_ITEM(value, i)).release().ptr());
    }
    return out;
  }
  return py::reinterpret_borrow<py::object>(value);
}

enum class claim_state : std::uint8_t { absent, number, unusable };

// A time claim of verified claims as a double. Verification has already refused non-numbers, so
// `unusable` (not cached) only covers what Python cannot turn into a double.
claim_state numeric_claim(PyObject* claims, const char* name, double& out) {
  PyObject* v = PyDict_GetItemString(claims, name);
  if (v == nullptr) return claim_state::absent;
  if (PyBool_Check(v) || !(PyLong_Check(v) || PyFloat_Check(v))) return claim_state::unusable;
  out = PyFloat_AsDouble(v);
  if (PyErr_Occurred()) {
    PyErr_Clear();
    return claim_state::unusable;
  }
  return claim_state::number;
}

std::string_view view(const token_cache::digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

}  // namespace

std::size_t token_cache::digest_hash::operator()(std::string_view d) const noexcept {
  std::size_t h = 0;  // SHA-256 bytes are already uniform: the first ones make a good hash
  std::memcpy(&h, d.data(), std::min(sizeof h, d.size()));
  return h;
}

std::shared_ptr<token_cache> token_cache::make(std::size_t capacity, double leeway) {
  if (capacity > kMaxCapacity) raise(errc::configuration, "cache_size must be at most 1000000");
  if (capacity == 0) return nullptr;
  return std::make_shared<token_cache>(capacity, leeway);
}

void token_cache::drop_hot(hot_list_t::iterator h, std::vector<py::object>& dropped) {
  h->cold->hot = false;
  hot_index_.erase(h->token);
  dropped.push_back(std::move(h->claims));
  hot_.erase(h);
}

void token_cache::drop_entry(list_t::iterator e, std::vector<py::object>& dropped) {
  if (e->hot) drop_hot(e->hot_it, dropped);
  index_.erase(view(e->key));
  lru_.erase(e);
}

void token_cache::add_hot(std::string_view token, list_t::iterator e, py::object claims,
                          std::vector<py::object>& dropped) {
  if (hot_capacity_ == 0 || e->hot) {
    dropped.push_back(std::move(claims));
    return;
  }
  hot_.push_front(hot_entry{std::string(token), std::move(claims), e});
  hot_index_.emplace(hot_.front().token, hot_.begin());
  e->hot = true;
  e->hot_it = hot_.begin();
  while (hot_.size() > hot_capacity_) drop_hot(std::prev(hot_.end()), dropped);
}

token_cache::hot_answer token_cache::hot_lookup(std::string_view token, double now,
                                                std::vector<py::object>& dropped) {
  auto h = hot_index_.find(token);
  if (h == hot_index_.end()) return hot_answer::absent;
  const list_t::iterator e = h->second->cold;
  if (out_of_time(*e, now)) {
    ++misses_;
    drop_entry(e, dropped);
    return hot_answer::expired;
  }
  ++hits_;
  hot_.splice(hot_.begin(), hot_, h->second);
  lru_.splice(lru_.begin(), lru_, e);
  return hot_answer::hit;
}

py::object token_cache::get(std::string_view token, double now) {
  std::vector<py::object> dropped;  // released after the lock (declared before it)
  if (token.size() > kMaxTokenBytes) {
    std::lock_guard lock(mu_);
    ++misses_;
    return {};
  }
  py::object kept;
  {
    std::lock_guard lock(mu_);
    const hot_answer hot = hot_lookup(token, now, dropped);
    if (hot == hot_answer::expired) return {};
    if (hot == hot_answer::hit) kept = hot_.front().claims;
  }
  // Python work (copying, building, releasing) happens outside the lock: whatever Python runs
  // meanwhile (a collection, a finalizer) may use the cache.
  if (kept) return fresh_copy(kept.ptr());

  digest key;
  const bool keyed = sha256(token, key);
  std::string claims;
  std::shared_ptr<const name_table> names;
  {
    std::lock_guard lock(mu_);
    auto it = keyed ? index_.find(view(key)) : index_.end();
    if (it == index_.end()) {
      ++misses_;
      return {};
    }
    if (out_of_time(*it->second, now)) {
      ++misses_;
      drop_entry(it->second, dropped);
      return {};
    }
    ++hits_;
    lru_.splice(lru_.begin(), lru_, it->second);
    claims = it->second->claims;
    names = names_;
  }
  const char* p = claims.data();
  py::object out = decode(p, *names);
  // The next hit of this token takes the hot path.
  py::object hot_claims = fresh_copy(out.ptr());
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(view(key));
    if (it != index_.end()) add_hot(token, it->second, std::move(hot_claims), dropped);
  }
  return out;
}

bool token_cache::holds(std::string_view token, double now) {
  std::vector<py::object> dropped;  // released after the lock (declared before it)
  if (token.size() > kMaxTokenBytes) {
    std::lock_guard lock(mu_);
    ++misses_;
    return false;
  }
  {
    std::lock_guard lock(mu_);
    const hot_answer hot = hot_lookup(token, now, dropped);
    if (hot != hot_answer::absent) return hot == hot_answer::hit;
  }
  digest key;
  if (!sha256(token, key)) {
    std::lock_guard lock(mu_);
    ++misses_;
    return false;
  }
  std::lock_guard lock(mu_);
  auto it = index_.find(view(key));
  if (it == index_.end() || out_of_time(*it->second, now)) {
    ++misses_;
    if (it != index_.end()) drop_entry(it->second, dropped);
    return false;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return true;
}

void token_cache::put(std::string_view token, const py::object& claims) {
  if (capacity_ == 0 || token.size() > kMaxTokenBytes || !PyDict_CheckExact(claims.ptr())) return;
  double exp_value = 0;
  if (numeric_claim(claims.ptr(), "exp", exp_value) != claim_state::number) return;
  double not_before = -std::numeric_limits<double>::infinity();
  for (const char* name : {"nbf", "iat"}) {
    double v = 0;
    const claim_state state = numeric_claim(claims.ptr(), name, v);
    if (state == claim_state::unusable) return;
    if (state == claim_state::number) not_before = std::max(not_before, v);
  }
  entry e;
  if (!sha256(token, e.key)) return;
  e.exp = exp_value;
  e.not_before = not_before;
  py::object hot_claims = fresh_copy(claims.ptr());
  std::vector<py::object> dropped;  // released after the lock (declared before it)
  // Names are looked up (and new ones added to a copy of the table) under the lock; encoding
  // itself calls no Python code that could re-enter the cache.
  std::lock_guard lock(mu_);
  if (index_.find(view(e.key)) != index_.end()) {
    dropped.push_back(std::move(hot_claims));
    return;
  }
  std::shared_ptr<name_table> grown;
  auto name_id = [&](PyObject* name) -> std::uint16_t {
    Py_ssize_t size = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(name, &size);
    if (utf8 == nullptr) {
      PyErr_Clear();
      return kInlineName;
    }
    std::string text(utf8, static_cast<std::size_t>(size));
    if (auto found = name_ids_.find(text); found != name_ids_.end()) return found->second;
    if (name_ids_.size() >= kMaxNames) return kInlineName;
    if (!grown) grown = std::make_shared<name_table>(*names_);
    const auto id = static_cast<std::uint16_t>(grown->size());
    grown->push_back(py::reinterpret_borrow<py::object>(name));
    name_ids_.emplace(std::move(text), id);
    return id;
  };
  const bool encoded = encode(e.claims, claims.ptr(), name_id);
  if (grown) names_ = std::move(grown);  // names added for claims that failed stay: still valid
  if (!encoded) {
    dropped.push_back(std::move(hot_claims));
    return;
  }
  e.claims.shrink_to_fit();
  lru_.push_front(std::move(e));
  index_.emplace(view(lru_.front().key), lru_.begin());
  add_hot(token, lru_.begin(), std::move(hot_claims), dropped);
  while (lru_.size() > capacity_) drop_entry(std::prev(lru_.end()), dropped);
}

void token_cache::clear() {
  std::vector<py::object> dropped;  // released after the lock (declared before it)
  list_t entries;
  hot_list_t hot;
  std::shared_ptr<const name_table> old_names;
  std::lock_guard lock(mu_);
  hot_index_.clear();
  hot.swap(hot_);
  index_.clear();
  entries.swap(lru_);
  old_names = std::move(names_);
  names_ = std::make_shared<const name_table>();
  name_ids_.clear();
}

py::dict token_cache::info() {
  std::lock_guard lock(mu_);
  py::dict out;
  out["hits"] = hits_;
  out["misses"] = misses_;
  out["size"] = lru_.size();
  out["capacity"] = capacity_;
  out["max_token_bytes"] = kMaxTokenBytes;
  return out;
}

}  // namespace tokenward::bindings
