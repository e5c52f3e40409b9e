"""The custom provider's tokens: the native DebugTokens, and rotation in tokens.TokenService."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import tokenward as tw
from tokenward import rotation
from tokenward.principal import Principal
from tokenward.stores import RotateOutcome
from tokenward.stores.sqlite import SQLiteStore
from tokenward.tokens import DebugTokens, RefreshTokenError, TokenService, split_scopes

SECRET = b"0123456789abcdef0123456789abcdef-tokens"
NOW = 1_800_000_000


def derive(info: bytes) -> bytes:
    """The documented key derivation: HKDF-SHA256, empty salt, 32 bytes."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(SECRET)


SIGNING_KEY = derive(b"tokenward/custom/access-token/v1")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def tokens() -> DebugTokens:
    return DebugTokens(SECRET, issuer="tokenward")


def forge(claims: dict[str, Any], typ: str = "at+jwt") -> str:
    """A token signed with the real signing key, for testing the checks after the signature."""
    key = tw.JWK.from_secret(SIGNING_KEY, "HS256")
    return tw.encode(claims, key, headers={"typ": typ})


def good_claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": "tokenward",
        "sub": "u1",
        "email": "u1@example.com",
        "cognito:groups": ["root"],
        "scope": "reports:read",
        "iat": NOW,
        "exp": NOW + 900,
        "jti": "abc",
        "token_use": "access",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


# --- access tokens -------------------------------------------------------------------------------


def test_access_token_shape(tokens: DebugTokens) -> None:
    token = tokens.issue_access(
        "u1",
        email="u1@example.com",
        groups=["root", "operator"],
        scopes=["reports:read", "reports:write"],
        lifetime=900,
        iat=NOW,
    )
    assert tw.unverified_header(token) == {"alg": "HS256", "typ": "at+jwt"}
    claims = tw.unverified_claims(token)
    assert claims["iss"] == "tokenward"
    assert claims["sub"] == "u1"
    assert claims["email"] == "u1@example.com"
    assert claims["cognito:groups"] == ["root", "operator"]
    assert claims["scope"] == "reports:read reports:write"
    assert claims["iat"] == NOW
    assert claims["exp"] == NOW + 900
    assert claims["token_use"] == "access"
    assert len(base64.urlsafe_b64decode(claims["jti"] + "==")) == 16
    assert tokens.verify_access(token, now=NOW + 1) == claims


def test_access_token_signature_is_hs256_under_the_derived_key(tokens: DebugTokens) -> None:
    token = tokens.issue_access("u1", lifetime=60, iat=NOW)
    signing_input, _, signature = token.rpartition(".")
    expected = hmac.new(SIGNING_KEY, signing_input.encode(), hashlib.sha256).digest()
    assert signature == b64url(expected)
    # and any standard JOSE library verifies it with that key
    verifier = tw.Verifier(tw.JWK.from_secret(SIGNING_KEY, "HS256"), algorithms=["HS256"])
    assert verifier.verify(token, now=NOW)["sub"] == "u1"


def test_jti_is_fresh_unless_given(tokens: DebugTokens) -> None:
    a = tokens.issue_access("u1", lifetime=60, iat=NOW)
    b = tokens.issue_access("u1", lifetime=60, iat=NOW)
    assert tw.unverified_claims(a)["jti"] != tw.unverified_claims(b)["jti"]
    c = tokens.issue_access("u1", lifetime=60, iat=NOW, jti="fixed")
    d = tokens.issue_access("u1", lifetime=60, iat=NOW, jti="fixed")
    assert c == d


def test_expired_and_future_tokens(tokens: DebugTokens) -> None:
    token = tokens.issue_access("u1", lifetime=60, iat=NOW)
    tokens.verify_access(token, now=NOW + 59)
    with pytest.raises(tw.ExpiredTokenError):
        tokens.verify_access(token, now=NOW + 60)
    with pytest.raises(tw.ImmatureTokenError):
        tokens.verify_access(token, now=NOW - 10)


def test_leeway(tokens: DebugTokens) -> None:
    lenient = DebugTokens(SECRET, issuer="tokenward", leeway=30)
    token = tokens.issue_access("u1", lifetime=60, iat=NOW)
    lenient.verify_access(token, now=NOW + 80)
    with pytest.raises(tw.ExpiredTokenError):
        lenient.verify_access(token, now=NOW + 90)


def test_other_secret_or_issuer_is_refused(tokens: DebugTokens) -> None:
    token = tokens.issue_access("u1", lifetime=60, iat=NOW)
    with pytest.raises(tw.InvalidSignatureError):
        DebugTokens(SECRET + b"!", issuer="tokenward").verify_access(token, now=NOW)
    with pytest.raises(tw.InvalidIssuerError):
        DebugTokens(SECRET, issuer="elsewhere").verify_access(token, now=NOW)


def test_the_type_marker_is_checked_after_a_good_signature(tokens: DebugTokens) -> None:
    assert tokens.verify_access(forge(good_claims()), now=NOW)["sub"] == "u1"
    for typ in ("JWT", "at+JWT", "application/at+jwt"):
        if typ.lower().removeprefix("application/") == "at+jwt":
            tokens.verify_access(forge(good_claims(), typ=typ), now=NOW)
        else:
            with pytest.raises(tw.InvalidClaimError):
                tokens.verify_access(forge(good_claims(), typ=typ), now=NOW)
    for use in ("id", "refresh", "Access", 1):
        with pytest.raises(tw.InvalidClaimError):
            tokens.verify_access(forge(good_claims(token_use=use)), now=NOW)


@pytest.mark.parametrize(
    "missing", ["exp", "iat", "sub", "jti", "token_use", "iss"], ids=lambda m: f"no-{m}"
)
def test_required_claims(tokens: DebugTokens, missing: str) -> None:
    claims = good_claims()
    del claims[missing]
    with pytest.raises(tw.MissingClaimError):
        tokens.verify_access(forge(claims), now=NOW)


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": ""},
        {"sub": 5},
        {"jti": 7},
        {"email": ["x"]},
        {"scope": ["a", "b"]},
        {"cognito:groups": "root"},
        {"cognito:groups": ["root", 1]},
    ],
)
def test_claim_types(tokens: DebugTokens, changes: dict[str, Any]) -> None:
    with pytest.raises(tw.InvalidClaimError):
        tokens.verify_access(forge(good_claims(**changes)), now=NOW)


def test_claims_that_are_not_an_object(tokens: DebugTokens) -> None:
    header = b64url(json.dumps({"alg": "HS256", "typ": "at+jwt"}).encode())
    payload = b64url(b"[1,2]")
    signature = hmac.new(SIGNING_KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(tw.InvalidTokenError):
        tokens.verify_access(f"{header}.{payload}.{b64url(signature)}", now=NOW)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b.c",
        "twr_" + "A" * 43,
        "x" * 9000,
        b"\xff\xfe",
        "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.e30.",
    ],
)
def test_garbage_is_an_invalid_token_error(tokens: DebugTokens, token: str | bytes) -> None:
    with pytest.raises(tw.InvalidTokenError):
        tokens.verify_access(token, now=NOW)


def test_alg_confusion_is_refused(tokens: DebugTokens) -> None:
    key = tw.JWK.from_secret(derive(b"tokenward/custom/access-token/v1") * 2, "HS512")
    token = tw.encode(good_claims(), key, headers={"typ": "at+jwt"})
    with pytest.raises(tw.UnsupportedAlgorithmError):
        tokens.verify_access(token, now=NOW)


def test_secret_must_be_32_bytes() -> None:
    with pytest.raises(tw.ConfigurationError, match="32 bytes"):
        DebugTokens(b"x" * 31)
    DebugTokens(b"x" * 32)
    DebugTokens("é" * 16)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"issuer": ""},
        {"leeway": -1},
        {"leeway": float("nan")},
    ],
)
def test_bad_options(kwargs: dict[str, Any]) -> None:
    with pytest.raises(tw.ConfigurationError):
        DebugTokens(SECRET, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lifetime": 0},
        {"lifetime": -5},
        {"lifetime": 11 * 366 * 24 * 3600},
        {"lifetime": 60, "scopes": ["two words"]},
        {"lifetime": 60, "scopes": [""]},
        {"lifetime": 60, "iat": -1},
    ],
)
def test_bad_issue_arguments(tokens: DebugTokens, kwargs: dict[str, Any]) -> None:
    with pytest.raises(tw.ConfigurationError):
        tokens.issue_access("u1", **kwargs)


def test_issue_needs_a_subject_and_lists(tokens: DebugTokens) -> None:
    with pytest.raises(tw.ConfigurationError):
        tokens.issue_access("", lifetime=60)
    with pytest.raises(TypeError):
        tokens.issue_access("u1", groups="root", lifetime=60)
    with pytest.raises(TypeError):
        tokens.issue_access("u1", groups=[1], lifetime=60)  # type: ignore[list-item]


def test_random_secret_tokens_are_private_to_the_instance() -> None:
    a = DebugTokens.with_random_secret()
    b = DebugTokens.with_random_secret()
    token = a.issue_access("u1", lifetime=60)
    assert a.verify_access(token)["sub"] == "u1"
    with pytest.raises(tw.InvalidSignatureError):
        b.verify_access(token)
    assert "secret" not in repr(a).lower() or "DebugTokens" in repr(a)


# --- refresh tokens ------------------------------------------------------------------------------


def test_refresh_token_format() -> None:
    seen = set()
    for _ in range(50):
        token = DebugTokens.new_refresh_token()
        assert token.startswith("twr_")
        assert len(base64.urlsafe_b64decode(token[4:] + "=")) == 32  # 256 bits
        assert DebugTokens.is_refresh_token(token)
        seen.add(token)
    assert len(seen) == 50


@pytest.mark.parametrize(
    "token",
    ["", "twr_", "twr_" + "A" * 42, "twr_" + "A" * 44, "twx_" + "A" * 43, "twr_" + "A" * 42 + "B"],
)
def test_not_refresh_tokens(token: str) -> None:
    # the last one has non-zero trailing bits: not canonical base64url
    assert not DebugTokens.is_refresh_token(token)


def test_refresh_hash_is_an_hmac_under_a_derived_key(tokens: DebugTokens) -> None:
    token = DebugTokens.new_refresh_token()
    expected = hmac.new(derive(b"tokenward/custom/refresh-hash/v1"), token.encode(), "sha256")
    assert tokens.refresh_token_hash(token) == expected.hexdigest()
    assert DebugTokens(SECRET + b"x").refresh_token_hash(token) != expected.hexdigest()
    with pytest.raises(tw.MalformedTokenError):
        tokens.refresh_token_hash("x" * 2000)


def test_successor_is_deterministic_and_keyed(tokens: DebugTokens) -> None:
    token = DebugTokens.new_refresh_token()
    successor = tokens.successor_refresh_token(token)
    assert successor == tokens.successor_refresh_token(token)
    assert DebugTokens.is_refresh_token(successor)
    assert successor != token
    mac = hmac.new(derive(b"tokenward/custom/refresh-successor/v1"), token.encode(), "sha256")
    assert successor == "twr_" + b64url(mac.digest())
    assert DebugTokens(SECRET + b"x").successor_refresh_token(token) != successor
    with pytest.raises(tw.MalformedTokenError):
        tokens.successor_refresh_token("not a refresh token")


def test_random_id() -> None:
    assert len(base64.urlsafe_b64decode(DebugTokens.random_id() + "==")) == 16
    assert DebugTokens.random_id(8) != DebugTokens.random_id(8)
    with pytest.raises(tw.ConfigurationError):
        DebugTokens.random_id(0)


def test_split_scopes() -> None:
    assert split_scopes(None) == ()
    assert split_scopes(" a  b a ") == ("a", "b")
    assert split_scopes(["x", "y", "x"]) == ("x", "y")


# --- TokenService: rotation, reuse, grace --------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(tokens: DebugTokens, clock: Clock) -> Iterator[TokenService]:
    store = SQLiteStore(":memory:")
    yield TokenService(tokens, store, access_lifetime=900, refresh_lifetime=3600, clock=clock)
    asyncio.run(store.close())


WHO = Principal(
    subject="u1",
    credential_type="access_token",
    email="u1@example.com",
    groups=("root",),
    scopes=("reports:read",),
)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_start_stores_only_a_hash(service: TokenService, tokens: DebugTokens) -> None:
    pair = run(service.start(WHO))
    assert pair.expires_in == 900
    assert pair.token_type == "bearer"
    session = run(service.store.get_refresh_session(tokens.refresh_token_hash(pair.refresh_token)))
    assert session is not None
    assert session.subject == "u1"
    assert session.identity == {
        "email": "u1@example.com",
        "groups": ["root"],
        "scopes": ["reports:read"],
    }
    assert session.expires_at == NOW + 3600
    assert pair.refresh_token not in repr(session)
    claims = service.verify_access(pair.access_token)
    assert claims["cognito:groups"] == ["root"]


def test_rotation(service: TokenService, clock: Clock) -> None:
    async def scenario() -> None:
        first = await service.start(WHO)
        clock.now += 100
        second = await service.refresh(first.refresh_token)
        assert second.refresh_token == service.tokens.successor_refresh_token(first.refresh_token)
        claims = service.verify_access(second.access_token)
        assert claims["iat"] == NOW + 100
        assert claims["sub"] == "u1"
        assert claims["scope"] == "reports:read"
        clock.now += 100
        third = await service.refresh(second.refresh_token)
        assert third.refresh_token != second.refresh_token

    run(scenario())


def test_reuse_revokes_the_family(
    service: TokenService, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        first = await service.start(WHO)
        other = await service.start(WHO)
        second = await service.refresh(first.refresh_token)
        clock.now += 11
        with caplog.at_level(logging.WARNING, logger="tokenward"):
            with pytest.raises(RefreshTokenError) as info:
                await service.refresh(first.refresh_token)
        assert info.value.reason == "reused"
        assert any("revoked its family" in r.getMessage() for r in caplog.records)
        with pytest.raises(RefreshTokenError) as info:
            await service.refresh(second.refresh_token)
        assert info.value.reason == "revoked"
        await service.refresh(other.refresh_token)

    run(scenario())


def test_grace_window_returns_the_same_pair(service: TokenService, clock: Clock) -> None:
    async def scenario() -> None:
        first = await service.start(WHO)
        clock.now += 5.7
        a = await service.refresh(first.refresh_token)
        clock.now += 9.9
        b = await service.refresh(first.refresh_token)
        assert (a.access_token, a.refresh_token) == (b.access_token, b.refresh_token)
        assert b.expires_in == 900 - 10
        clock.now += 0.2
        with pytest.raises(RefreshTokenError):
            await service.refresh(first.refresh_token)

    run(scenario())


def test_concurrent_duplicates_agree(service: TokenService) -> None:
    async def scenario() -> None:
        first = await service.start(WHO)
        pairs = await asyncio.gather(*(service.refresh(first.refresh_token) for _ in range(8)))
        assert len({(p.access_token, p.refresh_token) for p in pairs}) == 1

    run(scenario())


def test_zero_grace_means_any_duplicate_is_reuse(tokens: DebugTokens, clock: Clock) -> None:
    async def scenario() -> None:
        store = SQLiteStore(":memory:")
        strict = TokenService(tokens, store, reuse_grace=0, clock=clock)
        first = await strict.start(WHO)
        await strict.refresh(first.refresh_token)
        clock.now += 0.001
        with pytest.raises(RefreshTokenError):
            await strict.refresh(first.refresh_token)
        await store.close()

    run(scenario())


def test_expired_and_unknown(service: TokenService, clock: Clock) -> None:
    async def scenario() -> None:
        first = await service.start(WHO)
        clock.now += 3600
        with pytest.raises(RefreshTokenError) as info:
            await service.refresh(first.refresh_token)
        assert info.value.reason == "expired"
        with pytest.raises(RefreshTokenError) as info:
            await service.refresh(DebugTokens.new_refresh_token())
        assert info.value.reason == "unknown"
        with pytest.raises(RefreshTokenError) as info:
            await service.refresh("nope")
        assert info.value.reason == "malformed"

    run(scenario())


def test_refresh_token_error_is_an_invalid_token_error() -> None:
    assert issubclass(RefreshTokenError, tw.InvalidTokenError)


def test_revoke(service: TokenService) -> None:
    async def scenario() -> None:
        first = await service.start(WHO)
        second = await service.refresh(first.refresh_token)
        assert await service.revoke(first.refresh_token)
        with pytest.raises(RefreshTokenError):
            await service.refresh(second.refresh_token)
        assert not await service.revoke("garbage")
        assert not await service.revoke(DebugTokens.new_refresh_token())

    run(scenario())


def test_rotation_outcome_is_recorded(service: TokenService, tokens: DebugTokens) -> None:
    async def scenario() -> None:
        first = await service.start(WHO)
        await service.refresh(first.refresh_token)
        result = await rotation.rotate(
            service.store,
            tokens.refresh_token_hash(first.refresh_token),
            successor_hash="x",
            successor_jti="y",
            now=NOW,
            expires_at=NOW + 1,
        )
        assert result.outcome is RotateOutcome.SPENT

    run(scenario())


def test_service_refuses_bad_lifetimes(tokens: DebugTokens) -> None:
    store = SQLiteStore(":memory:")
    with pytest.raises(tw.ConfigurationError):
        TokenService(tokens, store, access_lifetime=0)
    with pytest.raises(tw.ConfigurationError):
        TokenService(tokens, store, reuse_grace=-1)
