"""Amazon Cognito user-pool tokens: ``CognitoVerifier``.

Every rule of a Cognito token lives here, on top of :class:`tokenward.Verifier` (which checks the
signature, ``alg``, ``exp``/``nbf``/``iat``, ``iss`` and ``aud`` in C++):

* the issuer is ``https://cognito-idp.{region}.amazonaws.com/{user_pool_id}``, compared exactly;
* keys come from ``{issuer}/.well-known/jwks.json`` (``jwks_url=`` for emulators), through a
  :class:`~tokenward.RemoteJWKS` (cached, refreshed, cooldown on unknown kids);
* RS256 only, and ``exp``, ``iat``, ``sub`` and ``token_use`` must be present;
* ``token_use`` must be the one asked for: an access token where an access token is wanted, an ID
  token where an ID token is wanted (``token_use=None`` accepts both, each under its own rules);
* an access token's ``client_id`` and an ID token's ``aud`` must be one of the app clients given.
  There is no way to skip this check: a token minted for another app of the same pool is refused.

Several user pools can be accepted at once (``pools=[CognitoPool(...), ...]``); a token goes to
the pool whose issuer its ``iss`` names exactly, and that pool's verifier then checks everything,
``iss`` included. The unverified ``iss`` only picks the verifier; it never decides.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tokenward._api import unverified_claims
from tokenward._verifier import Verifier
from tokenward.exceptions import (
    ConfigurationError,
    ExpiredTokenError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidIssuerError,
    MissingClaimError,
)
from tokenward.jwks import RemoteJWKS

__all__ = ["CognitoIdentity", "CognitoPool", "CognitoVerifier", "TokenUse"]

TokenUse = Literal["access", "id"]

_REGION = re.compile(r"[a-z]{2,}(-[a-z0-9]+)*-[0-9]+|local")
_POOL_ID = re.compile(r"([a-z]{2,}(-[a-z0-9]+)*-[0-9]+|local)_[0-9A-Za-z]+")
_COMMON_CLAIMS = ("exp", "iat", "sub", "token_use")


def _client_ids(
    client_id: str | Sequence[str] | None, client_ids: Sequence[str] | None
) -> tuple[str, ...]:
    items: list[str] = []
    for value in (client_id, client_ids):
        if value is None:
            continue
        if isinstance(value, str):
            items.append(value)
        else:
            items.extend(value)
    if not items or not all(isinstance(c, str) and c.strip() for c in items):
        raise ConfigurationError(
            "give the app client id(s) whose tokens to accept (client_id= or client_ids=); "
            "a Cognito verifier never accepts tokens of every app of a pool"
        )
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class CognitoPool:
    """One user pool and the app clients whose tokens it accepts.

    ``region`` defaults to the prefix of ``user_pool_id`` (``eu-west-1_AbC`` → ``eu-west-1``).
    ``jwks`` replaces the default RemoteJWKS (to tune its cache); ``jwks_url`` only its URL.
    """

    user_pool_id: str
    client_ids: tuple[str, ...]
    region: str | None = None
    jwks_url: str | None = None
    jwks: RemoteJWKS | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.user_pool_id, str) or not _POOL_ID.fullmatch(self.user_pool_id):
            raise ConfigurationError(
                f"user_pool_id {self.user_pool_id!r} is not a Cognito user pool id "
                "(like 'eu-west-1_AbC123')"
            )
        region = self.region or self.user_pool_id.partition("_")[0]
        if not _REGION.fullmatch(region):
            raise ConfigurationError(f"region {region!r} is not an AWS region (like 'eu-west-1')")
        object.__setattr__(self, "region", region)
        ids = (self.client_ids,) if isinstance(self.client_ids, str) else self.client_ids
        object.__setattr__(self, "client_ids", _client_ids(None, ids))

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def default_jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"


@dataclass(frozen=True)
class CognitoIdentity:
    """Who a verified Cognito token speaks for: ``groups`` from ``cognito:groups``, ``scopes``
    from ``scope``, ``email`` from ``email`` (ID tokens carry the user's attributes; access tokens
    carry ``email`` only when a pre-token-generation trigger adds it)."""

    sub: str
    username: str | None
    email: str | None
    groups: tuple[str, ...]
    scopes: tuple[str, ...]
    token_use: str
    client_id: str | None

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> CognitoIdentity:
        groups = claims.get("cognito:groups")
        scope = claims.get("scope")
        email = claims.get("email")
        username = claims.get("username", claims.get("cognito:username"))
        client = claims.get("client_id")
        if client is None:
            aud = claims.get("aud")
            client = aud if isinstance(aud, str) else None
        return cls(
            sub=str(claims["sub"]),
            username=username if isinstance(username, str) else None,
            email=email if isinstance(email, str) else None,
            groups=tuple(g for g in groups if isinstance(g, str))
            if isinstance(groups, list)
            else (),
            scopes=tuple(scope.split()) if isinstance(scope, str) else (),
            token_use=str(claims.get("token_use", "")),
            client_id=client if isinstance(client, str) else None,
        )


class _PoolVerifiers:
    def __init__(
        self,
        pool: CognitoPool,
        leeway: float,
        cache_size: int,
        jwks_options: Mapping[str, Any],
    ) -> None:
        self.pool = pool
        self.remote = pool.jwks or RemoteJWKS(
            pool.jwks_url or pool.default_jwks_url, **jwks_options
        )
        common: dict[str, Any] = {
            "algorithms": ["RS256"],
            "issuer": pool.issuer,
            "leeway": leeway,
            "cache_size": cache_size,
        }
        self.access = Verifier(self.remote, audience=None, require=_COMMON_CLAIMS, **common)
        self.id = Verifier(
            self.remote, audience=list(pool.client_ids), require=(*_COMMON_CLAIMS, "aud"), **common
        )


class CognitoVerifier:
    """Verifies Cognito access or ID tokens of one user pool (or several).

    ::

        cognito = CognitoVerifier("eu-west-1", "eu-west-1_AbC123", client_id="4f...")
        claims = cognito.verify(token)               # or: await cognito.verify_async(token)

    ``client_id`` (or ``client_ids``) is required. ``token_use`` is ``"access"`` (the default),
    ``"id"``, or None for either. ``jwks_url`` points the key fetch elsewhere (tests, emulators);
    ``jwks`` hands over a ready :class:`~tokenward.RemoteJWKS`; other keyword arguments
    (``ttl``, ``cooldown``, ``max_stale``, ...) go to the RemoteJWKS this creates. ``pools``
    accepts several user pools instead of one. ``trust_gateway=True`` allows
    :meth:`claims_from_gateway` (claims an API gateway already checked) — see docs/cognito.md.
    ``cache_size=N`` gives each pool's verifiers a verified-token cache of N tokens (see
    :class:`~tokenward.Verifier`; off by default here, on in the FastAPI layer): a token seen
    again skips the RSA check, never past its ``exp``, and new keys empty the cache. The
    Cognito checks (``token_use``, ``client_id``) still run on every call.
    """

    def __init__(
        self,
        region: str | None = None,
        user_pool_id: str | None = None,
        client_id: str | Sequence[str] | None = None,
        *,
        client_ids: Sequence[str] | None = None,
        token_use: TokenUse | None = "access",  # noqa: S107 - not a password
        jwks_url: str | None = None,
        jwks: RemoteJWKS | None = None,
        pools: Sequence[CognitoPool] = (),
        leeway: float = 0.0,
        trust_gateway: bool = False,
        cache_size: int = 0,
        **jwks_options: Any,
    ) -> None:
        if token_use not in ("access", "id", None):
            raise ConfigurationError("token_use must be 'access', 'id' or None")
        all_pools = list(pools)
        if user_pool_id is not None:
            all_pools.insert(
                0,
                CognitoPool(
                    user_pool_id=user_pool_id,
                    client_ids=_client_ids(client_id, client_ids),
                    region=region,
                    jwks_url=jwks_url,
                    jwks=jwks,
                ),
            )
        elif region is not None or client_id is not None or client_ids is not None:
            raise ConfigurationError("user_pool_id is required with region and client_id")
        if not all_pools:
            raise ConfigurationError(
                "CognitoVerifier needs a user pool: user_pool_id= and client_id=, or pools="
            )
        self.token_use: TokenUse | None = token_use
        self.trust_gateway = bool(trust_gateway)
        self._leeway = float(leeway)
        self._pools: dict[str, _PoolVerifiers] = {}
        for pool in all_pools:
            if pool.issuer in self._pools:
                raise ConfigurationError(f"user pool {pool.user_pool_id} is given twice")
            self._pools[pool.issuer] = _PoolVerifiers(pool, self._leeway, cache_size, jwks_options)
        self._single = next(iter(self._pools.values())) if len(self._pools) == 1 else None

    def __repr__(self) -> str:
        return f"<CognitoVerifier pools={list(self._pools)!r} token_use={self.token_use!r}>"

    @property
    def pools(self) -> list[CognitoPool]:
        return [p.pool for p in self._pools.values()]

    @property
    def issuers(self) -> list[str]:
        return list(self._pools)

    @property
    def key_sets(self) -> list[RemoteJWKS]:
        """The remote key set of each pool, in the order of :attr:`pools`."""
        return [p.remote for p in self._pools.values()]

    # --- verification -------------------------------------------------------------------------

    def _route(self, token: str | bytes) -> tuple[_PoolVerifiers, Verifier, TokenUse]:
        """Pick the pool and the verifier; nothing here decides whether the token is good."""
        pool = self._single
        peek: dict[str, Any] | None = None
        if pool is None:
            peek = unverified_claims(token)
            iss = peek.get("iss")
            pool = self._pools.get(iss) if isinstance(iss, str) else None
            if pool is None:
                raise InvalidIssuerError("the token's issuer is not an accepted Cognito user pool")
        use = self.token_use
        if use is None:
            peek = unverified_claims(token) if peek is None else peek
            use = "id" if peek.get("token_use") == "id" else "access"
        return pool, (pool.id if use == "id" else pool.access), use

    def verify(self, token: str | bytes, *, now: float | None = None) -> dict[str, Any]:
        """The verified claims of a Cognito token; an InvalidTokenError subclass otherwise, or
        KeySetUnavailableError when the pool's keys cannot be had."""
        pool, verifier, use = self._route(token)
        return self._check(verifier.verify(token, now=now), pool.pool, use)

    async def verify_async(self, token: str | bytes, *, now: float | None = None) -> dict[str, Any]:
        """:meth:`verify` for coroutines: a key fetch awaits, nothing blocks the event loop."""
        pool, verifier, use = self._route(token)
        return self._check(await verifier.verify_async(token, now=now), pool.pool, use)

    @staticmethod
    def _check(claims: dict[str, Any], pool: CognitoPool, use: TokenUse) -> dict[str, Any]:
        token_use = claims.get("token_use")
        if token_use is None:
            raise MissingClaimError("the token has no 'token_use' claim")
        if token_use != use:
            raise InvalidClaimError(f"token_use must be {use!r}; this token is not an {use} token")
        if use == "access":
            client = claims.get("client_id")
            if client is None:
                raise MissingClaimError("the access token has no 'client_id' claim")
            if not isinstance(client, str) or client not in pool.client_ids:
                raise InvalidAudienceError("the token was issued to another app client")
        elif "aud" not in claims:  # the native check already matched it against the clients
            raise MissingClaimError("the ID token has no 'aud' claim")
        return claims

    def identity(self, claims: Mapping[str, Any]) -> CognitoIdentity:
        """Groups, scopes and email of verified claims."""
        return CognitoIdentity.from_claims(claims)

    # --- keys ---------------------------------------------------------------------------------

    def prefetch(self) -> None:
        """Fetch every pool's keys now (start-up); KeySetUnavailableError if one cannot."""
        for pool in self._pools.values():
            pool.remote.prefetch()

    async def prefetch_async(self) -> None:
        for pool in self._pools.values():
            await pool.remote.prefetch_async()

    # --- claims an API gateway checked --------------------------------------------------------

    def claims_from_gateway(
        self, claims: Mapping[str, Any], *, now: float | None = None
    ) -> dict[str, Any]:
        """Accept claims that an API gateway's Cognito authorizer verified (the signature is not
        re-checked: there is no token). Only with ``trust_gateway=True``, and only where nothing
        but the gateway can reach the app. Everything else is checked as for a token: exact
        ``iss``, ``token_use``, ``client_id``/``aud``, and ``exp`` when present.

        REST API authorizers pass every value as a string (``exp`` as a date,
        ``cognito:groups`` as ``"a,b"``); they come back normalised.
        """
        if not self.trust_gateway:
            raise ConfigurationError(
                "claims from an API gateway are trusted only with CognitoVerifier(..., "
                "trust_gateway=True)"
            )
        out = dict(claims)
        iss = out.get("iss")
        if iss is None:
            raise MissingClaimError("the gateway claims have no 'iss'")
        pool = self._pools.get(iss) if isinstance(iss, str) else None
        if pool is None:
            raise InvalidIssuerError("the gateway claims name an issuer that is not accepted")
        for name in ("sub", "token_use"):
            if not isinstance(out.get(name), str):
                raise MissingClaimError(f"the gateway claims have no {name!r}")
        use = self.token_use or ("id" if out["token_use"] == "id" else "access")
        if use == "id":
            aud = out.get("aud")
            auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
            if not any(a in pool.pool.client_ids for a in auds):
                raise InvalidAudienceError("the token was issued to another app client")
        for name in ("exp", "iat", "auth_time"):
            if name in out:
                out[name] = _gateway_time(out[name], name)
        exp = out.get("exp")
        if exp is not None:
            current = time.time() if now is None else now
            if current - self._leeway >= exp:
                raise ExpiredTokenError("the token has expired")
        groups = out.get("cognito:groups")
        if isinstance(groups, str):
            out["cognito:groups"] = [g for g in re.split(r"[,\s\[\]]+", groups) if g]
        return self._check(out, pool.pool, use)


def _gateway_time(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise InvalidClaimError(f"'{name}' is not a time")
    if isinstance(value, int | float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        try:  # REST API authorizers: "Wed Jun 05 12:00:00 UTC 2024"
            parsed = _dt.datetime.strptime(text, "%a %b %d %H:%M:%S %Z %Y")
        except ValueError:
            pass
        else:
            return int(parsed.replace(tzinfo=_dt.UTC).timestamp())
    raise InvalidClaimError(f"'{name}' is not a time")
