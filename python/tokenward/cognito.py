"""Amazon Cognito user-pool tokens: ``CognitoVerifier``.

Every rule of a Cognito token lives here, on top of :class:`tokenward.Verifier` (which checks the
signature, ``alg``, ``exp``/``nbf``/``iat``, ``iss`` and ``aud`` in C++):

* the issuer is compared exactly, and is one of the forms Cognito uses:
  ``https://cognito-idp.{region}.amazonaws.com/{user_pool_id}``, and the multi-region form
  ``https://issuer.cognito-idp.{region}.amazonaws.com/{user_pool_id}`` — for the pool's own region
  and for each region it is replicated to (``replica_regions=``); ``issuer=`` replaces them all
  with one exact value (an emulator whose ``iss`` is not an AWS URL);
* keys come from ``{issuer}/.well-known/jwks.json`` of the token's issuer (``jwks_url=`` for
  emulators), through a :class:`~tokenward.RemoteJWKS` (cached, refreshed, cooldown on unknown
  kids);
* RS256 only, and ``exp``, ``iat``, ``sub`` and ``token_use`` must be present;
* ``token_use`` must be the one asked for: an access token where an access token is wanted, an ID
  token where an ID token is wanted (``token_use=None`` accepts both, each under its own rules);
  a token of the other kind is a :class:`~tokenward.exceptions.TokenUseError` that names both;
* an access token's ``client_id`` and an ID token's ``aud`` must be one of the app clients given.
  There is no way to skip this check: a token minted for another app of the same pool is refused.

Several user pools can be accepted at once (``pools=[CognitoPool(...), ...]``); a token goes to
the verifier of the issuer its ``iss`` names exactly, and that verifier then checks everything,
``iss`` included. The unverified ``iss`` only picks the verifier; it never decides.

Why a token was refused is logged at debug level on the ``tokenward`` logger: the error and the
token's ``kid``, never its claims.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from tokenward import _core
from tokenward._api import unverified_claims, unverified_header
from tokenward._verifier import Verifier
from tokenward.exceptions import (
    ConfigurationError,
    ExpiredTokenError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidIssuerError,
    InvalidTokenError,
    MissingClaimError,
    TokenUseError,
)
from tokenward.jwks import RemoteJWKS
from tokenward.principal import Principal, from_cognito_claims

__all__ = ["CognitoPool", "CognitoVerifier", "GatewayForm", "TokenUse", "gateway_groups"]

TokenUse = Literal["access", "id"]
GatewayForm = Literal["http", "rest"]
"""How an API Gateway wrote a list claim as a string: ``http`` (HTTP API, ``"[a b]"``) or
``rest`` (REST API Cognito authorizer, ``"a,b"``); see :func:`gateway_groups`."""

_log = logging.getLogger("tokenward")
_KINDS = {"access": "an access token", "id": "an ID token"}
_KID = re.compile(r"[A-Za-z0-9._~+/=-]{1,128}")

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
    ``replica_regions`` are the regions a multi-region pool is replicated to: tokens whose ``iss``
    names one of them are accepted too. ``issuer_url`` replaces every AWS issuer with one exact
    ``iss`` (emulators). ``jwks`` replaces the default RemoteJWKS of every issuer (to tune its
    cache); ``jwks_url`` only its URL (both then serve every issuer of the pool).
    """

    user_pool_id: str
    client_ids: tuple[str, ...]
    region: str | None = None
    jwks_url: str | None = None
    jwks: RemoteJWKS | None = field(default=None, compare=False)
    replica_regions: tuple[str, ...] = ()
    issuer_url: str | None = None

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
        replicas = (
            (self.replica_regions,)
            if isinstance(self.replica_regions, str)
            else tuple(self.replica_regions)
        )
        for replica in replicas:
            if not isinstance(replica, str) or not _REGION.fullmatch(replica):
                raise ConfigurationError(f"replica region {replica!r} is not an AWS region")
        object.__setattr__(self, "replica_regions", tuple(dict.fromkeys(replicas)))
        if self.issuer_url is not None:
            parts = urlsplit(self.issuer_url) if isinstance(self.issuer_url, str) else None
            if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
                raise ConfigurationError(
                    f"issuer must be an absolute URL (the exact 'iss' of the tokens), "
                    f"not {self.issuer_url!r}"
                )
            if self.replica_regions:
                raise ConfigurationError("issuer= replaces the AWS issuers: no replica_regions")

    @property
    def issuer(self) -> str:
        """The pool's primary issuer: the classic AWS form in its own region, or ``issuer_url``."""
        if self.issuer_url is not None:
            return self.issuer_url
        return _aws_issuer(self.region or "", self.user_pool_id, multi_region=False)

    @property
    def issuers(self) -> tuple[str, ...]:
        """Every ``iss`` accepted for this pool, the primary one first."""
        if self.issuer_url is not None:
            return (self.issuer_url,)
        out: list[str] = []
        for region in (self.region or "", *self.replica_regions):
            out.append(_aws_issuer(region, self.user_pool_id, multi_region=False))
            out.append(_aws_issuer(region, self.user_pool_id, multi_region=True))
        return tuple(out)

    @property
    def default_jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"

    def jwks_url_for(self, issuer: str) -> str:
        """Where the keys of ``issuer`` (one of :attr:`issuers`) are fetched from."""
        return self.jwks_url or f"{issuer}/.well-known/jwks.json"


def _aws_issuer(region: str, user_pool_id: str, *, multi_region: bool) -> str:
    host = "issuer.cognito-idp" if multi_region else "cognito-idp"
    return f"https://{host}.{region}.amazonaws.com/{user_pool_id}"


class _PoolVerifiers:
    """The verifiers of the issuers of a pool that share one key set."""

    def __init__(
        self,
        pool: CognitoPool,
        issuers: Sequence[str],
        remote: RemoteJWKS,
        leeway: float,
        cache_size: int,
    ) -> None:
        self.pool = pool
        self.issuer = issuers[0]
        self.remote = remote
        common: dict[str, Any] = {
            "algorithms": ["RS256"],
            "issuer": list(issuers),
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
    ``"id"``, or None for either. Both AWS issuer forms are accepted, in the pool's region and in
    each of ``replica_regions`` (multi-region pools); ``issuer`` replaces them with one exact
    value (an emulator). ``jwks_url`` points the key fetch elsewhere (tests, emulators);
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
        issuer: str | None = None,
        replica_regions: Sequence[str] = (),
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
                    replica_regions=tuple(replica_regions),
                    issuer_url=issuer,
                ),
            )
        elif (
            region is not None
            or client_id is not None
            or client_ids is not None
            or issuer is not None
            or replica_regions
        ):
            raise ConfigurationError("user_pool_id is required with region and client_id")
        if not all_pools:
            raise ConfigurationError(
                "CognitoVerifier needs a user pool: user_pool_id= and client_id=, or pools="
            )
        self.token_use: TokenUse | None = token_use
        self.trust_gateway = bool(trust_gateway)
        self._leeway = float(leeway)
        # Each accepted issuer maps to the verifiers of its pool and key set: one RemoteJWKS per
        # distinct URL, and one pair of verifiers for the issuers of a pool that share it.
        self._pools: dict[str, _PoolVerifiers] = {}
        self._primary: list[_PoolVerifiers] = []
        entries: list[_PoolVerifiers] = []
        remotes: dict[str, RemoteJWKS] = {}
        for pool in all_pools:
            if any(iss in self._pools for iss in pool.issuers):
                raise ConfigurationError(f"user pool {pool.user_pool_id} is given twice")
            groups: dict[int, tuple[RemoteJWKS, list[str]]] = {}
            for iss in pool.issuers:
                if pool.jwks is not None:
                    remote = pool.jwks
                else:
                    url = pool.jwks_url_for(iss)
                    remote = remotes.get(url) or RemoteJWKS(url, **jwks_options)
                    remotes[url] = remote
                groups.setdefault(id(remote), (remote, []))[1].append(iss)
            for remote, issuers in groups.values():
                entry = _PoolVerifiers(pool, issuers, remote, self._leeway, cache_size)
                entries.append(entry)
                for iss in issuers:
                    self._pools[iss] = entry
                if pool.issuer in issuers:
                    self._primary.append(entry)
        # One pair of verifiers for everything: no need to look at the token's iss to pick.
        self._single = entries[0] if len(entries) == 1 else None

    def __repr__(self) -> str:
        return f"<CognitoVerifier pools={list(self._pools)!r} token_use={self.token_use!r}>"

    @property
    def pools(self) -> list[CognitoPool]:
        return [p.pool for p in self._primary]

    @property
    def issuers(self) -> list[str]:
        """The primary issuer of each pool, in the order of :attr:`pools`."""
        return [p.issuer for p in self._primary]

    @property
    def accepted_issuers(self) -> list[str]:
        """Every ``iss`` accepted: both AWS forms, in each pool's region and its replicas'."""
        return list(self._pools)

    @property
    def key_sets(self) -> list[RemoteJWKS]:
        """The distinct remote key sets, the primary one of each pool first."""
        out: list[RemoteJWKS] = []
        for entry in [*self._primary, *self._pools.values()]:
            if not any(entry.remote is r for r in out):
                out.append(entry.remote)
        return out

    # --- verification -------------------------------------------------------------------------

    def _route(self, token: str | bytes) -> tuple[_PoolVerifiers, Verifier, TokenUse]:
        """Pick the pool and the verifier; nothing here decides whether the token is good."""
        pool = self._single
        peek: dict[str, Any] | None = None
        if pool is None:
            iss = _core._unverified_issuer(token)  # native, cheap: only picks the verifier
            if iss is None:  # no string iss, or not a token: say which
                peek = unverified_claims(token)
                if peek.get("iss") is None:
                    raise MissingClaimError("the token has no 'iss' claim")
            pool = self._pools.get(iss) if iss is not None else None
            if pool is None:
                raise InvalidIssuerError("the token's issuer is not an accepted Cognito user pool")
        use = self.token_use
        if use is None:
            peek = unverified_claims(token) if peek is None else peek
            use = "id" if peek.get("token_use") == "id" else "access"
        return pool, (pool.id if use == "id" else pool.access), use

    @property
    def wanted(self) -> tuple[TokenUse, ...]:
        """The kinds of token accepted: ``("access",)``, ``("id",)`` or both."""
        return _wanted(self.token_use)

    def verify(self, token: str | bytes, *, now: float | None = None) -> dict[str, Any]:
        """The verified claims of a Cognito token; an InvalidTokenError subclass otherwise, or
        KeySetUnavailableError when the pool's keys cannot be had."""
        try:
            pool, verifier, use = self._route(token)
            try:
                claims = verifier.verify(token, now=now)
            except (InvalidAudienceError, MissingClaimError) as exc:
                raise self._other_kind(token, use, exc) from None
            return self._check(claims, pool.pool, use, self.token_use)
        except InvalidTokenError as exc:
            _refused("token", exc, token)
            raise

    async def verify_async(self, token: str | bytes, *, now: float | None = None) -> dict[str, Any]:
        """:meth:`verify` for coroutines: a key fetch awaits, nothing blocks the event loop."""
        try:
            pool, verifier, use = self._route(token)
            try:
                claims = await verifier.verify_async(token, now=now)
            except (InvalidAudienceError, MissingClaimError) as exc:
                raise self._other_kind(token, use, exc) from None
            return self._check(claims, pool.pool, use, self.token_use)
        except InvalidTokenError as exc:
            _refused("token", exc, token)
            raise

    async def recheck_async(self, token: str | bytes, *, now: float | None = None) -> None:
        """Check again a token that :meth:`verify_async` accepted before: its signature (or
        the verified-token cache), issuer and times, with the pool's keys of now. The
        ``token_use`` and ``client_id`` rules are not run again: they depend on the token's
        claims alone, which passed them then. For a token never verified here, use
        :meth:`verify_async`."""
        try:
            _, verifier, _ = self._route(token)
            await verifier.check_async(token, now=now)
        except InvalidTokenError as exc:
            _refused("token", exc, token)
            raise

    def _other_kind(self, token: str | bytes, use: TokenUse, exc: InvalidTokenError) -> Exception:
        """What an audience failure of the native check means. The signature has been verified
        by then (the native verifier checks claims only after it), so the payload is genuine:
        when its ``token_use`` is not the one routed to, the token is of the other kind (an ID
        token's ``aud`` where an access token has none, or the reverse), and the error says so."""
        try:
            sent = unverified_claims(token).get("token_use")
        except (InvalidTokenError, ValueError):
            return exc
        if sent is None or sent == use:
            return exc
        return _token_use_error(sent, self.wanted)

    @staticmethod
    def _check(
        claims: dict[str, Any], pool: CognitoPool, use: TokenUse, accepts: TokenUse | None
    ) -> dict[str, Any]:
        token_use = claims.get("token_use")
        if token_use is None:
            raise MissingClaimError("the token has no 'token_use' claim")
        if token_use != use:
            raise _token_use_error(token_use, _wanted(accepts))
        if use == "access":
            client = claims.get("client_id")
            if client is None:
                raise MissingClaimError("the access token has no 'client_id' claim")
            if not isinstance(client, str) or client not in pool.client_ids:
                raise InvalidAudienceError("the token was issued to another app client")
        elif "aud" not in claims:  # the native check already matched it against the clients
            raise MissingClaimError("the ID token has no 'aud' claim")
        return claims

    def identity(self, claims: Mapping[str, Any]) -> Principal:
        """The :class:`~tokenward.Principal` of verified claims: groups from ``cognito:groups``
        (a list of strings, or InvalidClaimError), scopes from ``scope``, email from ``email``;
        the claims themselves under ``.claims`` (``username``, ``client_id``...)."""
        return from_cognito_claims(claims)

    # --- keys ---------------------------------------------------------------------------------

    def prefetch(self) -> None:
        """Fetch the keys of every pool's primary issuer now (start-up), whatever the cooldown;
        KeySetUnavailableError if one cannot. The other issuers' keys come on first use."""
        for entry in self._primary:
            entry.remote.prefetch()

    async def prefetch_async(self) -> None:
        for entry in self._primary:
            await entry.remote.prefetch_async()

    def prewarm(self) -> None:
        """:meth:`prefetch`, skipping key sets that are fresh already."""
        for entry in self._primary:
            entry.remote.prewarm()

    async def prewarm_async(self) -> None:
        for entry in self._primary:
            await entry.remote.prewarm_async()

    # --- claims an API gateway checked --------------------------------------------------------

    def claims_from_gateway(
        self,
        claims: Mapping[str, Any],
        *,
        now: float | None = None,
        form: GatewayForm | None = None,
    ) -> dict[str, Any]:
        """Accept claims that an API gateway's Cognito authorizer verified (the signature is not
        re-checked: there is no token). Only with ``trust_gateway=True``, and only where nothing
        but the gateway can reach the app. Everything else is checked as for a token: exact
        ``iss``, ``token_use``, ``client_id``/``aud``, and ``exp`` when present.

        API gateways pass every value as a string: ``exp`` as digits (HTTP API) or a date
        (REST API), which come back as numbers, and ``cognito:groups`` in the ``form`` of the
        gateway that sent them, read by :func:`gateway_groups` (refused when it cannot be read
        unambiguously).
        """
        try:
            return self._gateway_claims(claims, now, form)
        except InvalidTokenError as exc:
            _refused("gateway claims", exc, None)
            raise

    def _gateway_claims(
        self, claims: Mapping[str, Any], now: float | None, form: GatewayForm | None
    ) -> dict[str, Any]:
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
        if out["token_use"] != use:
            raise _token_use_error(out["token_use"], self.wanted)
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
        if "cognito:groups" in out:
            out["cognito:groups"] = gateway_groups(out["cognito:groups"], form)
        return self._check(out, pool.pool, use, self.token_use)


def gateway_groups(value: Any, form: GatewayForm | None) -> Any:
    """``cognito:groups`` as an API gateway passed it, as a list, or InvalidClaimError when it
    cannot be read unambiguously.

    A Cognito group name is 1 to 128 letters, marks, symbols, digits and punctuation: commas
    and brackets may be part of it, white space may not. API gateways turn the list into one
    string without escaping anything:

    * ``http`` — HTTP API JWT authorizers (payload 1.0 and 2.0): ``"[a b]"``, the names between
      brackets, one space apart (``"[]"`` for none). Since no name holds a space this reads
      back exactly, commas and brackets included: ``"[tenant-a,root]"`` is the one group
      ``tenant-a,root``.
    * ``rest`` — REST API Cognito authorizers: the names joined with commas, no brackets
      (``"a,b"``). A comma may separate two groups or sit inside one name, so a value with a
      comma is refused; one group reads back as itself.
    * None (the form is not known): a string is read only when both forms agree, which is a
      single name without brackets, commas or spaces.

    A list (claims that were never turned into strings) is returned as it is: the Principal's
    rule then accepts only a list of strings.
    """
    if not isinstance(value, str):
        return value
    if form == "http":
        if len(value) < 2 or value[0] != "[" or value[-1] != "]":
            raise InvalidClaimError(
                "cognito:groups from the HTTP API is not its '[a b]' form; refused"
            )
        inner = value[1:-1]
        names = inner.split(" ") if inner else []
        if any(not name or _has_space(name) for name in names):
            raise InvalidClaimError(
                "cognito:groups from the HTTP API holds an empty or spaced name; refused"
            )
        return names
    if not value or _has_space(value):
        raise InvalidClaimError("cognito:groups from the gateway is empty or spaced; refused")
    if "," in value:
        raise InvalidClaimError(
            "cognito:groups from the gateway holds a comma, which may separate groups or be "
            "part of one name: it cannot be read unambiguously; refused"
        )
    if form is None and (value[0] == "[" or value[-1] == "]"):
        raise InvalidClaimError(
            "cognito:groups from the gateway may be a list or one bracketed name: it cannot be "
            "read unambiguously without knowing the gateway; refused"
        )
    return [value]


def _wanted(token_use: TokenUse | None) -> tuple[TokenUse, ...]:
    return ("access", "id") if token_use is None else (token_use,)


def _has_space(text: str) -> bool:
    return any(c.isspace() for c in text)


def _token_use_error(sent: Any, wanted: tuple[TokenUse, ...]) -> TokenUseError:
    kind = sent if isinstance(sent, str) and sent in _KINDS else None
    what = _KINDS[kind] if kind else "a token that is neither an access nor an ID token"
    accepted = " and ".join(_KINDS[w].removeprefix("an ") + "s" for w in wanted)
    sent_text = f"{what} was sent (token_use {kind!r})" if kind else f"{what} was sent"
    return TokenUseError(
        f"{sent_text}, and this accepts {accepted} only", token_use=kind, wanted=tuple(wanted)
    )


def _refused(what: str, exc: Exception, token: str | bytes | None) -> None:
    """Log at debug level why a token (or gateway claims) was refused: the error and the
    token's ``kid``, nothing of its claims."""
    if not _log.isEnabledFor(logging.DEBUG):
        return
    kid = "-"
    if token is not None:
        try:
            found = unverified_header(token).get("kid")
        except (InvalidTokenError, ValueError):
            found = None
        kid = found if isinstance(found, str) and _KID.fullmatch(found) else "-"
    reason = "".join(c if " " <= c <= "~" else "?" for c in str(exc))[:200]
    _log.debug(
        "tokenward: Cognito %s refused (kid %s): %s: %s", what, kid, type(exc).__name__, reason
    )


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
