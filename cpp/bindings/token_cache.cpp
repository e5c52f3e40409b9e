#include "token_cache.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace tokenward::bindings {
namespace {

// Copies dicts and lists (the only mutable values claims hold) so callers cannot change what the
// cache keeps; strings, numbers, booleans and None are immutable and shared.
py::object fresh_copy(PyObject* value) {
  if (PyDict_CheckExact(value)) {
    py::dict out;
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

}  // namespace

std::shared_ptr<token_cache> token_cache::make(std::size_t capacity, double leeway) {
  if (capacity > kMaxCapacity) raise(errc::configuration, "cache_size must be at most 1000000");
  if (capacity == 0) return nullptr;
  return std::make_shared<token_cache>(capacity, leeway);
}

py::object token_cache::get(std::string_view token, double now) {
  py::object found;
  entry expired;
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(token);
    if (it == index_.end()) {
      ++misses_;
      return {};
    }
    if (now - leeway_ >= it->second->exp || now + leeway_ < it->second->not_before) {
      ++misses_;
      expired = std::move(*it->second);
      lru_.erase(it->second);
      index_.erase(it);
    } else {
      ++hits_;
      lru_.splice(lru_.begin(), lru_, it->second);
      found = it->second->claims;
    }
  }
  // Python work (copying, or dropping the expired entry's dict) happens outside the lock.
  if (!found) return {};
  return fresh_copy(found.ptr());
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
  py::object kept = fresh_copy(claims.ptr());
  list_t evicted;
  {
    std::lock_guard lock(mu_);
    if (index_.find(token) != index_.end()) return;
    lru_.push_front(entry{std::string(token), exp_value, not_before, std::move(kept)});
    index_.emplace(lru_.front().token, lru_.begin());
    while (lru_.size() > capacity_) {
      index_.erase(lru_.back().token);
      evicted.splice(evicted.begin(), lru_, std::prev(lru_.end()));
    }
  }
}

void token_cache::clear() {
  list_t dropped;
  std::lock_guard lock(mu_);
  index_.clear();
  dropped.swap(lru_);
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
