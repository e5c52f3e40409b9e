"""Module-level helpers of tokenward._api: token_expiry and is_token_expired (unverified)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import Any

import pytest

import tokenward as tw

KEY = tw.JWK.generate("ES256")
NOW = 1_800_000_000


def token(**claims: Any) -> str:
    return tw.encode({"sub": "u1", **claims}, KEY)


def unsigned(claims: Any) -> str:
    """A token with any payload at all (its signature does not matter for inspection)."""
    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return token().split(".")[0] + "." + part + "." + token().split(".")[2]


def test_token_expiry_is_an_aware_utc_datetime() -> None:
    expiry = tw.token_expiry(token(exp=NOW))
    assert expiry == dt.datetime(2027, 1, 15, 8, 0, tzinfo=dt.UTC)
    assert expiry is not None and expiry.timestamp() == NOW
    assert tw.token_expiry(token(exp=NOW + 0.5)) == dt.datetime.fromtimestamp(NOW + 0.5, dt.UTC)


def test_no_exp_means_none_and_not_expired() -> None:
    assert tw.token_expiry(token()) is None
    assert tw.is_token_expired(token()) is False


def test_is_token_expired_follows_the_verifiers_rule() -> None:
    t = token(exp=NOW)
    assert tw.is_token_expired(t, now=NOW - 1) is False
    assert tw.is_token_expired(t, now=NOW) is True  # on exp itself the verifier refuses too
    assert tw.is_token_expired(t, leeway=30, now=NOW + 29) is False
    assert tw.is_token_expired(t, leeway=30, now=NOW + 30) is True
    verifier = tw.Verifier(KEY.public(), algorithms=["ES256"], leeway=30)
    for now in (NOW - 1, NOW + 29, NOW + 30, NOW + 31):
        try:
            verifier.verify(t, now=now)
            accepted = True
        except tw.ExpiredTokenError:
            accepted = False
        assert accepted is not tw.is_token_expired(t, leeway=30, now=now), now


def test_current_time_by_default() -> None:
    assert tw.is_token_expired(token(exp=int(time.time()) - 5)) is True
    assert tw.is_token_expired(token(exp=int(time.time()) + 3600)) is False


def test_unverified_a_bad_signature_is_still_read() -> None:
    t = token(exp=NOW)
    forged = t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB")
    assert tw.token_expiry(forged) == tw.token_expiry(t)


@pytest.mark.parametrize("exp", ["1800000000", None, True, [1], {"at": 1}])
def test_exp_that_is_not_a_number(exp: Any) -> None:
    t = unsigned({"sub": "u1", "exp": exp})
    with pytest.raises(tw.InvalidClaimError):
        tw.token_expiry(t)
    with pytest.raises(tw.InvalidClaimError):
        tw.is_token_expired(t)


def test_exp_out_of_datetime_range() -> None:
    t = unsigned({"sub": "u1", "exp": 1e20})
    with pytest.raises(tw.InvalidClaimError):
        tw.token_expiry(t)
    assert tw.is_token_expired(t) is False  # compared as the number it is
    assert tw.is_token_expired(unsigned({"exp": -1e20})) is True


@pytest.mark.parametrize("bad", ["", "nonsense", "a.b.c", b"\xff.\xff.\xff"])
def test_malformed_tokens(bad: str | bytes) -> None:
    with pytest.raises(tw.MalformedTokenError):
        tw.token_expiry(bad)
    with pytest.raises(tw.MalformedTokenError):
        tw.is_token_expired(bad)


def test_exported() -> None:
    assert {"token_expiry", "is_token_expired"} <= set(tw.__all__)
