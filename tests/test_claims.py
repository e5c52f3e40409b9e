"""Claim checks: exp/nbf/iat with leeway, iss, aud, required claims and the header typ."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

import tokenward as tw

NOW = 1_700_000_000
KEY = tw.JWK.from_secret(b"tokenward-claims-tests-secret-0123456789", "HS256")


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def check(claims: dict[str, Any], *, now: float = NOW, headers: Any = None, **policy: Any) -> Any:
    token = tw.encode(claims, KEY, headers=headers)
    return tw.Verifier(KEY, algorithms=["HS256"], **policy).verify(token, now=now)


# --------------------------------------------------------------------------------------------
# exp


@pytest.mark.parametrize(
    ("now", "leeway", "ok"),
    [
        (NOW - 1, 0, True),
        (NOW - 0.001, 0, True),
        (NOW, 0, False),  # exp is the first instant at which the token is no longer valid
        (NOW + 0.001, 0, False),
        (NOW + 1, 0, False),
        (NOW + 9, 10, True),
        (NOW + 9.999, 10, True),
        (NOW + 10, 10, False),
        (NOW + 11, 10, False),
        (NOW + 0.4, 0.5, True),
        (NOW + 0.5, 0.5, False),
    ],
)
def test_exp_boundaries(now: float, leeway: float, ok: bool) -> None:
    claims = {"sub": "alice", "exp": NOW}
    if ok:
        assert check(claims, now=now, leeway=leeway) == claims
    else:
        with pytest.raises(tw.ExpiredTokenError):
            check(claims, now=now, leeway=leeway)


def test_exp_as_float() -> None:
    claims = {"sub": "alice", "exp": NOW + 0.5}
    assert check(claims, now=NOW + 0.25) == claims
    with pytest.raises(tw.ExpiredTokenError):
        check(claims, now=NOW + 0.5)


# --------------------------------------------------------------------------------------------
# nbf and iat


@pytest.mark.parametrize("claim", ["nbf", "iat"])
@pytest.mark.parametrize(
    ("now", "leeway", "ok"),
    [
        (NOW, 0, True),
        (NOW + 1, 0, True),
        (NOW - 0.001, 0, False),
        (NOW - 1, 0, False),
        (NOW - 10, 10, True),
        (NOW - 9, 10, True),
        (NOW - 10.001, 10, False),
        (NOW - 11, 10, False),
    ],
)
def test_nbf_and_iat_boundaries(claim: str, now: float, leeway: float, ok: bool) -> None:
    claims = {"sub": "alice", claim: NOW}
    if ok:
        assert check(claims, now=now, leeway=leeway) == claims
    else:
        with pytest.raises(tw.ImmatureTokenError):
            check(claims, now=now, leeway=leeway)


def test_iat_in_the_past_is_fine() -> None:
    claims = {"sub": "alice", "iat": 0, "nbf": 0}
    assert check(claims) == claims


def test_all_time_claims_together() -> None:
    claims = {"sub": "alice", "iat": NOW - 5, "nbf": NOW - 5, "exp": NOW + 5}
    assert check(claims) == claims
    with pytest.raises(tw.ExpiredTokenError):
        check(claims, now=NOW + 5)
    with pytest.raises(tw.ImmatureTokenError):
        check(claims, now=NOW - 6)
    assert check(claims, now=NOW - 6, leeway=1) == claims
    assert check(claims, now=NOW + 5, leeway=1) == claims


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize(
    "value",
    [
        "1700000060",
        "soon",
        "",
        True,
        False,
        None,
        [NOW + 60],
        {"t": NOW + 60},
    ],
    ids=["numeric-string", "string", "empty", "true", "false", "null", "list", "object"],
)
def test_time_claims_must_be_numbers(claim: str, value: Any) -> None:
    with pytest.raises(tw.InvalidClaimError):
        check({"sub": "alice", claim: value})
    with pytest.raises(tw.InvalidClaimError):
        check({"sub": "alice", claim: value}, leeway=10**9)


def test_absent_time_claims_are_not_required() -> None:
    assert check({"sub": "alice"}) == {"sub": "alice"}


# --------------------------------------------------------------------------------------------
# iss


ISSUER = "https://issuer.example.com"


def test_issuer_string() -> None:
    claims = {"sub": "alice", "iss": ISSUER}
    assert check(claims, issuer=ISSUER) == claims
    with pytest.raises(tw.InvalidIssuerError):
        check({**claims, "iss": "https://other.example.com"}, issuer=ISSUER)
    with pytest.raises(tw.MissingClaimError):
        check({"sub": "alice"}, issuer=ISSUER)
    # no issuer configured: iss is not checked
    assert check({**claims, "iss": "anything"}) == {**claims, "iss": "anything"}


def test_issuer_list() -> None:
    issuers = ["https://a.example", ISSUER, "https://c.example"]
    for iss in issuers:
        assert check({"iss": iss}, issuer=issuers) == {"iss": iss}
        assert check({"iss": iss}, issuer=tuple(issuers)) == {"iss": iss}
    with pytest.raises(tw.InvalidIssuerError):
        check({"iss": "https://b.example"}, issuer=issuers)
    with pytest.raises(tw.InvalidIssuerError):
        check({"iss": ISSUER.upper()}, issuer=issuers)
    with pytest.raises(tw.MissingClaimError):
        check({"sub": "x"}, issuer=issuers)


# --------------------------------------------------------------------------------------------
# aud


@pytest.mark.parametrize(
    ("expected", "aud"),
    [
        ("api", "api"),
        ("api", ["api"]),
        ("api", ["other", "api"]),
        (["api", "web"], "web"),
        (["api", "web"], ["web"]),
        (["api", "web"], ["x", "api", "y"]),
        (("api",), "api"),
    ],
)
def test_audience_match(expected: Any, aud: Any) -> None:
    claims = {"sub": "alice", "aud": aud}
    assert check(claims, audience=expected) == claims


@pytest.mark.parametrize(
    ("expected", "aud"),
    [
        ("api", "API"),
        ("api", "api "),
        ("api", "ap"),
        ("api", "api.evil"),
        ("api", ["other"]),
        ("api", []),
        ("api", ""),
        (["api", "web"], "mobile"),
        (["api", "web"], ["mobile", "desktop"]),
        ("api", ["api-x"]),
        ("api", [["api"]]),
        ("api", {"api": True}),
        ("api", 1),
        ("api", None),
    ],
)
def test_audience_mismatch(expected: Any, aud: Any) -> None:
    with pytest.raises(tw.InvalidAudienceError):
        check({"sub": "alice", "aud": aud}, audience=expected)


@pytest.mark.parametrize("aud", ["api", ["api"], [], ""])
def test_audience_present_but_not_expected(aud: Any) -> None:
    """A token for some audience must not be accepted by a service that expects none."""
    with pytest.raises(tw.InvalidAudienceError):
        check({"sub": "alice", "aud": aud})


def test_audience_missing_when_expected() -> None:
    with pytest.raises(tw.MissingClaimError):
        check({"sub": "alice"}, audience="api")
    with pytest.raises(tw.MissingClaimError):
        check({"sub": "alice"}, audience=["api", "web"])


# --------------------------------------------------------------------------------------------
# require


def test_require() -> None:
    claims = {"sub": "alice", "jti": "1", "exp": NOW + 60}
    assert check(claims, require=["sub", "jti", "exp"]) == claims
    assert check(claims, require=("sub",)) == claims
    assert check(claims, require=[]) == claims
    for missing in ("jti", "exp", "iat", "scope"):
        with pytest.raises(tw.MissingClaimError):
            check({k: v for k, v in claims.items() if k != missing}, require=["sub", missing])
    # present with a null value still counts as present
    assert check({"sub": None}, require=["sub"]) == {"sub": None}


def test_require_exp_is_missing_claim_not_expired() -> None:
    with pytest.raises(tw.MissingClaimError):
        check({"sub": "alice"}, require=["exp"], leeway=5)


# --------------------------------------------------------------------------------------------
# typ


@pytest.mark.parametrize(
    ("header_typ", "expected"),
    [
        ("JWT", "JWT"),
        ("jwt", "JWT"),
        ("JWT", "jwt"),
        ("application/jwt", "JWT"),
        ("JWT", "application/jwt"),
        ("at+jwt", "at+jwt"),
        ("application/at+jwt", "at+jwt"),
        ("at+jwt", "application/at+jwt"),
        ("AT+JWT", "at+jwt"),
        ("Application/AT+JWT", "at+jwt"),
        ("application/at+jwt", "Application/At+Jwt"),
    ],
)
def test_typ_accepted(header_typ: str, expected: str) -> None:
    claims = {"sub": "alice"}
    assert check(claims, headers={"typ": header_typ}, typ=expected) == claims


@pytest.mark.parametrize(
    ("header_typ", "expected"),
    [
        ("JWT", "at+jwt"),
        ("at+jwt", "JWT"),
        ("application/jwt", "at+jwt"),
        ("at+jwt ", "at+jwt"),
        ("at+jw", "at+jwt"),
        ("application/", "at+jwt"),
        ("", "at+jwt"),
        ("text/at+jwt", "at+jwt"),
        ("application/application/at+jwt", "at+jwt"),
        ("dpop+jwt", "at+jwt"),
    ],
)
def test_typ_rejected(header_typ: str, expected: str) -> None:
    with pytest.raises(tw.InvalidClaimError):
        check({"sub": "alice"}, headers={"typ": header_typ}, typ=expected)


def test_typ_missing_when_expected() -> None:
    # encode always writes a typ; build a header without one by hand
    token = tw.encode({"sub": "alice"}, KEY)
    signing_input = b64e(b'{"alg":"HS256"}') + "." + token.split(".")[1]
    secret = base64.urlsafe_b64decode(KEY.to_dict(private=True)["k"] + "==")
    sig = b64e(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
    untyped = f"{signing_input}.{sig}"
    verifier = tw.Verifier(KEY, algorithms=["HS256"])
    assert verifier.verify(untyped, now=NOW) == {"sub": "alice"}
    with pytest.raises(tw.InvalidClaimError):
        tw.Verifier(KEY, algorithms=["HS256"], typ="JWT").verify(untyped, now=NOW)


def test_typ_not_checked_when_not_configured() -> None:
    assert check({"sub": "alice"}, headers={"typ": "anything/else"}) == {"sub": "alice"}


# --------------------------------------------------------------------------------------------
# order and combination


def test_bad_signature_wins_over_claims() -> None:
    """Claims of a token whose signature fails are never looked at."""
    other = tw.JWK.from_secret(b"another-claims-tests-secret-0123456789!!", "HS256")
    token = tw.encode({"sub": "alice", "exp": 1, "aud": "x"}, other)
    with pytest.raises(tw.InvalidSignatureError):
        tw.Verifier(KEY, algorithms=["HS256"], audience="api").verify(token, now=NOW)


def test_full_policy() -> None:
    claims = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": ["api", "web"],
        "exp": NOW + 300,
        "nbf": NOW - 5,
        "iat": NOW - 5,
        "jti": "abc",
        "scope": "read write",
    }
    policy = {
        "issuer": ISSUER,
        "audience": "api",
        "leeway": 2,
        "require": ["sub", "jti", "exp"],
        "typ": "JWT",
    }
    assert check(claims, **policy) == claims
    token = tw.encode(claims, KEY)
    # decode() takes the same policy (and reads the real clock: NOW + 300 is long past)
    with pytest.raises(tw.ExpiredTokenError):
        tw.decode(token, KEY, algorithms=["HS256"], **policy)
    later = {**claims, "exp": 4_000_000_000}
    assert tw.decode(tw.encode(later, KEY), KEY, algorithms=["HS256"], **policy) == later
