"""The verified-token cache of Verifier (cache_size=...): hits skip work, never outlive exp, are
keyed by the exact token, stay bounded, and hand out copies."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import tokenward as tw
from tokenward.tokens import DebugTokens

NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def key() -> tw.JWK:
    return tw.JWK.generate("ES256")


def token(key: tw.JWK, **claims: Any) -> str:
    base: dict[str, Any] = {"sub": "u1", "exp": NOW + 60, "groups": ["a", "b"]}
    base.update(claims)
    return tw.encode(base, key)


def verifier(key: tw.JWK, size: int = 10, **kwargs: Any) -> tw.Verifier:
    return tw.Verifier(key.public(), algorithms=["ES256"], cache_size=size, **kwargs)


def with_other_signature(token: str) -> str:
    """The same header and payload with the signature's last two characters changed."""
    header, payload, signature = token.split(".")
    return f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'AQ'}"


def test_no_cache_by_default(key: tw.JWK) -> None:
    assert tw.Verifier(key.public(), algorithms=["ES256"]).cache_info() is None


def test_second_verify_is_a_hit_with_equal_claims(key: tw.JWK) -> None:
    v = verifier(key)
    t = token(key)
    first = v.verify(t, now=NOW)
    second = v.verify(t, now=NOW)
    assert first == second
    info = v.cache_info()
    assert info is not None
    assert (info["hits"], info["misses"], info["size"]) == (1, 1, 1)


def test_hits_are_private_copies(key: tw.JWK) -> None:
    v = verifier(key)
    t = token(key)
    v.verify(t, now=NOW)["groups"].append("root")
    hit = v.verify(t, now=NOW)
    assert hit["groups"] == ["a", "b"]
    hit["sub"] = "admin"
    assert v.verify(t, now=NOW)["sub"] == "u1"


def test_never_returns_a_token_past_its_exp(key: tw.JWK) -> None:
    v = verifier(key)
    t = token(key, exp=NOW + 10)
    v.verify(t, now=NOW)
    with pytest.raises(tw.ExpiredTokenError):
        v.verify(t, now=NOW + 10)
    info = v.cache_info()
    assert info is not None and info["size"] == 0


def test_leeway_applies_to_cached_tokens_as_to_fresh_ones(key: tw.JWK) -> None:
    v = verifier(key, leeway=5)
    t = token(key, exp=NOW + 10)
    v.verify(t, now=NOW)
    assert v.verify(t, now=NOW + 14)["sub"] == "u1"
    with pytest.raises(tw.ExpiredTokenError):
        v.verify(t, now=NOW + 15)


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_clock_set_back_gets_the_answer_of_a_full_check(key: tw.JWK, claim: str) -> None:
    """A hit answers as a full verification would at the same `now`: before nbf or iat (minus
    the leeway) the cached token is not valid yet, even though it was a moment ago."""
    v = verifier(key, leeway=5)
    t = token(key, **{claim: NOW})
    v.verify(t, now=NOW)
    assert v.verify(t, now=NOW - 5)["sub"] == "u1"  # within the leeway: still a hit
    with pytest.raises(tw.ImmatureTokenError):
        v.verify(t, now=NOW - 5.5)
    info = v.cache_info()
    assert info is not None and info["size"] == 0 and info["hits"] == 1
    assert v.verify(t, now=NOW)["sub"] == "u1"  # verified afresh and cached again


def test_a_different_token_never_hits_another_entry(key: tw.JWK) -> None:
    v = verifier(key)
    good = token(key)
    v.verify(good, now=NOW)
    tampered = with_other_signature(good)
    with pytest.raises(tw.InvalidSignatureError):
        v.verify(tampered, now=NOW)
    with pytest.raises(tw.MalformedTokenError):
        v.verify(good + " ", now=NOW)
    other = token(key, sub="u2")
    assert v.verify(other, now=NOW)["sub"] == "u2"


def test_the_same_signature_under_another_header_or_payload_never_hits(key: tw.JWK) -> None:
    """Entries are found by the signature part; the header and payload must match too."""
    v = verifier(key)
    good = token(key)
    v.verify(good, now=NOW)
    header, payload, signature = good.split(".")
    other_payload = token(key, sub="admin").split(".")[1]
    other_header = tw.encode({"sub": "u1"}, key, headers={"kid": "x"}).split(".")[0]
    forgeries = (f"{header}.{other_payload}.{signature}", f"{other_header}.{payload}.{signature}")
    for forged in forgeries:
        with pytest.raises(tw.InvalidSignatureError):
            v.verify(forged, now=NOW)
    info = v.cache_info()
    assert info is not None and info["hits"] == 0
    assert v.verify(good, now=NOW) == v.verify(good, now=NOW)


def test_hits_with_a_field_cipher_are_the_decrypted_claims(key: tw.JWK) -> None:
    cipher = tw.FieldCipher("an application secret of at least 32 bytes")
    claims = {"sub": "u1", "exp": NOW + 60, "email": "alice@example.com", "groups": ["a"]}
    t = tw.encode(claims, key, field_cipher=cipher)
    v = verifier(key, field_cipher=cipher)
    first = v.verify(t, now=NOW)
    assert first["email"] == "alice@example.com"
    first["groups"].append("root")
    assert v.verify(t, now=NOW) == claims
    info = v.cache_info()
    assert info is not None and info["hits"] == 1


def test_entries_past_the_hot_tier_answer_alike(key: tw.JWK) -> None:
    """Beyond the few most recent tokens (kept with their finished dicts), hits are rebuilt from
    the compact entries: the same claims, private copies, and never past exp."""
    v = verifier(key, size=200)
    tokens = [token(key, sub=f"u{i}", exp=NOW + 60 + i) for i in range(100)]
    fresh = [v.verify(t, now=NOW) for t in tokens]
    hit = v.verify(tokens[0], now=NOW)  # long out of the hot tier
    assert hit == fresh[0]
    hit["groups"].append("root")
    assert v.verify(tokens[0], now=NOW) == fresh[0]  # now hot again
    with pytest.raises(tw.ExpiredTokenError):
        v.verify(tokens[1], now=NOW + 61)
    info = v.cache_info()
    assert info is not None and info["hits"] == 2 and info["size"] == 99


def test_rejected_tokens_are_not_cached(key: tw.JWK) -> None:
    v = verifier(key, audience="api")
    t = token(key, aud="other")
    for _ in range(2):
        with pytest.raises(tw.InvalidAudienceError):
            v.verify(t, now=NOW)
    info = v.cache_info()
    assert info is not None and info["size"] == 0 and info["hits"] == 0


def test_tokens_without_exp_are_not_cached(key: tw.JWK) -> None:
    v = verifier(key)
    t = tw.encode({"sub": "u1"}, key)
    v.verify(t, now=NOW)
    v.verify(t, now=NOW)
    info = v.cache_info()
    assert info is not None and info["size"] == 0 and info["hits"] == 0


def test_bounded_by_capacity_least_recently_used_first(key: tw.JWK) -> None:
    v = verifier(key, size=3)
    tokens = [token(key, sub=f"u{i}") for i in range(5)]
    for t in tokens:
        v.verify(t, now=NOW)
    info = v.cache_info()
    assert info is not None and info["size"] == 3 and info["capacity"] == 3
    v.verify(tokens[-1], now=NOW)  # still cached
    v.verify(tokens[0], now=NOW)  # evicted: a miss
    info = v.cache_info()
    assert info is not None and info["hits"] == 1 and info["misses"] == 6


def test_oversized_tokens_are_verified_every_time(key: tw.JWK) -> None:
    v = verifier(key)
    t = token(key, pad="x" * 9000)
    v.verify(t, now=NOW)
    v.verify(t, now=NOW)
    info = v.cache_info()
    assert info is not None and info["size"] == 0


def test_replacing_keys_empties_the_cache(key: tw.JWK) -> None:
    v = tw.Verifier(tw.JWKSet([key.public()]), algorithms=["ES256"], cache_size=10)
    t = token(key)
    v.verify(t, now=NOW)
    other = tw.JWK.generate("ES256")
    v.replace_keys(tw.JWKSet([other.public()]))
    with pytest.raises(tw.KeyNotFoundError):
        v.verify(t, now=NOW)


def test_cache_size_is_bounded_by_configuration(key: tw.JWK) -> None:
    with pytest.raises(tw.ConfigurationError):
        verifier(key, size=10_000_000)


def test_real_clock(key: tw.JWK) -> None:
    v = verifier(key)
    t = tw.encode({"sub": "u1", "exp": int(time.time()) + 60}, key)
    assert v.verify(t) == v.verify(t)


def test_check_async_answers_as_verify_async_does_without_the_claims(key: tw.JWK) -> None:
    v = verifier(key, size=4)
    t = token(key)
    assert asyncio.run(v.check_async(t, now=NOW)) is None  # a miss: checked in full, cached
    assert asyncio.run(v.check_async(t, now=NOW)) is None  # a hit
    info = v.cache_info()
    assert info is not None and (info["hits"], info["misses"], info["size"]) == (1, 1, 1)
    with pytest.raises(tw.ExpiredTokenError):
        asyncio.run(v.check_async(t, now=NOW + 61))
    with pytest.raises(tw.InvalidSignatureError):
        asyncio.run(v.check_async(with_other_signature(t), now=NOW))
    foreign = tw.encode({"sub": "u1", "exp": NOW + 60}, tw.JWK.generate("ES256"))
    with pytest.raises(tw.InvalidTokenError) as verified:
        asyncio.run(v.verify_async(foreign, now=NOW))
    with pytest.raises(type(verified.value)):  # the same error as verify_async's
        asyncio.run(v.check_async(foreign, now=NOW))


class GrowingSource:
    """A key source of our own (a Python one: the verifier asks it on every call)."""

    def __init__(self, *keys: tw.JWK) -> None:
        self.keys = [k.public() for k in keys]

    def get_keys(self) -> tw.JWKSet:
        return tw.JWKSet(self.keys)

    async def get_keys_async(self) -> tw.JWKSet:
        return self.get_keys()

    def keys_for_kid(self, kid: str | None) -> tw.JWKSet | None:
        found = self.get_keys()
        return found if kid is not None and found.get(kid) is not None else None

    async def keys_for_kid_async(self, kid: str | None) -> tw.JWKSet | None:
        return self.keys_for_kid(kid)


def test_check_async_over_a_key_source_asks_it_as_verify_async_does(key: tw.JWK) -> None:
    later = tw.JWK.generate("ES256")
    source = GrowingSource(key)
    v = tw.Verifier(source, algorithms=["ES256"], cache_size=4)
    assert asyncio.run(v.check_async(token(key), now=NOW)) is None
    source.keys.append(later.public())  # a kid the verifier has not seen: the source is asked
    assert asyncio.run(v.check_async(token(later), now=NOW)) is None
    with pytest.raises(tw.KeyNotFoundError):
        asyncio.run(v.check_async(token(tw.JWK.generate("ES256")), now=NOW))
    with pytest.raises(tw.ExpiredTokenError):
        asyncio.run(v.check_async(token(key), now=NOW + 61))


# --- DebugTokens (the custom provider's access tokens) share the same cache ----------------------

DEBUG_SECRET = b"0123456789abcdef0123456789abcdef-cache"


def debug_tokens(size: int = 10, **kwargs: Any) -> DebugTokens:
    return DebugTokens(DEBUG_SECRET, issuer="tokenward", cache_size=size, **kwargs)


def access(tokens: DebugTokens, **kwargs: Any) -> str:
    kwargs.setdefault("groups", ["a", "b"])
    return tokens.issue_access("u1", lifetime=60, iat=int(NOW), **kwargs)


def test_debug_tokens_have_no_cache_by_default() -> None:
    assert DebugTokens(DEBUG_SECRET).cache_info() is None
    assert DebugTokens.with_random_secret().cache_info() is None
    info = DebugTokens.with_random_secret(cache_size=5).cache_info()
    assert info is not None and info["capacity"] == 5


def test_debug_tokens_second_verify_is_a_hit_and_a_private_copy() -> None:
    tokens = debug_tokens()
    t = access(tokens)
    first = tokens.verify_access(t, now=NOW)
    first["cognito:groups"].append("root")
    first["sub"] = "admin"
    second = tokens.verify_access(t, now=NOW)
    assert second["sub"] == "u1" and second["cognito:groups"] == ["a", "b"]
    info = tokens.cache_info()
    assert info is not None
    assert (info["hits"], info["misses"], info["size"]) == (1, 1, 1)


def test_debug_tokens_never_return_a_token_past_its_exp() -> None:
    tokens = debug_tokens(leeway=5)
    t = access(tokens)
    tokens.verify_access(t, now=NOW)
    assert tokens.verify_access(t, now=NOW + 64)["sub"] == "u1"
    with pytest.raises(tw.ExpiredTokenError):
        tokens.verify_access(t, now=NOW + 65)
    info = tokens.cache_info()
    assert info is not None and info["size"] == 0


def test_check_access_answers_as_verify_access_does_without_the_claims() -> None:
    tokens = debug_tokens(leeway=5, size=4)
    t = access(tokens)
    assert tokens.check_access(t, now=NOW) is None  # a miss: verified in full, then cached
    assert tokens.check_access(t, now=NOW) is None  # a hit
    info = tokens.cache_info()
    assert info is not None and (info["hits"], info["misses"], info["size"]) == (1, 1, 1)
    assert tokens.check_access(t, now=NOW + 64) is None
    with pytest.raises(tw.ExpiredTokenError):
        tokens.check_access(t, now=NOW + 65)  # past exp, cached or not
    with pytest.raises(tw.ImmatureTokenError):
        tokens.check_access(access(tokens, jti="later"), now=NOW - 10)
    with pytest.raises(tw.InvalidSignatureError):
        tokens.check_access(with_other_signature(t), now=NOW)
    with pytest.raises(tw.MalformedTokenError):
        tokens.check_access("not.a.token", now=NOW)


def test_check_access_without_a_cache_verifies_every_time() -> None:
    tokens = DebugTokens(DEBUG_SECRET, issuer="tokenward")
    t = access(tokens)
    assert tokens.check_access(t, now=NOW) is None
    with pytest.raises(tw.InvalidSignatureError):
        tokens.check_access(with_other_signature(t), now=NOW)
    with pytest.raises(tw.ExpiredTokenError):
        tokens.check_access(t, now=NOW + 61)


def test_check_access_past_the_hot_tier_finds_the_cached_entry() -> None:
    tokens = debug_tokens(size=200)
    issued = [access(tokens, jti=f"t{i}") for i in range(100)]  # more than the hot tier's 64
    for t in issued:
        tokens.verify_access(t, now=NOW)
    for t in issued:
        tokens.check_access(t, now=NOW)
    info = tokens.cache_info()
    assert info is not None and info["misses"] == 100 and info["hits"] == 100
    with pytest.raises(tw.ExpiredTokenError):
        tokens.check_access(issued[0], now=NOW + 61)


def test_debug_tokens_refuse_a_cached_token_before_its_iat() -> None:
    tokens = debug_tokens()
    t = access(tokens)
    tokens.verify_access(t, now=NOW)
    with pytest.raises(tw.ImmatureTokenError):
        tokens.verify_access(t, now=NOW - 1)


def test_debug_tokens_cache_is_keyed_by_the_exact_token() -> None:
    tokens = debug_tokens()
    good = access(tokens)
    tokens.verify_access(good, now=NOW)
    tampered = with_other_signature(good)
    with pytest.raises(tw.InvalidSignatureError):
        tokens.verify_access(tampered, now=NOW)
    with pytest.raises(tw.MalformedTokenError):
        tokens.verify_access(good + " ", now=NOW)
    other_secret = DebugTokens(DEBUG_SECRET + b"!", issuer="tokenward", cache_size=10)
    with pytest.raises(tw.InvalidSignatureError):
        other_secret.verify_access(good, now=NOW)
    info = tokens.cache_info()
    assert info is not None and info["size"] == 1 and info["hits"] == 0


def test_debug_tokens_cache_is_bounded() -> None:
    tokens = debug_tokens(size=2)
    for i in range(4):
        tokens.verify_access(access(tokens, jti=f"j{i}"), now=NOW)
    info = tokens.cache_info()
    assert info is not None and info["size"] == 2 and info["capacity"] == 2
    with pytest.raises(tw.ConfigurationError):
        debug_tokens(size=10_000_000)
