"""Strategies: how one kind of credential becomes a :class:`~tokenward.principal.Principal`.

A strategy is given a request's :class:`Credentials` and answers in one of three ways:

* a Principal: the credential is of its shape and good;
* ``None``: "not mine" — no credential of its shape was sent (or, for a JWT strategy, a token
  from an issuer it does not serve), so the next strategy may answer;
* an exception: the credential is of its shape and bad (an
  :class:`~tokenward.InvalidTokenError` or :class:`~tokenward.AuthenticationError`, 401), or it
  cannot decide now (:class:`~tokenward.KeySetUnavailableError`, :class:`~tokenward.StoreError`:
  503; :class:`~tokenward.RateLimitError`: 429).

A strategy owns the credentials of its shape: a ``Bearer vk_…`` value is the API-key strategy's,
and every JWT strategy passes it by, so a bad API key is a 401 and never falls through to a token
check. :class:`~tokenward.authenticator.Authenticator` composes strategies (``any``, ``all``).
Nothing here imports a web framework: the FastAPI layer only builds the Credentials.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from tokenward._api import unverified_claims
from tokenward.caches import remember
from tokenward.exceptions import (
    ConfigurationError,
    ExpiredTokenError,
    ImmatureTokenError,
    IntrospectionUnavailableError,
    InvalidApiKeyError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidCredentialsError,
    InvalidIssuerError,
    InvalidTokenError,
    MalformedTokenError,
    TokenwardError,
)
from tokenward.oidc import ClaimMapping, _check_url
from tokenward.principal import Principal, from_cognito_claims, from_token_claims

if TYPE_CHECKING:
    import httpx

    from tokenward.cognito import CognitoVerifier
    from tokenward.providers import AuthProvider

__all__ = [
    "API_KEY_PREFIX",
    "MAX_CREDENTIAL_CHARS",
    "AccessTokenStrategy",
    "ApiKeyStrategy",
    "BasicStrategy",
    "Credentials",
    "GatewayStrategy",
    "GuardedAttempt",
    "IntrospectionStrategy",
    "LoginGuard",
    "Strategy",
    "VerifierStrategy",
    "basic_challenge",
    "bearer_challenge",
]

API_KEY_PREFIX = "vk_"
MAX_CREDENTIAL_CHARS = 16 * 1024

_NO_EVENT: Mapping[str, Any] = MappingProxyType({})
_log = logging.getLogger("tokenward")


# --- credentials ------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class Credentials:
    """What a request presents, taken from wherever the transport found it (one per request;
    strategies read it and leave it as it is).

    ``authorization`` is the raw ``Authorization`` header; ``client_address`` the client's address
    as the transport determined it (:func:`tokenward.ratelimit.client_address`: the socket peer,
    the first untrusted proxy hop, or ``"unverified"``);
    ``event`` the serverless event a gateway handed the app (Mangum puts API Gateway's under the
    ASGI scope's ``aws.event``), read by the gateway strategy only.
    """

    authorization: str | None = None
    client_address: str | None = None
    event: Mapping[str, Any] = dataclasses.field(default_factory=lambda: _NO_EVENT)

    @property
    def scheme(self) -> str | None:
        """The Authorization header's scheme, lower-cased (``bearer``, ``basic``), or None."""
        if self.authorization is None:
            return None
        return self.authorization.strip().partition(" ")[0].lower()

    def scheme_param(self, scheme: str) -> str | None:
        """The parameter of an ``Authorization: <scheme> <param>`` header (case-insensitive
        scheme, surrounding space removed; ``""`` when the scheme came alone); None when the
        header is absent or of another scheme."""
        header = self.authorization
        if header is None:
            return None
        name, _, param = header.strip().partition(" ")
        if name.lower() != scheme:
            return None
        return param.strip()

    def bearer(self) -> str | None:
        return self.scheme_param("bearer")

    def gateway_claims(self) -> Mapping[str, Any] | None:
        """Claims an API Gateway JWT authorizer verified (HTTP API v2 and REST API shapes), or
        None when the request did not come through one."""
        context = self.event.get("requestContext")
        if not isinstance(context, Mapping):
            return None
        authorizer = context.get("authorizer")
        if not isinstance(authorizer, Mapping):
            return None
        jwt = authorizer.get("jwt")  # HTTP API (payload 2.0): authorizer.jwt.claims
        claims = jwt.get("claims") if isinstance(jwt, Mapping) else authorizer.get("claims")
        return claims if isinstance(claims, Mapping) and claims else None


# --- challenges -------------------------------------------------------------------------------


def _quoted(text: str) -> str:
    """A quoted-string for an auth-param: printable ASCII without quote and backslash."""
    return "".join(c for c in text if " " <= c <= "~" and c not in '"\\')


def bearer_challenge(
    error: str | None = None, description: str | None = None, scope: str = ""
) -> str:
    """A ``WWW-Authenticate: Bearer`` challenge (RFC 6750 §3)."""
    params = []
    if error:
        params.append(f'error="{_quoted(error)}"')
    if description:
        params.append(f'error_description="{_quoted(description)}"')
    if scope:
        params.append(f'scope="{_quoted(scope)}"')
    return "Bearer " + ", ".join(params) if params else "Bearer"


def basic_challenge(realm: str) -> str:
    """A ``WWW-Authenticate: Basic`` challenge (RFC 7617 §2, UTF-8 announced)."""
    return f'Basic realm="{_quoted(realm)}", charset="UTF-8"'


# --- the protocol -----------------------------------------------------------------------------


@runtime_checkable
class Strategy(Protocol):
    """Turns the credentials of one shape into a Principal (see the module docstring)."""

    @property
    def name(self) -> str:
        """How routes and settings name it (``jwt``, ``api_key``, ``basic``, ``gateway``...)."""
        ...

    @property
    def hint(self) -> str:
        """What a client should send, for the detail of a 401 (``an API key (Bearer vk_…)``)."""
        ...

    @property
    def scheme(self) -> str | None:
        """The Authorization scheme it reads, lower-case (``bearer``, ``basic``); None when it
        reads no header (gateway claims)."""
        ...

    def challenge(self, error: TokenwardError | None) -> str | None:
        """The ``WWW-Authenticate`` value for a 401, given the error this strategy raised (None
        when it said "not mine"); None when it has nothing a client could answer."""
        ...

    async def authenticate(self, credentials: Credentials) -> Principal | None: ...


def _bearer_of(credentials: Credentials, *, api_key: bool) -> str | None:
    """The bearer value a token strategy (``api_key=False``) or the API-key strategy may take."""
    header = credentials.authorization  # Credentials.bearer(), without its two calls
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    if token.startswith(API_KEY_PREFIX) is not api_key:
        return None
    if not token or len(token) > MAX_CREDENTIAL_CHARS:
        if api_key:
            raise InvalidApiKeyError("malformed", "the API key is malformed")
        raise MalformedTokenError("the bearer token is empty or too long")
    return token


def _foreign(token: str, issuers: Collection[str] | None) -> bool:
    """Whether a token that failed verification names an issuer outside ``issuers`` (or none):
    then it is "not mine", and a later strategy (which verifies it fully) may take it. Read only
    after a failure, so the accepted path pays nothing; an unreadable token is never foreign."""
    if issuers is None:
        return False
    try:
        iss = unverified_claims(token).get("iss")
    except (InvalidTokenError, ValueError):
        return False
    return not isinstance(iss, str) or iss not in issuers


def _not_mine(error: InvalidTokenError, token: str, issuers: Collection[str] | None) -> bool:
    """Whether a token strategy's failure means "not mine": the token names an issuer the
    strategy does not serve (an InvalidIssuerError, or any failure of a token whose ``iss`` is
    foreign), so that a later strategy may take it. Any other failure is the strategy's answer."""
    return isinstance(error, InvalidIssuerError) or _foreign(token, issuers)


def _token_challenge(error: TokenwardError | None, what: str) -> str:
    if error is None:
        return bearer_challenge()
    if isinstance(error, ExpiredTokenError):
        return bearer_challenge("invalid_token", f"The {what} expired")
    return bearer_challenge("invalid_token", f"The {what} is not valid")


class AccessTokenStrategy:
    """The configured provider's access tokens (custom or Cognito): ``Bearer <JWT>``.

    A token from another issuer is "not mine" (a later strategy, say a third-party
    :class:`VerifierStrategy`, may take it), whichever check it failed first (a foreign token
    usually fails the algorithm or the key lookup before the issuer); any other failure is this
    strategy's 401. The provider's ``issuers`` (when it has them) say which are its own."""

    scheme = "bearer"

    def __init__(self, provider: AuthProvider, *, name: str = "jwt", hint: str | None = None):
        self.provider = provider
        self.name = name
        self.hint = hint or "an access token (Authorization: Bearer <token>)"

    def __repr__(self) -> str:
        return f"<AccessTokenStrategy {self.name!r} provider={self.provider.name!r}>"

    def challenge(self, error: TokenwardError | None) -> str | None:
        return _token_challenge(error, "access token")

    async def authenticate(self, credentials: Credentials) -> Principal | None:
        token = _bearer_of(credentials, api_key=False)
        if token is None:
            return None
        try:
            return await self.provider.authenticate(token)
        except InvalidTokenError as exc:
            # The provider's issuers are read only now: the accepted path never needs them.
            if _not_mine(exc, token, getattr(self.provider, "issuers", None)):
                return None
            raise


class VerifierStrategy:
    """Tokens of any issuer a :class:`~tokenward.Verifier` (or anything with ``verify_async``)
    checks, e.g. another service's. ``mapper`` turns its claims into a Principal (tokenward's
    claim names by default; :func:`~tokenward.principal.from_cognito_claims` for a pool). Give
    the Verifier an ``issuer``, and this strategy the same ``issuer`` (one or several): a token
    naming another issuer is then "not mine" whatever check it fails, and a later strategy may
    take it. Without ``issuer`` only an :class:`~tokenward.InvalidIssuerError` means "not mine"."""

    scheme = "bearer"

    def __init__(
        self,
        verifier: Any,
        *,
        name: str,
        mapper: Callable[..., Principal] = from_token_claims,
        hint: str | None = None,
        issuer: str | Sequence[str] | None = None,
    ) -> None:
        if not callable(getattr(verifier, "verify_async", None)):
            raise ConfigurationError("VerifierStrategy needs an object with verify_async(token)")
        self.verifier = verifier
        self.issuers: frozenset[str] | None = (
            None if issuer is None else frozenset([issuer] if isinstance(issuer, str) else issuer)
        )
        self.name = name
        self.hint = hint or f"an access token of {name} (Authorization: Bearer <token>)"
        self._mapper = mapper

    def __repr__(self) -> str:
        return f"<VerifierStrategy {self.name!r}>"

    def challenge(self, error: TokenwardError | None) -> str | None:
        return _token_challenge(error, "access token")

    async def authenticate(self, credentials: Credentials) -> Principal | None:
        token = _bearer_of(credentials, api_key=False)
        if token is None:
            return None
        try:
            claims = await self.verifier.verify_async(token)
        except InvalidTokenError as exc:
            if _not_mine(exc, token, self.issuers):
                return None
            raise
        return self._mapper(claims, provider=self.name)


class _ApiKeyChecker(Protocol):
    async def authenticate(self, key: str) -> Principal: ...


class ApiKeyStrategy:
    """API keys used exactly like a bearer token: ``Authorization: Bearer vk_…``. Every ``vk_``
    bearer value is this strategy's: a wrong, expired or revoked key is a 401 here."""

    name = "api_key"
    hint = "an API key (Authorization: Bearer vk_…)"
    scheme = "bearer"

    def __init__(self, keys: _ApiKeyChecker) -> None:
        self.keys = keys

    def __repr__(self) -> str:
        return "<ApiKeyStrategy>"

    def challenge(self, error: TokenwardError | None) -> str | None:
        if error is None:
            return bearer_challenge()
        return bearer_challenge("invalid_token", "The API key is not valid")

    async def authenticate(self, credentials: Credentials) -> Principal | None:
        key = _bearer_of(credentials, api_key=True)
        if key is None:
            return None
        return await self.keys.authenticate(key)


class GuardedAttempt(Protocol):
    """One password check a :class:`LoginGuard` let run: a failure unless ``succeeded``."""

    async def succeeded(self) -> None: ...


class LoginGuard(Protocol):
    """The login rate limit, as password checks (debug login, HTTP Basic) use it: ``check``
    before the password is checked reserves the attempt (or raises
    :class:`~tokenward.RateLimitError`); it counts as a failure unless the password was right
    and the caller says so with the attempt's ``succeeded()``."""

    async def check(self, username: str, address: str | None) -> GuardedAttempt: ...


BasicCheck = Callable[[str, str], Awaitable[Principal | None]]


def decode_basic(param: str) -> tuple[str, str]:
    """User-id and password of an RFC 7617 ``Basic`` parameter: canonical base64 of UTF-8
    ``user-id:password`` (a colon required; the user-id cannot hold one)."""
    if not param or len(param) > MAX_CREDENTIAL_CHARS:
        raise InvalidCredentialsError("the Basic credentials are empty or too long")
    try:
        raw = base64.b64decode(param.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise InvalidCredentialsError("the Basic credentials are not base64") from None
    if base64.b64encode(raw).decode("ascii") != param:
        raise InvalidCredentialsError("the Basic credentials are not canonical base64")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidCredentialsError("the Basic credentials are not UTF-8") from None
    user, colon, password = text.partition(":")
    if not colon or not user:
        raise InvalidCredentialsError("the Basic credentials need 'user-id:password'")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise InvalidCredentialsError("the Basic credentials hold control characters")
    return user, password


class BasicStrategy:
    """HTTP Basic (RFC 7617), checked by the application's ``check(username, password)``
    coroutine, which returns a Principal or None. The login rate limit (``guard``) applies: a
    locked-out user name is a 429 even with the right password."""

    name = "basic"
    hint = "HTTP Basic credentials (Authorization: Basic …)"
    scheme = "basic"

    def __init__(
        self, check: BasicCheck, *, realm: str = "tokenward", guard: LoginGuard | None = None
    ) -> None:
        self.check = check
        self.realm = realm
        self.guard = guard

    def __repr__(self) -> str:
        return f"<BasicStrategy realm={self.realm!r}>"

    def challenge(self, error: TokenwardError | None) -> str | None:
        return basic_challenge(self.realm)

    async def authenticate(self, credentials: Credentials) -> Principal | None:
        param = credentials.scheme_param("basic")
        if param is None:
            return None
        user, password = decode_basic(param)
        attempt = None
        if self.guard is not None:
            attempt = await self.guard.check(user, credentials.client_address)
        principal = await self.check(user, password)
        if principal is None:
            raise InvalidCredentialsError("Incorrect user name or password.")
        if not isinstance(principal, Principal):
            raise ConfigurationError(
                "the HTTP Basic check must return a tokenward Principal or None, not "
                + type(principal).__name__
            )
        if attempt is not None:
            await attempt.succeeded()
        if principal.credential_type != "basic":
            principal = dataclasses.replace(principal, credential_type="basic")
        return principal


class GatewayStrategy:
    """Claims an API Gateway JWT authorizer already verified, trusted only through a
    :class:`~tokenward.CognitoVerifier` built with ``trust_gateway=True`` (which still checks
    ``iss``, ``token_use``, ``client_id`` and ``exp``). Without such claims it says "not mine",
    and the bearer token is verified as usual (defence in depth)."""

    name = "gateway"
    hint = "a request through the API Gateway authorizer"
    scheme = None

    def __init__(self, verifier: CognitoVerifier) -> None:
        if not verifier.trust_gateway:
            raise ConfigurationError("GatewayStrategy needs CognitoVerifier(trust_gateway=True)")
        self.verifier = verifier

    def __repr__(self) -> str:
        return "<GatewayStrategy>"

    def challenge(self, error: TokenwardError | None) -> str | None:
        return None

    async def authenticate(self, credentials: Credentials) -> Principal | None:
        claims = credentials.gateway_claims()
        if claims is None:
            return None
        checked = self.verifier.claims_from_gateway(claims, form=_gateway_form(credentials.event))
        return from_cognito_claims(checked, provider="cognito", credential_type="gateway")


def _gateway_form(event: Mapping[str, Any]) -> Literal["http", "rest"]:
    """Which gateway wrote the claims, hence how it wrote lists (docs/cognito.md): an HTTP API
    event carries its payload ``version`` (1.0 or 2.0) and, in 2.0, its JWT claims under
    ``authorizer.jwt``; a REST API event has neither."""
    if event.get("version") in ("1.0", "2.0"):
        return "http"
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    return "http" if isinstance(authorizer, Mapping) and "jwt" in authorizer else "rest"


# --- opaque access tokens: RFC 7662 introspection -----------------------------------------------


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") in (2, 4)  # a JWS (three parts) or a JWE (five)


class IntrospectionStrategy:
    """Opaque access tokens, checked at an OAuth 2.0 token introspection endpoint (RFC 7662).

    Each token is POSTed (``token=…&token_type_hint=access_token``) to ``url`` with this
    resource server's client credentials (HTTP Basic, RFC 7662 §2.1), through httpx. The answer
    decides:

    * ``"active": true`` — the token is good, within its ``exp``/``nbf`` (with ``leeway``), for
      ``audience`` (one or several; checked when given: ``aud`` as a string or an array) and
      ``issuer`` (checked when given). The Principal's subject is ``sub`` (``client_id`` for a
      client's own token), its groups, scopes and email come from ``mapping``
      (:class:`~tokenward.oidc.ClaimMapping`: ``scope``, ``groups``...);
    * ``"active": false`` (or anything but ``true``) — :class:`~tokenward.InvalidTokenError`: 401;
    * no answer, a slow one, a status other than 200, our credentials refused, a body that is not
      a JSON object or is over ``max_bytes`` —
      :class:`~tokenward.exceptions.IntrospectionUnavailableError`: 503, never 401.

    Active answers are cached (by the token's SHA-256, never the token itself) until the token's
    ``exp`` and never longer than ``max_cache_ttl`` seconds (0: no cache), for at most
    ``cache_size`` tokens, the oldest leaving first: a revocation at the provider takes effect
    here within ``max_cache_ttl``. Inactive answers are cached for ``inactive_ttl`` seconds (0 by
    default, so not at all: a forged token is new each time, so a cache would not spare the
    endpoint, and a revoked one is refused by the provider anyway).

    A JWT-shaped bearer value is "not mine" (a JWT strategy takes it) unless ``jwts=True``; put
    this strategy before ``jwt`` in ``AUTH_STRATEGIES``.
    """

    scheme = "bearer"

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        client_secret: str,
        name: str = "introspection",
        audience: str | Sequence[str] | None = None,
        issuer: str | None = None,
        mapping: ClaimMapping | None = None,
        leeway: float = 0.0,
        max_cache_ttl: float = 60.0,
        inactive_ttl: float = 0.0,
        cache_size: int = 4096,
        timeout: float = 5.0,
        max_bytes: int = 64 * 1024,
        jwts: bool = False,
        allow_http: bool = False,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        hint: str | None = None,
    ) -> None:
        self.url = _check_url("the introspection URL", url, allow_http=allow_http)
        if not isinstance(client_id, str) or not client_id or ":" in client_id:
            raise ConfigurationError("the introspection client_id must be a non-empty string")
        if not isinstance(client_secret, str) or not client_secret:
            raise ConfigurationError("the introspection client_secret must be a non-empty string")
        for what, value in (
            ("leeway", leeway),
            ("max_cache_ttl", max_cache_ttl),
            ("inactive_ttl", inactive_ttl),
            ("timeout", timeout),
        ):
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ConfigurationError(f"{what} must be a number of seconds >= 0")
        if timeout <= 0 or inactive_ttl > max_cache_ttl:
            raise ConfigurationError("timeout must be > 0, inactive_ttl at most max_cache_ttl")
        if not isinstance(cache_size, int) or cache_size < 0:
            raise ConfigurationError("cache_size must be an integer >= 0")
        self.name = name
        self.hint = hint or "an access token (Authorization: Bearer <token>)"
        self.audience: tuple[str, ...] = (
            ()
            if audience is None
            else (audience,)
            if isinstance(audience, str)
            else tuple(audience)
        )
        self.issuer = issuer
        self.mapping = mapping or ClaimMapping()
        self.leeway = float(leeway)
        self.max_cache_ttl = float(max_cache_ttl)
        self.inactive_ttl = float(inactive_ttl)
        self.cache_size = cache_size
        self.jwts = jwts
        self._auth = (client_id, client_secret)
        self._timeout = float(timeout)
        self._max_bytes = max_bytes
        self._client = client
        self._clock = clock
        self._cache: dict[bytes, tuple[float, Principal | None]] = {}
        self.requests = 0
        """Introspection requests made (for tests and metrics)."""

    def __repr__(self) -> str:
        return f"<IntrospectionStrategy {self.name!r} {self.url!r}>"

    def challenge(self, error: TokenwardError | None) -> str | None:
        return _token_challenge(error, "access token")

    async def authenticate(self, credentials: Credentials) -> Principal | None:
        token = _bearer_of(credentials, api_key=False)
        if token is None or (not self.jwts and _looks_like_jwt(token)):
            return None
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and now < cached[0]:
            if cached[1] is None:
                raise InvalidTokenError("the access token is not active")
            return cached[1]
        answer = await self._introspect(token)
        now = self._clock()
        if answer.get("active") is not True:
            if self.inactive_ttl > 0:
                remember(self._cache, key, (now + self.inactive_ttl, None), self.cache_size)
            raise InvalidTokenError("the access token is not active")
        principal, exp = self._principal(answer, now)
        ttl = self.max_cache_ttl if exp is None else min(self.max_cache_ttl, exp - now)
        if ttl > 0:
            remember(self._cache, key, (now + ttl, principal), self.cache_size)
        return principal

    def _principal(self, answer: dict[str, Any], now: float) -> tuple[Principal, float | None]:
        times: dict[str, float] = {}
        for name in ("exp", "nbf", "iat"):
            value = answer.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidClaimError(f"the introspection answer's {name!r} is not a time")
            times[name] = float(value)
        if "exp" in times and now - self.leeway >= times["exp"]:
            raise ExpiredTokenError("the access token has expired")
        if "nbf" in times and now + self.leeway < times["nbf"]:
            raise ImmatureTokenError("the access token is not valid yet")
        if self.audience:
            aud = answer.get("aud")
            named = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
            if not any(isinstance(a, str) and a in self.audience for a in named):
                raise InvalidAudienceError("the access token was issued for another audience")
        if self.issuer is not None and answer.get("iss") != self.issuer:
            raise InvalidIssuerError("the access token is of another issuer")
        claims = dict(answer)
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            client = claims.get("client_id")
            if not isinstance(client, str) or not client:
                raise InvalidClaimError("the introspection answer names no sub and no client_id")
            claims["sub"] = client
        principal = self.mapping.principal(claims, provider=self.name)
        return principal, times.get("exp")

    async def _introspect(self, token: str) -> dict[str, Any]:
        try:
            import httpx
        except ImportError:  # pragma: no cover - depends on the environment
            raise ConfigurationError("IntrospectionStrategy needs httpx") from None
        self.requests += 1
        form = {"token": token, "token_type_hint": "access_token"}
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = self._client
                if client is None:
                    client = await stack.enter_async_context(
                        httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
                    )
                async with asyncio.timeout(self._timeout):
                    async with client.stream(
                        "POST", self.url, data=form, auth=self._auth, headers=headers
                    ) as response:
                        status = response.status_code
                        body = bytearray()
                        async for chunk in response.aiter_raw():
                            body += chunk
                            if len(body) > self._max_bytes:
                                raise IntrospectionUnavailableError(
                                    f"the introspection answer is over {self._max_bytes} bytes"
                                )
        except TimeoutError:
            raise IntrospectionUnavailableError(
                f"no introspection answer within {self._timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise IntrospectionUnavailableError(
                f"the introspection endpoint cannot be reached: {type(exc).__name__}"
            ) from None
        if status in (401, 403):
            _log.error(
                "tokenward: %s refuses this resource server's client credentials (HTTP %d)",
                self.url,
                status,
            )
        if status != 200:
            raise IntrospectionUnavailableError(f"the introspection endpoint answered {status}")
        try:
            answer = json.loads(bytes(body))
        except (UnicodeDecodeError, ValueError):
            raise IntrospectionUnavailableError("the introspection answer is not JSON") from None
        if not isinstance(answer, dict):
            raise IntrospectionUnavailableError("the introspection answer is not a JSON object")
        return answer
