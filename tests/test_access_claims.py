"""The claims rules of tokenward's own access tokens, checked once, in the native core: the
verifier option ``access_token`` that ``RingAccessTokens`` (tokens signed by a key ring) sets and
``DebugTokens.verify_access`` (HS256) uses, so no Python code checks them a second time."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import tokenward as tw
from tokenward import tokens as tokens_module
from tokenward.tokens import ACCESS_TOKEN_TYP, DebugTokens, RingAccessTokens

NOW = 1_800_000_000
FIELD_SECRET = "field-secret-0123456789-abcdefghijklmnopqrstuv"
GOOD: dict[str, Any] = {
    "iss": "tokenward",
    "sub": "someone",
    "iat": NOW,
    "exp": NOW + 60,
    "jti": "j1",
    "email": "someone@example.com",
    "scope": "reports:read",
    "cognito:groups": ["root"],
    "token_use": "access",
}
# Each broken claim set, and the start of the message the core refuses it with.
BROKEN = [
    ({"token_use": "refresh"}, "not an access token"),
    ({"token_use": None}, "not an access token"),
    ({"sub": ""}, "'sub' must be a non-empty string"),
    ({"sub": 7}, "'sub' must be a non-empty string"),
    ({"jti": 1}, "'jti' must be a string"),
    ({"email": ["a@example.com"]}, "'email' must be a string"),
    ({"scope": ["reports:read"]}, "'scope' must be a string"),
    ({"cognito:groups": "root"}, "'cognito:groups' must be an array of strings"),
    ({"cognito:groups": ["root", 1]}, "'cognito:groups' must be an array of strings"),
]


@pytest.fixture(scope="module")
def ring() -> tw.KeyRing:
    return tw.KeyRing.generate("ES256")


def _sign(ring: tw.KeyRing, claims: dict[str, Any], cipher: tw.FieldCipher | None = None) -> str:
    if cipher is not None:
        claims = cipher.encrypt_claims(claims)
    return ring.sign(claims, {"typ": ACCESS_TOKEN_TYP})


@pytest.mark.parametrize("encrypted", [False, True], ids=["clear", "field-encrypted"])
@pytest.mark.parametrize(("change", "message"), BROKEN)
def test_the_native_verifier_checks_the_access_claims(
    ring: tw.KeyRing, change: dict[str, Any], message: str, encrypted: bool
) -> None:
    """With ``access_token=True`` the native verifier refuses what DebugTokens.verify_access
    refuses, after decrypting the encrypted members; without it the same token passes."""
    cipher = tw.FieldCipher(FIELD_SECRET) if encrypted else None
    token = _sign(ring, {**GOOD, **change}, cipher)
    options: dict[str, Any] = {"issuer": "tokenward", "field_cipher": cipher}
    checking = ring.verifier(access_token=True, **options)
    with pytest.raises(tw.InvalidClaimError, match=message):
        checking.verify(token, now=NOW)
    assert ring.verifier(**options).verify(token, now=NOW)["sub"] == {**GOOD, **change}["sub"]
    good = _sign(ring, GOOD, cipher)
    assert checking.verify(good, now=NOW) == GOOD


@pytest.mark.parametrize(("change", "message"), BROKEN)
def test_ring_access_tokens_refuse_through_the_core(
    ring: tw.KeyRing, change: dict[str, Any], message: str
) -> None:
    """RingAccessTokens refuses the broken claim sets (as before), and its verify is the native
    verifier's answer with no Python check after it."""
    access = RingAccessTokens(ring, issuer="tokenward", cache_size=16)
    with pytest.raises(tw.InvalidClaimError, match=message):
        access.verify(_sign(ring, {**GOOD, **change}), now=NOW)
    assert access.verify(_sign(ring, GOOD), now=NOW) == GOOD
    assert not hasattr(tokens_module, "_check_access_claims")
    assert "InvalidClaimError" not in inspect.getsource(tokens_module)


@pytest.mark.parametrize(("change", "message"), BROKEN)
def test_debug_tokens_refuse_with_the_same_rules(change: dict[str, Any], message: str) -> None:
    """HS256 tokens (DebugTokens.verify_access) go through the same native rules, with the same
    messages as the ring's tokens."""
    secret = b"access-claims-secret-0123456789abcdef"
    signing = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"tokenward/custom/access-token/v1"
    ).derive(secret)
    key = tw.JWK.from_secret(signing, "HS256")
    debug = DebugTokens(secret)
    token = tw.encode({**GOOD, **change}, key, headers={"typ": ACCESS_TOKEN_TYP})
    with pytest.raises(tw.InvalidClaimError, match=message):
        debug.verify_access(token, now=NOW)
    good = tw.encode(GOOD, key, headers={"typ": ACCESS_TOKEN_TYP})
    assert debug.verify_access(good, now=NOW) == GOOD
