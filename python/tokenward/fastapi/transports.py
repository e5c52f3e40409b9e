"""Transports: where a request's credential comes from, apart from how it is checked.

A strategy (:mod:`tokenward.strategies`) checks an ``Authorization`` value; a transport says
where that value is read, how a login answer is written, and which challenge a refusal sends
(the pairing of fastapi-users' ``AuthenticationBackend(transport, strategy)``):

=====================  ===============================  ====================  ==================
transport              reads                            login answer          refusal
=====================  ===============================  ====================  ==================
:class:`BearerHeader`  ``Authorization``                JSON body             ``WWW-Authenticate:
                                                                              Bearer``
:class:`ApiKeyHeader`  ``X-API-Key: vk_…``              (keys are not issued  ``Bearer`` (a key
                       (``API_KEY_HEADER=true``)        by login)             also works there)
:class:`CookieSession` the access cookie                ``Set-Cookie`` (and   ``Bearer``; a
                       (``COOKIE_SESSIONS=true``),      the JSON body)        state-changing
                       CSRF-checked                                           request failing the
                                                                              CSRF rule: 403
:class:`WebSocketAuth` ``Authorization``, the           (none)                close 1008
                       ``WEBSOCKET_TOKEN_QUERY``
                       parameter, the access cookie
=====================  ===============================  ====================  ==================

:class:`Transports` tries them in that order (the ``Authorization`` header always wins, so a
bearer request is never touched by the cookie rules) and hands the strategies one
:class:`~tokenward.strategies.Credentials`. The bearer path reads the header straight from the
ASGI scope's list, without building Starlette's ``Headers``: it is every request's path.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from starlette.requests import HTTPConnection, cookie_parser
from starlette.responses import Response

from tokenward.exceptions import CsrfError, InvalidApiKeyError
from tokenward.ratelimit import UNVERIFIED, TrustedProxies, client_address
from tokenward.settings import AuthSettings
from tokenward.strategies import API_KEY_PREFIX, Credentials, bearer_challenge
from tokenward.tokens import TokenPair

__all__ = [
    "CSRF_HEADER",
    "SAFE_METHODS",
    "ApiKeyHeader",
    "BearerHeader",
    "CookieSession",
    "Transports",
    "WebSocketAuth",
    "csrf_problems",
    "from_settings",
    "origin_of",
]

_log = logging.getLogger("tokenward")
_NO_EVENT: Mapping[str, Any] = MappingProxyType({})
CSRF_HEADER = "X-Tokenward-CSRF"
_CSRF_HEADER = CSRF_HEADER.lower().encode("latin-1")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# What a token may hold to travel in a cookie unquoted (RFC 6265 cookie-octets, narrowed to
# what the tokens are made of: base64url, dots, and the refresh tokens' prefix).
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9._~-]{1,8192}")
_LOOPBACK_NAMES = frozenset({"localhost"})


def _header(scope: Mapping[str, Any], name: bytes) -> str | None:
    """The first header ``name`` (lower-case bytes, as ASGI gives them) of the scope."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


def authorization(scope: Mapping[str, Any]) -> str | None:
    """The request's first ``Authorization`` header, read from the ASGI scope (names there are
    lower-case bytes, as Starlette's ``Headers`` also relies on), without building ``Headers``."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url``, lower-case; None for what is not an http(s) URL
    (``null``, an opaque origin, included)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme.lower() == "https" else 80
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port and port != default else "")


def csrf_problems(
    scope: Mapping[str, Any], allowed: frozenset[str], variable: str = "ALLOWED_ORIGINS"
) -> tuple[str, ...]:
    """What a state-changing request that a cookie authenticates lacks: an ``Origin`` (or,
    without one, a ``Referer``) listed in ``allowed``, and the header ``X-Tokenward-CSRF: 1``.
    Empty for a safe method (GET, HEAD, OPTIONS, TRACE) and for a request that has both."""
    if scope.get("method", "GET") in SAFE_METHODS:
        return ()
    origin = referer = csrf = None
    for key, value in scope["headers"]:
        if key == b"origin" and origin is None:
            origin = value.decode("latin-1")
        elif key == b"referer" and referer is None:
            referer = value.decode("latin-1")
        elif key == _CSRF_HEADER and csrf is None:
            csrf = value.decode("latin-1")
    problems: list[str] = []
    source = origin if origin is not None else referer
    if source is None:
        problems.append("an Origin (or Referer) header")
    elif origin_of(source) not in allowed:
        which = "Origin" if origin is not None else "Referer"
        problems.append(f"an {which} listed in {variable}")
    if csrf is None or csrf.strip() != "1":
        problems.append(f"the header {CSRF_HEADER}: 1")
    return tuple(problems)


def _loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BearerHeader:
    """``Authorization: Bearer <token>`` (or ``Bearer vk_…``, or ``Basic``: the header is
    handed to the strategies as it came). A login answers with the JSON body."""

    name = "bearer"
    challenge = bearer_challenge()

    @staticmethod
    def read(scope: Mapping[str, Any]) -> str | None:
        return authorization(scope)


class ApiKeyHeader:
    """``X-API-Key: vk_…`` (opt-in: ``API_KEY_HEADER=true``), for clients whose tooling sets
    that header; handed to the API-key strategy as ``Bearer vk_…``. A value that is no API key
    is refused (401): this header never carries an access token."""

    name = "api_key_header"
    challenge = bearer_challenge()
    header = b"x-api-key"

    def read(self, scope: Mapping[str, Any]) -> str | None:
        value = _header(scope, self.header)
        if value is None:
            return None
        value = value.strip()
        if not value.startswith(API_KEY_PREFIX):
            raise InvalidApiKeyError("malformed", "The X-API-Key header holds no API key (vk_…).")
        return "Bearer " + value


class CookieSession:
    """Cookie sessions (``COOKIE_SESSIONS=true``): login and refresh set the access token and the
    refresh token as cookies, ``HttpOnly``, ``SameSite=Lax``, ``Secure`` (left off only for
    plain http to a loopback host in development), ``Max-Age`` the token's lifetime; the refresh
    cookie only goes to the auth routes (``Path`` the auth prefix).

    A request a cookie authenticates is checked against CSRF: a state-changing one (POST, PUT,
    PATCH, DELETE) needs an ``Origin`` (or ``Referer``) in ``ALLOWED_ORIGINS`` and
    ``X-Tokenward-CSRF: 1`` (:func:`csrf_problems`), else :class:`~tokenward.CsrfError` (403).
    An API key is never read from a cookie."""

    name = "cookie"
    challenge = bearer_challenge()

    def __init__(
        self,
        *,
        access_name: str,
        refresh_name: str,
        access_lifetime: int,
        refresh_lifetime: int,
        refresh_path: str,
        allowed_origins: Iterable[str],
        development: bool,
        origins_variable: str = "ALLOWED_ORIGINS",
    ) -> None:
        self.access_name = access_name
        self.refresh_name = refresh_name
        self.access_lifetime = access_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.refresh_path = refresh_path
        self.allowed_origins = frozenset(o for o in map(origin_of, allowed_origins) if o)
        self.development = development
        self.origins_variable = origins_variable

    # --- reading -------------------------------------------------------------------------------

    def cookie(self, scope: Mapping[str, Any], name: str) -> str | None:
        """The value of the cookie ``name``; None when absent, empty, or not a token's shape."""
        found = None
        for key, value in scope["headers"]:
            if key == b"cookie":
                found = cookie_parser(value.decode("latin-1")).get(name) or found
        if not found or _COOKIE_VALUE.fullmatch(found) is None:
            return None
        return found

    def read(self, scope: Mapping[str, Any]) -> str | None:
        """The access cookie as an ``Authorization`` value, after the CSRF check."""
        token = self.cookie(scope, self.access_name)
        if token is None or token.startswith(API_KEY_PREFIX):
            return None
        self.check_csrf(scope)
        return "Bearer " + token

    def refresh_token(self, scope: Mapping[str, Any]) -> str | None:
        """The refresh cookie (CSRF-checked: it authenticates the refresh or the logout)."""
        token = self.cookie(scope, self.refresh_name)
        if token is not None:
            self.check_csrf(scope)
        return token

    def check_csrf(self, scope: Mapping[str, Any]) -> None:
        problems = csrf_problems(scope, self.allowed_origins, self.origins_variable)
        if problems:
            raise CsrfError(problems)

    def check_login(self, scope: Mapping[str, Any]) -> None:
        """A login that will set cookies: when the request names where it comes from (``Origin``,
        or ``Referer``), that must be an allowed origin, so that another site's form cannot sign
        a browser in (login CSRF). A request naming neither is no browser's."""
        origin = _header(scope, b"origin")
        if origin is None:
            origin = _header(scope, b"referer")
        if origin is not None and origin_of(origin) not in self.allowed_origins:
            which = "Origin" if _header(scope, b"origin") is not None else "Referer"
            raise CsrfError((f"an {which} listed in {self.origins_variable}",))

    # --- writing -------------------------------------------------------------------------------

    def secure(self, connection: HTTPConnection) -> bool:
        """Whether the cookies are ``Secure``: always, except in development for plain http to a
        loopback host (a browser refuses a Secure cookie over http from anywhere else)."""
        if not self.development or connection.url.scheme != "http":
            return True
        return not _loopback(connection.url.hostname or "")

    def _cookie(self, name: str, value: str, max_age: int, path: str, secure: bool) -> str:
        parts = [f"{name}={value}", f"Max-Age={max_age}", f"Path={path}", "HttpOnly"]
        parts.append("SameSite=Lax")
        if secure:
            parts.append("Secure")
        return "; ".join(parts)

    def write_login(self, response: Response, pair: TokenPair, connection: HTTPConnection) -> None:
        """Set both cookies on ``response`` (a login's or a refresh's answer)."""
        if not (
            _COOKIE_VALUE.fullmatch(pair.access_token)
            and _COOKIE_VALUE.fullmatch(pair.refresh_token)
        ):
            raise ValueError("a token holds a character a cookie cannot carry")
        secure = self.secure(connection)
        headers = response.headers
        headers.append(
            "set-cookie",
            self._cookie(self.access_name, pair.access_token, self.access_lifetime, "/", secure),
        )
        headers.append(
            "set-cookie",
            self._cookie(
                self.refresh_name,
                pair.refresh_token,
                self.refresh_lifetime,
                self.refresh_path,
                secure,
            ),
        )

    def write_access(self, response: Response, token: str, connection: HTTPConnection) -> None:
        """Set the access cookie alone (a step-up's fresh access token; the refresh cookie and
        its session stay as they are)."""
        if not _COOKIE_VALUE.fullmatch(token):
            raise ValueError("a token holds a character a cookie cannot carry")
        cookie = self._cookie(
            self.access_name, token, self.access_lifetime, "/", self.secure(connection)
        )
        response.headers.append("set-cookie", cookie)

    def write_logout(self, response: Response, connection: HTTPConnection) -> None:
        """Clear both cookies (``Max-Age=0``, same name, path and attributes)."""
        secure = self.secure(connection)
        headers = response.headers
        headers.append("set-cookie", self._cookie(self.access_name, "", 0, "/", secure))
        headers.append(
            "set-cookie", self._cookie(self.refresh_name, "", 0, self.refresh_path, secure)
        )


class WebSocketAuth:
    """A WebSocket handshake: the ``Authorization`` header; without it, when
    ``WEBSOCKET_TOKEN_QUERY`` names a query parameter, an access token there (never an API key:
    a long-lived key does not belong in a URL, which logs keep); with cookie sessions, the access
    cookie, if the handshake's ``Origin`` is in ``ALLOWED_ORIGINS`` (a handshake can carry no
    CSRF header: the origin check is what stops another site's page from opening it). A refusal
    closes the socket with 1008."""

    name = "websocket"
    challenge = None

    def __init__(self, token_query: str | None, cookies: CookieSession | None) -> None:
        self.token_query = token_query or None
        self.cookies = cookies

    def query_bearer(self, scope: Mapping[str, Any]) -> str | None:
        """The access token in the query parameter, as an ``Authorization`` value; None when it
        is absent, empty, given twice, or an API key."""
        if self.token_query is None:
            return None
        query: bytes = scope.get("query_string") or b""
        found: list[str] = [
            value
            for key, value in urllib.parse.parse_qsl(
                query.decode("latin-1"), keep_blank_values=True
            )
            if key == self.token_query
        ]
        if len(found) != 1 or not found[0] or found[0].startswith(API_KEY_PREFIX):
            return None
        return "Bearer " + found[0]

    def read(self, scope: Mapping[str, Any]) -> str | None:
        header = authorization(scope)
        if header is None:
            header = self.query_bearer(scope)
        if header is None and self.cookies is not None:
            token = self.cookies.cookie(scope, self.cookies.access_name)
            if token is not None and not token.startswith(API_KEY_PREFIX):
                origin = _header(scope, b"origin")
                if origin is None or origin_of(origin) not in self.cookies.allowed_origins:
                    raise CsrfError((f"an Origin listed in {self.cookies.origins_variable}",))
                header = "Bearer " + token
        return header


class ClientAddress:
    """The client's address as the limits count it (:func:`tokenward.ratelimit.client_address`):
    the socket's peer, or behind a proxy listed in ``TRUSTED_PROXIES`` the right-most untrusted
    ``X-Forwarded-For`` entry, or ``"unverified"`` when the server took the peer from
    ``X-Forwarded-For`` with no trusted proxy vouching for it (said once in the log)."""

    def __init__(self, proxies: TrustedProxies, variable: str) -> None:
        self._proxies = proxies
        self._variable = variable  # TRUSTED_PROXIES under the app's prefix, for the warning
        self._warned = False

    def __call__(self, request: HTTPConnection) -> str | None:
        scope = request.scope
        client = scope.get("client")
        forwarded = [
            v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"
        ]
        address = client_address(client[0] if client else None, forwarded, self._proxies)
        if address == UNVERIFIED and not self._warned:
            self._warned = True
            _log.warning(
                "tokenward: the server took a client address from X-Forwarded-For that no proxy "
                "in %s vouches for; such requests are counted together as %r. List your "
                "proxies in %s, and give uvicorn the same in --forwarded-allow-ips.",
                self._variable,
                UNVERIFIED,
                self._variable,
            )
        return address


class Transports:
    """The app's transports, in order, with what a :class:`Credentials` needs besides the
    credential: the client's address (``address``) and the serverless event (API Gateway)."""

    def __init__(
        self,
        address: Callable[[HTTPConnection], str | None],
        *,
        api_key_header: bool = False,
        cookies: CookieSession | None = None,
        token_query: str | None = None,
    ) -> None:
        self._address = address
        self.address = address
        """The client's address as the limits count it (:class:`ClientAddress`)."""
        self.bearer = BearerHeader()
        self.api_key_header = ApiKeyHeader() if api_key_header else None
        self.cookies = cookies
        self.websocket = WebSocketAuth(token_query, cookies)
        # Read after the Authorization header, in order, for HTTP requests.
        self._fallbacks: tuple[Callable[[Mapping[str, Any]], str | None], ...] = tuple(
            t.read for t in (self.api_key_header, cookies) if t is not None
        )

    @property
    def names(self) -> tuple[str, ...]:
        """The transports an HTTP request may use, in the order they are read."""
        found = (self.bearer, self.api_key_header, self.cookies)
        return tuple(t.name for t in found if t is not None)

    def credentials(self, request: HTTPConnection) -> Credentials:
        """What the request presents, from the first transport that finds a credential."""
        scope = request.scope
        # The bearer transport's read, inlined: this loop is every request's path, and a call
        # costs about as much as the loop itself. The same pass notes X-Forwarded-For: without
        # it the client's address is the peer (client_address's first rule), with no more work.
        header = None
        forwarded = False
        for name, value in scope["headers"]:
            if name == b"authorization":
                if header is None:
                    header = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded = True
        if forwarded:
            address = self._address(request)
        else:
            client = scope.get("client")
            address = client[0] if client else None
        if header is None:
            if scope["type"] == "websocket":
                header = self.websocket.read(scope)
            else:
                for read in self._fallbacks:
                    header = read(scope)
                    if header is not None:
                        break
        return Credentials(header, address, scope.get("aws.event") or _NO_EVENT)


def from_settings(settings: AuthSettings, auth_prefix: str) -> Transports:
    """The transports the settings ask for: ``API_KEY_HEADER``, ``COOKIE_SESSIONS`` (with
    ``COOKIE_ACCESS_NAME``, ``COOKIE_REFRESH_NAME``, ``ALLOWED_ORIGINS``, the token lifetimes;
    the refresh cookie scoped to ``auth_prefix``) and ``WEBSOCKET_TOKEN_QUERY``; the client's
    address from ``TRUSTED_PROXIES``."""
    address = ClientAddress(TrustedProxies(settings.proxies), settings.var("trusted_proxies"))
    cookies = None
    if settings.cookie_sessions:
        origins = settings.allowed_origins
        cookies = CookieSession(
            access_name=settings.cookie_access_name,
            refresh_name=settings.cookie_refresh_name,
            access_lifetime=int(settings.access_token_lifetime.total_seconds()),
            refresh_lifetime=int(settings.refresh_token_lifetime.total_seconds()),
            refresh_path=auth_prefix,
            allowed_origins=[origins] if isinstance(origins, str) else origins,
            development=settings.is_development,
            origins_variable=settings.var("allowed_origins"),
        )
        if not cookies.allowed_origins:
            _log.warning(
                "tokenward: %s=true but %s is empty: every state-changing request a cookie "
                "authenticates is refused (403)",
                settings.var("cookie_sessions"),
                settings.var("allowed_origins"),
            )
    return Transports(
        address,
        api_key_header=settings.api_key_header,
        cookies=cookies,
        token_query=settings.websocket_token_query,
    )
