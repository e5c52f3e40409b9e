// JWK JSON (RFC 7517, RFC 7518 §6, RFC 8037 §2): import with every check, and export. Private
// components (RSA d, p, q, dp, dq, qi; EC and OKP d; oct k) are decoded straight into
// secret_bytes and handed to OpenSSL as BIGNUMs freed with BN_clear_free, so every return path
// wipes them.
#include <algorithm>
#include <array>
#include <bit>
#include <set>
#include <tuple>

#include "jwk_detail.hpp"
#include "jwk_members.hpp"
#include "tokenward/base64url.hpp"

namespace tokenward {
namespace {

using namespace jwk_detail;

// Reads an optional string member; a present member of another type is an error.
status opt_string(const member& m, const char* name, std::string& out) {
  if (!m.present()) return {};
  if (m.k != member::kind::string) return key_error(std::string("JWK member '") + name + "' must be a string");
  out = std::string(m.text);
  return {};
}

// The text of a base64url member; null when absent.
result<const std::string_view*> b64_member(const member& m, const char* name) {
  if (!m.present()) return static_cast<const std::string_view*>(nullptr);
  if (m.k != member::kind::string) return key_error(std::string("JWK member '") + name + "' must be a string");
  return &m.text;
}

error not_canonical(const char* name) {
  return key_error(std::string("JWK member '") + name + "' is not canonical base64url");
}

error missing(const char* name) { return key_error(std::string("JWK is missing required member '") + name + "'"); }

// A public base64url member into bytes. Absent: empty optional.
result<std::optional<std::string>> opt_b64(const member& m, const char* name) {
  auto text = b64_member(m, name);
  if (!text) return text.err();
  if (*text == nullptr) return std::optional<std::string>{};
  auto bytes = b64::decode(**text);
  if (!bytes) return not_canonical(name);
  return std::optional<std::string>(std::move(*bytes));
}

result<std::string> req_b64(const member& m, const char* name) {
  auto v = opt_b64(m, name);
  if (!v) return v.err();
  if (!v->has_value()) return missing(name);
  return std::move(**v);
}

// A private base64url member, decoded into self-wiping memory. Absent: empty optional.
result<std::optional<secret_bytes>> opt_secret(const member& m, const char* name) {
  auto text = b64_member(m, name);
  if (!text) return text.err();
  if (*text == nullptr) return std::optional<secret_bytes>{};
  auto bytes = b64::decode_secret(**text);
  if (!bytes) return not_canonical(name);
  return std::optional<secret_bytes>(std::move(*bytes));
}

// Where a member of this name is kept, or null for a name no JWK rule reads.
member* slot(jwk_members& m, std::string_view name) {
  switch (name.size()) {
    case 1:
      switch (name[0]) {
        case 'k': return &m.k;
        case 'n': return &m.n;
        case 'e': return &m.e;
        case 'd': return &m.d;
        case 'p': return &m.p;
        case 'q': return &m.q;
        case 'x': return &m.x;
        case 'y': return &m.y;
        default: return nullptr;
      }
    case 2:
      if (name == "dp") return &m.dp;
      if (name == "dq") return &m.dq;
      if (name == "qi") return &m.qi;
      return nullptr;
    case 3:
      if (name == "kty") return &m.kty;
      if (name == "kid") return &m.kid;
      if (name == "use") return &m.use;
      if (name == "alg") return &m.alg;
      if (name == "crv") return &m.crv;
      return nullptr;
    default: return nullptr;
  }
}

struct rsa_parts {
  std::string n, e;
  secret_bytes d, p, q, dp, dq, qi;
};

// A context ready for EVP_PKEY_fromdata with keys of `type` ("RSA" or "EC"). Making one
// (EVP_PKEY_CTX_new_from_name fetches the key manager by name) cost about a third of importing an
// RSA JWK; EVP_PKEY_fromdata only reads the context, so each thread keeps one per type for good.
EVP_PKEY_CTX* fromdata_ctx(const char* type) {
  struct contexts {
    ossl::pkey_ctx rsa, ec;
  };
  thread_local contexts cache;
  ossl::pkey_ctx& slot = std::string_view(type) == "RSA" ? cache.rsa : cache.ec;
  if (!slot) {
    ossl::pkey_ctx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
      ossl::clear_errors();
      return nullptr;
    }
    slot = std::move(ctx);
  }
  return slot.get();
}

result<ossl::pkey> from_params(const char* type, int selection, OSSL_PARAM* params) {
  EVP_PKEY_CTX* ctx = fromdata_ctx(type);
  if (params == nullptr || ctx == nullptr) {
    ossl::clear_errors();
    return make_error(errc::internal, "OpenSSL could not prepare a key");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx, &raw, selection, params) != 1 || raw == nullptr) {
    ossl::clear_errors();
    return key_error(std::string("the ") + type + " key parameters are invalid");
  }
  return ossl::pkey(raw);
}

result<ossl::pkey> from_params(const char* type, int selection, OSSL_PARAM_BLD* bld) {
  ossl::params params(OSSL_PARAM_BLD_to_param(bld));
  return from_params(type, selection, params.get());
}

// An RSA public key from the big-endian bytes of n and e (already through check_rsa_public).
// EVP_PKEY_fromdata reads each as an unsigned integer in the host's byte order; OSSL_PARAM_BLD
// would get there through a BIGNUM and a copy per member, which cost more than the rest of the
// import. Leading zero bytes are dropped (the value is the same), so n fits kMaxRsaBits / 8 bytes
// and e, being less than n, fits too.
result<ossl::pkey> build_rsa_public(std::string_view n, std::string_view e) {
  static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big);
  constexpr std::size_t kMaxBytes = kMaxRsaBits / 8;
  using buffer = std::array<unsigned char, kMaxBytes>;
  auto host_order = [](std::string_view big_endian, buffer& out) -> std::size_t {
    const auto first = big_endian.find_first_not_of('\0');
    if (first == std::string_view::npos || big_endian.size() - first > out.size()) return 0;
    big_endian.remove_prefix(first);
    if constexpr (std::endian::native == std::endian::little) {
      std::reverse_copy(big_endian.begin(), big_endian.end(), out.begin());
    } else {
      std::copy(big_endian.begin(), big_endian.end(), out.begin());
    }
    return big_endian.size();
  };
  buffer n_buf;
  buffer e_buf;
  const std::size_t n_len = host_order(n, n_buf);
  const std::size_t e_len = host_order(e, e_buf);
  if (n_len == 0 || e_len == 0) return key_error("the RSA key parameters are invalid");
  OSSL_PARAM params[] = {OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_N, n_buf.data(), n_len),
                         OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_E, e_buf.data(), e_len),
                         OSSL_PARAM_construct_end()};
  return from_params("RSA", EVP_PKEY_PUBLIC_KEY, params);
}

result<ossl::pkey> build_rsa_private(const rsa_parts& k, bool with_factors) {
  ossl::param_bld bld(OSSL_PARAM_BLD_new());
  if (!bld) return make_error(errc::internal, "out of memory");
  // The builder refers to these until OSSL_PARAM_BLD_to_param has copied them. The private ones
  // are wiped when freed, and so is their copy (see to_secret_bn).
  std::vector<ossl::bignum> pub;
  std::vector<ossl::secret_bignum> sec;
  auto push = [&](const char* name, const std::string& bytes) {
    pub.push_back(to_bn(bytes));
    return pub.back() && OSSL_PARAM_BLD_push_BN(bld.get(), name, pub.back().get()) == 1;
  };
  auto push_secret = [&](const char* name, const secret_bytes& bytes) {
    sec.push_back(to_secret_bn(bytes));
    return sec.back() && OSSL_PARAM_BLD_push_BN(bld.get(), name, sec.back().get()) == 1;
  };
  bool ok = push(OSSL_PKEY_PARAM_RSA_N, k.n) && push(OSSL_PKEY_PARAM_RSA_E, k.e) &&
            push_secret(OSSL_PKEY_PARAM_RSA_D, k.d);
  if (with_factors) {
    ok = ok && push_secret(OSSL_PKEY_PARAM_RSA_FACTOR1, k.p) && push_secret(OSSL_PKEY_PARAM_RSA_FACTOR2, k.q) &&
         push_secret(OSSL_PKEY_PARAM_RSA_EXPONENT1, k.dp) && push_secret(OSSL_PKEY_PARAM_RSA_EXPONENT2, k.dq) &&
         push_secret(OSSL_PKEY_PARAM_RSA_COEFFICIENT1, k.qi);
  }
  if (!ok) return make_error(errc::internal, "out of memory");
  return from_params("RSA", EVP_PKEY_KEYPAIR, bld.get());
}

result<ossl::pkey> build_ec(curve c, const std::string& x, const std::string& y, const secret_bytes* d) {
  ossl::param_bld bld(OSSL_PARAM_BLD_new());
  if (!bld) return make_error(errc::internal, "out of memory");
  std::string point;
  point.reserve(1 + x.size() + y.size());
  point.push_back('\x04');
  point += x;
  point += y;
  const std::string group(curve_name(c));
  ossl::secret_bignum priv;
  bool ok = OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(), 0) == 1 &&
            OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1;
  if (d != nullptr) {
    priv = to_secret_bn(*d);
    ok = ok && priv && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get()) == 1;
  }
  if (!ok) return make_error(errc::internal, "out of memory");
  auto key = from_params("EC", d != nullptr ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld.get());
  if (!key) return key_error("the EC point is not on the curve " + group);
  return key;
}

}  // namespace

namespace jwk_detail {

result<json> export_components(EVP_PKEY* pkey, key_type type, curve crv, bool include_private) {
  json out = json::object();
  switch (type) {
    case key_type::rsa: {
      out["kty"] = "RSA";
      auto n = ossl::get_bn(pkey, OSSL_PKEY_PARAM_RSA_N);
      auto e = ossl::get_bn(pkey, OSSL_PKEY_PARAM_RSA_E);
      if (!n || !e) return make_error(errc::internal, "could not read the RSA key");
      out["n"] = b64::encode(bn_bytes(n.get()));
      out["e"] = b64::encode(bn_bytes(e.get()));
      if (include_private) {
        const std::array<std::pair<const char*, const char*>, 6> parts{{
            {"d", OSSL_PKEY_PARAM_RSA_D},
            {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
            {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
            {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
            {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
            {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
        }};
        for (const auto& [member, param] : parts) {
          auto bn = ossl::get_secret_bn(pkey, param);
          if (bn) out[member] = b64::encode(secret_bn_bytes(bn.get()).view());
        }
        ossl::clear_errors();
      }
      return out;
    }
    case key_type::ec: {
      out["kty"] = "EC";
      out["crv"] = std::string(curve_name(crv));
      const std::size_t size = ec_scalar_size(crv);
      auto x = ossl::get_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_X);
      auto y = ossl::get_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_Y);
      if (!x || !y) return make_error(errc::internal, "could not read the EC key");
      out["x"] = b64::encode(bn_bytes(x.get(), size));
      out["y"] = b64::encode(bn_bytes(y.get(), size));
      if (include_private) {
        auto d = ossl::get_secret_bn(pkey, OSSL_PKEY_PARAM_PRIV_KEY);
        if (d) out["d"] = b64::encode(secret_bn_bytes(d.get(), size).view());
      }
      ossl::clear_errors();
      return out;
    }
    case key_type::okp: {
      out["kty"] = "OKP";
      out["crv"] = "Ed25519";
      std::string raw(32, '\0');
      std::size_t len = raw.size();
      if (EVP_PKEY_get_raw_public_key(pkey, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 || len != 32) {
        ossl::clear_errors();
        return make_error(errc::internal, "could not read the Ed25519 key");
      }
      out["x"] = b64::encode(raw);
      if (include_private) {
        secret_bytes d(32);
        len = d.size();
        if (EVP_PKEY_get_raw_private_key(pkey, d.data(), &len) == 1 && len == 32) out["d"] = b64::encode(d.view());
        ossl::clear_errors();
      }
      return out;
    }
    case key_type::oct:
      break;
  }
  return make_error(errc::internal, "not an asymmetric key");
}

jwk_members read_members(const json& j) {
  jwk_members m;
  if (!j.is_object()) return m;
  m.is_object = true;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& value = it.value();
    if (member* s = slot(m, name)) {
      if (value.is_string()) {
        *s = {member::kind::string, value.get_ref<const std::string&>()};
      } else {
        s->k = member::kind::other;
      }
    } else if (name == "key_ops") {
      m.has_key_ops = true;
      if (!value.is_array()) continue;
      m.key_ops_is_array = true;
      for (const auto& op : value) {
        if (!op.is_string()) {
          m.key_ops_non_string = true;
          break;
        }
        m.key_ops.emplace_back(op.get_ref<const std::string&>());
      }
    } else if (name == "oth") {
      m.has_oth = true;
    }
  }
  return m;
}

jwk_members read_members(simdjson::dom::element e) {
  jwk_members m;
  simdjson::dom::object obj;
  if (e.get(obj) != simdjson::SUCCESS) return m;
  m.is_object = true;
  for (const auto field : obj) {
    const std::string_view name = field.key;
    if (member* s = slot(m, name)) {
      std::string_view text;
      if (field.value.get(text) == simdjson::SUCCESS) {
        *s = {member::kind::string, text};
      } else {
        s->k = member::kind::other;
      }
    } else if (name == "key_ops") {
      m.has_key_ops = true;
      simdjson::dom::array ops;
      if (field.value.get(ops) != simdjson::SUCCESS) continue;
      m.key_ops_is_array = true;
      for (const auto op : ops) {
        std::string_view text;
        if (op.get(text) != simdjson::SUCCESS) {
          m.key_ops_non_string = true;
          break;
        }
        m.key_ops.push_back(text);
      }
    } else if (name == "oth") {
      m.has_oth = true;
    }
  }
  return m;
}

result<parsed_text> parse_key_text(std::string_view text, const json_limits& limits, std::string_view what) {
  parsed_text out;
  if (text.size() <= limits.max_bytes) {
    // With kJsonPadding bytes of spare capacity, json_doc parses the copy in place.
    std::string padded;
    padded.reserve(text.size() + kJsonPadding);
    padded.assign(text);
    if (auto doc = json_doc::parse(padded, limits, what)) {
      out.doc.emplace(std::move(*doc));
      return out;
    }
  }
  auto j = parse_json(text, limits, what);
  if (!j) return j.err();
  out.dom = std::move(*j);
  return out;
}

}  // namespace jwk_detail

status jwk::set_common(const jwk_members& m) {
  TW_TRY(opt_string(m.kid, "kid", kid_));
  TW_TRY(opt_string(m.use, "use", use_));
  std::string alg_text;
  TW_TRY(opt_string(m.alg, "alg", alg_text));
  if (m.alg.present()) {
    alg_ = alg_from_name(alg_text);
    if (!alg_) return key_error("JWK alg '" + alg_text.substr(0, 32) + "' is not a JWS signature algorithm");
  }
  if (m.has_key_ops) {
    if (!m.key_ops_is_array) return key_error("JWK member 'key_ops' must be an array of strings");
    std::set<std::string_view> seen;
    for (const std::string_view op : m.key_ops) {
      if (!seen.insert(op).second) return key_error("JWK member 'key_ops' repeats a value");
      key_ops_.emplace_back(op);
    }
    // The first element that is not a string comes after the strings above.
    if (m.key_ops_non_string) return key_error("JWK member 'key_ops' must be an array of strings");
  }
  return {};
}

result<jwk> jwk::from_json_text(std::string_view text) {
  auto parsed = parse_key_text(text, json_limits{64 * 1024, 8}, "JWK");
  if (!parsed) return key_error(parsed.err().detail);
  if (parsed->doc) return from_members(read_members(parsed->doc->root()));
  return from_json(parsed->dom);
}

result<jwk> jwk::from_json(const json& j) { return from_members(read_members(j)); }

result<jwk> jwk::from_members(const jwk_members& m) {
  if (!m.is_object) return key_error("a JWK must be a JSON object");
  if (m.kty.k != member::kind::string) return key_error("JWK is missing 'kty'");
  const std::string_view kty = m.kty.text;
  jwk k;
  TW_TRY(k.set_common(m));

  if (kty == "oct") {
    k.type_ = key_type::oct;
    auto secret = opt_secret(m.k, "k");
    if (!secret) return secret.err();
    if (!secret->has_value()) return missing("k");
    auto made = from_secret((*secret)->view(), k.alg_);
    if (!made) return made.err();
    made->kid_ = k.kid_;
    made->use_ = k.use_;
    made->key_ops_ = k.key_ops_;
    return made;
  }

  if (kty == "RSA") {
    k.type_ = key_type::rsa;
    TW_TRY(check_alg_fits(key_type::rsa, curve::none, k.alg_, {}));
    if (m.has_oth) return key_error("RSA keys with more than two primes are not supported");
    auto n = req_b64(m.n, "n");
    if (!n) return n.err();
    auto e = req_b64(m.e, "e");
    if (!e) return e.err();
    auto d = opt_secret(m.d, "d");
    if (!d) return d.err();
    k.private_ = d->has_value();
    if (!k.private_) {
      TW_TRY(check_rsa_public(*n, *e, k.rsa_bits_));
      auto pkey = build_rsa_public(*n, *e);
      if (!pkey) return pkey.err();
      k.adopt(pkey->release());
      return k;
    }
    rsa_parts parts;
    parts.n = std::move(*n);
    parts.e = std::move(*e);
    parts.d = std::move(**d);
    int factors = 0;
    const std::array<std::tuple<const member*, const char*, secret_bytes*>, 5> opt{{{&m.p, "p", &parts.p},
                                                                                    {&m.q, "q", &parts.q},
                                                                                    {&m.dp, "dp", &parts.dp},
                                                                                    {&m.dq, "dq", &parts.dq},
                                                                                    {&m.qi, "qi", &parts.qi}}};
    for (const auto& [src, name, dst] : opt) {
      auto v = opt_secret(*src, name);
      if (!v) return v.err();
      if (v->has_value()) {
        *dst = std::move(**v);
        ++factors;
      }
    }
    if (factors != 0 && factors != 5) return key_error("RSA private JWK must have all of p, q, dp, dq, qi or none");
    TW_TRY(check_rsa_public(parts.n, parts.e, k.rsa_bits_));
    auto pkey = build_rsa_private(parts, factors == 5);
    if (!pkey) return pkey.err();
    if (factors == 5) TW_TRY(check_pkey(pkey->get(), true, "RSA private key"));
    k.adopt(pkey->release());
    return k;
  }

  if (kty == "EC") {
    k.type_ = key_type::ec;
    std::string crv_text;
    TW_TRY(opt_string(m.crv, "crv", crv_text));
    auto c = curve_from_name(crv_text);
    if (!c || *c == curve::ed25519) return key_error("EC JWK curve must be P-256, P-384 or P-521");
    k.crv_ = *c;
    TW_TRY(check_alg_fits(key_type::ec, k.crv_, k.alg_, crv_text));
    const std::size_t size = ec_scalar_size(k.crv_);
    auto x = req_b64(m.x, "x");
    if (!x) return x.err();
    auto y = req_b64(m.y, "y");
    if (!y) return y.err();
    if (x->size() != size || y->size() != size) {
      return key_error("EC JWK coordinates must be exactly " + std::to_string(size) + " bytes for " + crv_text);
    }
    auto d = opt_secret(m.d, "d");
    if (!d) return d.err();
    k.private_ = d->has_value();
    if (k.private_ && (*d)->size() != size) return key_error("EC JWK 'd' has the wrong length");
    auto pkey = build_ec(k.crv_, *x, *y, k.private_ ? &**d : nullptr);
    if (!pkey) return pkey.err();
    TW_TRY(check_pkey(pkey->get(), k.private_, "EC key"));
    k.adopt(pkey->release());
    return k;
  }

  if (kty == "OKP") {
    k.type_ = key_type::okp;
    std::string crv_text;
    TW_TRY(opt_string(m.crv, "crv", crv_text));
    if (crv_text != "Ed25519") return key_error("OKP JWK curve must be Ed25519 for signatures");
    k.crv_ = curve::ed25519;
    TW_TRY(check_alg_fits(key_type::okp, k.crv_, k.alg_, crv_text));
    auto x = req_b64(m.x, "x");
    if (!x) return x.err();
    if (x->size() != 32) return key_error("Ed25519 JWK 'x' must be 32 bytes");
    auto d = opt_secret(m.d, "d");
    if (!d) return d.err();
    k.private_ = d->has_value();
    EVP_PKEY* raw = nullptr;
    if (k.private_) {
      if ((*d)->size() != 32) return key_error("Ed25519 JWK 'd' must be 32 bytes");
      raw = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, (*d)->data(), 32);
    } else {
      raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                        reinterpret_cast<const unsigned char*>(x->data()), 32);
    }
    ossl::clear_errors();
    if (raw == nullptr) return key_error("the Ed25519 key is invalid");
    k.adopt(raw);
    if (k.private_) {
      std::string derived(32, '\0');
      std::size_t len = 32;
      EVP_PKEY_get_raw_public_key(raw, reinterpret_cast<unsigned char*>(derived.data()), &len);
      if (derived != *x) return key_error("Ed25519 JWK 'x' does not match its private key");
    }
    return k;
  }

  return key_error("JWK kty '" + std::string(kty.substr(0, 16)) + "' is not supported");
}

result<json> jwk::to_json(bool include_private) const {
  json out;
  if (type_ == key_type::oct) {
    if (!include_private) return key_error("a symmetric (oct) key has no public form");
    out = json::object();
    out["kty"] = "oct";
    out["k"] = b64::encode(secret());
  } else {
    auto comps = export_components(pkey_.get(), type_, crv_, include_private && private_);
    if (!comps) return comps;
    out = std::move(*comps);
  }
  if (!kid_.empty()) out["kid"] = kid_;
  if (alg_) out["alg"] = std::string(alg_name(*alg_));
  if (!use_.empty()) out["use"] = use_;
  if (!key_ops_.empty()) out["key_ops"] = key_ops_;
  return out;
}

}  // namespace tokenward
