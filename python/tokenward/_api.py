"""Module-level helpers over the native core: encode, decode and unverified inspection."""

from __future__ import annotations

import datetime as _dt
import time as _time
from collections.abc import Mapping, Sequence
from typing import Any

from tokenward import _core
from tokenward._core import JWK, FieldCipher, JWKSet, Verifier
from tokenward.exceptions import InvalidClaimError

_TIME_CLAIMS = ("exp", "nbf", "iat")


def _numeric_dates(claims: Mapping[str, Any]) -> Mapping[str, Any]:
    """Turn datetime values of exp/nbf/iat into NumericDate integers (RFC 7519 §2)."""
    if not isinstance(claims, Mapping) or not any(
        isinstance(claims.get(name), _dt.datetime) for name in _TIME_CLAIMS
    ):
        return claims
    out = dict(claims)
    for name in _TIME_CLAIMS:
        value = out.get(name)
        if isinstance(value, _dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=_dt.UTC)
            out[name] = int(value.timestamp())
    return out


def encode(
    claims: Mapping[str, Any],
    key: JWK,
    headers: Mapping[str, Any] | None = None,
    *,
    algorithm: str | None = None,
    field_cipher: FieldCipher | None = None,
) -> str:
    """Sign ``claims`` as a compact JWS (a JWT) with ``key``.

    The algorithm is the key's own; ``algorithm`` is needed only for a key that carries none
    (an RSA key may sign RS* or PS*) and must agree with it otherwise. The header gets
    ``alg``, ``typ: "JWT"`` and the key's ``kid``; ``headers`` adds to it but cannot change ``alg``.
    ``datetime`` values of ``exp``, ``nbf`` and ``iat`` become NumericDates.
    With ``field_cipher``, every member but the registered claims is encrypted before signing
    (see :class:`FieldCipher`).
    """
    claims = _numeric_dates(claims)
    if field_cipher is not None:
        claims = field_cipher.encrypt_claims(claims)
    return _core.encode(claims, key, headers, algorithm)


def decode(
    token: str | bytes,
    key: JWK | JWKSet,
    *,
    algorithms: Sequence[str],
    issuer: str | Sequence[str] | None = None,
    audience: str | Sequence[str] | None = None,
    leeway: float = 0,
    require: Sequence[str] = (),
    typ: str | None = None,
    field_cipher: FieldCipher | None = None,
) -> dict[str, Any]:
    """Verify ``token`` and return its claims; raise an :class:`InvalidTokenError` otherwise.

    A one-off form of :class:`Verifier`; build a ``Verifier`` once to check many tokens.
    With ``field_cipher``, encrypted members are decrypted once the signature and claims pass.
    """
    verifier = Verifier(
        key,
        algorithms=algorithms,
        issuer=issuer,
        audience=audience,
        leeway=leeway,
        require=require,
        typ=typ,
        field_cipher=field_cipher,
    )
    return verifier.verify(token)


def unverified_header(token: str | bytes) -> dict[str, Any]:
    """The decoded JOSE header, without any verification. For inspection only."""
    return _core.unverified_header(token)


def unverified_claims(token: str | bytes) -> dict[str, Any]:
    """The decoded claims, without any verification. Never base a decision on them."""
    return _core.unverified_claims(token)


def _unverified_exp(token: str | bytes) -> float | None:
    claims = _core.unverified_claims(token)
    if "exp" not in claims:
        return None
    exp = claims["exp"]
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise InvalidClaimError("claim 'exp' must be a number")
    return float(exp)


def token_expiry(token: str | bytes) -> _dt.datetime | None:
    """When the token says it expires (its ``exp``, as an aware UTC datetime); None without one.

    Unverified inspection, like :func:`unverified_claims`: for scheduling a refresh or showing a
    date, never for deciding whether to accept the token (only :func:`decode` or a
    :class:`Verifier` does that). :class:`MalformedTokenError` when the token does not parse;
    :class:`InvalidClaimError` when ``exp`` is not a number or is out of a datetime's range.
    """
    exp = _unverified_exp(token)
    if exp is None:
        return None
    try:
        return _dt.datetime.fromtimestamp(exp, _dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidClaimError("claim 'exp' is out of range") from None


def is_token_expired(token: str | bytes, leeway: float = 0, *, now: float | None = None) -> bool:
    """Whether the token's ``exp`` has passed: ``now - leeway >= exp``, the rule a
    :class:`Verifier` applies. False for a token without ``exp``.

    Unverified inspection, like :func:`token_expiry`: False does not mean the token is good.
    ``now`` (seconds since the epoch) is for tests; it defaults to the current time. Raises as
    :func:`token_expiry` does, except that an ``exp`` out of a datetime's range is compared as
    the number it is.
    """
    exp = _unverified_exp(token)
    if exp is None:
        return False
    current = _time.time() if now is None else now
    return current - leeway >= exp
