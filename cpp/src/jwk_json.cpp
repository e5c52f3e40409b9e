// JWK JSON (RFC 7517, RFC 7518 §6, RFC 8037 §2): import with every check, and export. Private
// components (RSA d, p, q, dp, dq, qi; EC and OKP d; oct k) are decoded straight into
// secret_bytes and handed to OpenSSL as BIGNUMs freed with BN_clear_free, so every return path
// wipes them.
#include <array>
#include <set>

#include "jwk_detail.hpp"
#include "tokenward/base64url.hpp"

namespace tokenward {
namespace {

using namespace jwk_detail;

// Reads an optional string member; a present member of another type is an error.
status opt_string(const json& j, const char* name, std::string& out) {
  auto it = j.find(name);
  if (it == j.end()) return {};
  if (!it->is_string()) return key_error(std::string("JWK member '") + name + "' must be a string");
  out = it->get<std::string>();
  return {};
}

// The text of a base64url member; null when absent.
result<const std::string*> b64_member(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return static_cast<const std::string*>(nullptr);
  if (!it->is_string()) return key_error(std::string("JWK member '") + name + "' must be a string");
  return &it->get_ref<const std::string&>();
}

error not_canonical(const char* name) {
  return key_error(std::string("JWK member '") + name + "' is not canonical base64url");
}

error missing(const char* name) { return key_error(std::string("JWK is missing required member '") + name + "'"); }

// A public base64url member into bytes. Absent: empty optional.
result<std::optional<std::string>> opt_b64(const json& j, const char* name) {
  auto text = b64_member(j, name);
  if (!text) return text.err();
  if (*text == nullptr) return std::optional<std::string>{};
  auto bytes = b64::decode(**text);
  if (!bytes) return not_canonical(name);
  return std::optional<std::string>(std::move(*bytes));
}

result<std::string> req_b64(const json& j, const char* name) {
  auto v = opt_b64(j, name);
  if (!v) return v.err();
  if (!v->has_value()) return missing(name);
  return std::move(**v);
}

// A private base64url member, decoded into self-wiping memory. Absent: empty optional.
result<std::optional<secret_bytes>> opt_secret(const json& j, const char* name) {
  auto text = b64_member(j, name);
  if (!text) return text.err();
  if (*text == nullptr) return std::optional<secret_bytes>{};
  auto bytes = b64::decode_secret(**text);
  if (!bytes) return not_canonical(name);
  return std::optional<secret_bytes>(std::move(*bytes));
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

result<ossl::pkey> from_params(const char* type, int selection, OSSL_PARAM_BLD* bld) {
  ossl::params params(OSSL_PARAM_BLD_to_param(bld));
  EVP_PKEY_CTX* ctx = fromdata_ctx(type);
  if (!params || ctx == nullptr) {
    ossl::clear_errors();
    return make_error(errc::internal, "OpenSSL could not prepare a key");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx, &raw, selection, params.get()) != 1 || raw == nullptr) {
    ossl::clear_errors();
    return key_error(std::string("the ") + type + " key parameters are invalid");
  }
  return ossl::pkey(raw);
}

result<ossl::pkey> build_rsa(const rsa_parts& k, bool priv, bool with_factors) {
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
  bool ok = push(OSSL_PKEY_PARAM_RSA_N, k.n) && push(OSSL_PKEY_PARAM_RSA_E, k.e);
  if (priv) ok = ok && push_secret(OSSL_PKEY_PARAM_RSA_D, k.d);
  if (priv && with_factors) {
    ok = ok && push_secret(OSSL_PKEY_PARAM_RSA_FACTOR1, k.p) && push_secret(OSSL_PKEY_PARAM_RSA_FACTOR2, k.q) &&
         push_secret(OSSL_PKEY_PARAM_RSA_EXPONENT1, k.dp) && push_secret(OSSL_PKEY_PARAM_RSA_EXPONENT2, k.dq) &&
         push_secret(OSSL_PKEY_PARAM_RSA_COEFFICIENT1, k.qi);
  }
  if (!ok) return make_error(errc::internal, "out of memory");
  return from_params("RSA", priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld.get());
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

}  // namespace jwk_detail

status jwk::set_common(const json& j) {
  TW_TRY(opt_string(j, "kid", kid_));
  TW_TRY(opt_string(j, "use", use_));
  std::string alg_text;
  TW_TRY(opt_string(j, "alg", alg_text));
  if (j.contains("alg")) {
    alg_ = alg_from_name(alg_text);
    if (!alg_) return key_error("JWK alg '" + alg_text.substr(0, 32) + "' is not a JWS signature algorithm");
  }
  if (auto it = j.find("key_ops"); it != j.end()) {
    if (!it->is_array()) return key_error("JWK member 'key_ops' must be an array of strings");
    std::set<std::string> seen;
    for (const auto& op : *it) {
      if (!op.is_string()) return key_error("JWK member 'key_ops' must be an array of strings");
      if (!seen.insert(op.get<std::string>()).second) return key_error("JWK member 'key_ops' repeats a value");
      key_ops_.push_back(op.get<std::string>());
    }
  }
  return {};
}

result<jwk> jwk::from_json_text(std::string_view text) {
  auto j = parse_json(text, json_limits{64 * 1024, 8}, "JWK");
  if (!j) return key_error(j.err().detail);
  return from_json(*j);
}

result<jwk> jwk::from_json(const json& j) {
  if (!j.is_object()) return key_error("a JWK must be a JSON object");
  auto kty_it = j.find("kty");
  if (kty_it == j.end() || !kty_it->is_string()) return key_error("JWK is missing 'kty'");
  const auto& kty = kty_it->get_ref<const std::string&>();
  jwk k;
  TW_TRY(k.set_common(j));

  if (kty == "oct") {
    k.type_ = key_type::oct;
    auto secret = opt_secret(j, "k");
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
    if (j.contains("oth")) return key_error("RSA keys with more than two primes are not supported");
    rsa_parts parts;
    auto n = req_b64(j, "n");
    if (!n) return n.err();
    auto e = req_b64(j, "e");
    if (!e) return e.err();
    parts.n = std::move(*n);
    parts.e = std::move(*e);
    auto d = opt_secret(j, "d");
    if (!d) return d.err();
    k.private_ = d->has_value();
    int factors = 0;
    if (k.private_) {
      parts.d = std::move(**d);
      const std::array<std::pair<const char*, secret_bytes*>, 5> opt{
          {{"p", &parts.p}, {"q", &parts.q}, {"dp", &parts.dp}, {"dq", &parts.dq}, {"qi", &parts.qi}}};
      for (auto& [name, dst] : opt) {
        auto v = opt_secret(j, name);
        if (!v) return v.err();
        if (v->has_value()) {
          *dst = std::move(**v);
          ++factors;
        }
      }
      if (factors != 0 && factors != 5) return key_error("RSA private JWK must have all of p, q, dp, dq, qi or none");
    }
    auto nbn = to_bn(parts.n);
    auto ebn = to_bn(parts.e);
    if (!nbn || !ebn) return make_error(errc::internal, "out of memory");
    TW_TRY(check_rsa_public(nbn.get(), ebn.get(), k.rsa_bits_));
    auto pkey = build_rsa(parts, k.private_, factors == 5);
    if (!pkey) return pkey.err();
    if (k.private_ && factors == 5) TW_TRY(check_pkey(pkey->get(), true, "RSA private key"));
    k.adopt(pkey->release());
    return k;
  }

  if (kty == "EC") {
    k.type_ = key_type::ec;
    std::string crv_text;
    TW_TRY(opt_string(j, "crv", crv_text));
    auto c = curve_from_name(crv_text);
    if (!c || *c == curve::ed25519) return key_error("EC JWK curve must be P-256, P-384 or P-521");
    k.crv_ = *c;
    TW_TRY(check_alg_fits(key_type::ec, k.crv_, k.alg_, crv_text));
    const std::size_t size = ec_scalar_size(k.crv_);
    auto x = req_b64(j, "x");
    if (!x) return x.err();
    auto y = req_b64(j, "y");
    if (!y) return y.err();
    if (x->size() != size || y->size() != size) {
      return key_error("EC JWK coordinates must be exactly " + std::to_string(size) + " bytes for " + crv_text);
    }
    auto d = opt_secret(j, "d");
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
    TW_TRY(opt_string(j, "crv", crv_text));
    if (crv_text != "Ed25519") return key_error("OKP JWK curve must be Ed25519 for signatures");
    k.crv_ = curve::ed25519;
    TW_TRY(check_alg_fits(key_type::okp, k.crv_, k.alg_, crv_text));
    auto x = req_b64(j, "x");
    if (!x) return x.err();
    if (x->size() != 32) return key_error("Ed25519 JWK 'x' must be 32 bytes");
    auto d = opt_secret(j, "d");
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

  return key_error("JWK kty '" + kty.substr(0, 16) + "' is not supported");
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
