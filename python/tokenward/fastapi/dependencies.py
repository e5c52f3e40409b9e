"""FastAPI dependencies: ``require_current_user``, ``optional_current_user``, ``require_groups``,
``authenticate(...)`` and ``public()``.

They are module-level objects, imported into route modules as they are. At request time they
ask the app's :class:`~tokenward.fastapi.Auth` (put on ``app.state`` by ``auth.lifespan`` or
``auth.install(app)``) for the strategies to run; nothing is found through FastAPI internals.
Scopes come through FastAPI's ``Security``::

    @app.get("/v1/reports")
    def reports(user: CurrentUser = Security(require_current_user, scopes=["reports:read"])): ...

``require_current_user`` and ``optional_current_user`` are security schemes themselves, as
FastAPI's own ``OAuth2PasswordBearer`` is: one dependency that reads the request and checks the
credentials, rather than a function depending on :data:`bearer_scheme`. FastAPI resolves each
level of a dependency tree at a cost of its own (about as much as verifying a custom token, see
docs/performance.md), and OpenAPI shows the same ``tokenward`` scheme either way.

Each works on WebSocket routes as on HTTP ones (they read a Starlette ``HTTPConnection``): the
credentials come from the handshake's ``Authorization`` header, or, when
``WEBSOCKET_TOKEN_QUERY`` names a query parameter, an access token there. A refused handshake
is accepted and closed at once with 1008 (policy violation; 1013 when the store or the keys are
unavailable) and the reason as its text; the endpoint does not run.
"""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable, MutableMapping
from typing import Annotated, Any, Protocol

from fastapi import HTTPException, Security, WebSocketException
from fastapi.security import (
    HTTPBasic,
    HTTPBasicCredentials,
    OAuth2PasswordBearer,
    SecurityScopes,
)
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketState

from tokenward.authenticator import Authenticator, Mode
from tokenward.caches import REQUEST_MEMO_KEY
from tokenward.exceptions import (
    AuthorizationError,
    ConfigurationError,
    InsufficientAuthenticationError,
    InvalidCredentialsError,
    NotAuthenticatedError,
    TokenwardError,
)
from tokenward.fastapi import errors
from tokenward.fastapi.models import CurrentUser
from tokenward.principal import Principal
from tokenward.strategies import Credentials, Strategy, decode_basic

__all__ = [
    "STATE_ATTR",
    "AppAuth",
    "StrategySpec",
    "authenticate",
    "basic_scheme",
    "bearer_scheme",
    "find_auth",
    "install_on_app",
    "is_public",
    "optional_current_user",
    "public",
    "require_current_user",
    "require_fresh_mfa",
    "require_groups",
]

_log = logging.getLogger("tokenward")

STATE_ATTR = "tokenward_auth"
# The same Auth as a plain attribute of the app object, where every request looks first: an
# attribute of Starlette's State is found through its __getattr__, after a failed lookup whose
# AttributeError costs more than the rest of finding the Auth. ``app.state`` stays the one place
# the Auth is documented to live; install_on_app() sets both.
_APP_ATTR = "_tokenward_auth"
# Where a request keeps the users its credentials were checked for, so that several dependencies
# of one request (require_groups beside require_current_user, say) check them once: a key of the
# ASGI scope, which lives exactly as long as the request.
_SCOPE_USERS = REQUEST_MEMO_KEY  # its rules: tokenward.caches (4.)

# What a dependency asks the Auth for: None (the app's default strategies) or the strategies
# and mode given to authenticate(...).
StrategySpec = tuple[tuple[str | Strategy, ...], Mode] | None


class AppAuth(Protocol):
    """What the dependencies need of the app's Auth (``tokenward.fastapi.Auth`` is one)."""

    @property
    def login_path(self) -> str | None: ...

    @property
    def default_authenticator(self) -> Authenticator: ...

    def authenticator(self, spec: StrategySpec) -> Authenticator: ...

    def credentials(self, request: HTTPConnection) -> Credentials: ...

    def current_user(self, principal: Principal) -> CurrentUser: ...


class BearerScheme(OAuth2PasswordBearer):
    """OAuth2 password flow in OpenAPI (Swagger UI's Authorize button) over a bearer header.

    Returns the token, ``""`` for a Bearer header without one, and None when no bearer
    credentials were sent at all (no header, or another scheme such as Basic). The Auth rewrites
    the flow in the app's OpenAPI document for its provider (the login path, or Cognito).
    """

    async def __call__(self, request: HTTPConnection) -> str | None:
        return Credentials(request.headers.get("authorization")).bearer()


bearer_scheme = BearerScheme(
    tokenUrl=errors.LOGIN_PATH,
    refreshUrl=errors.REFRESH_PATH,
    scheme_name="tokenward",
    description="Bearer access token, or an API key (Bearer vk_…).",
    auto_error=False,
)


class BasicScheme(HTTPBasic):
    """HTTP Basic in OpenAPI. Unlike FastAPI's ``HTTPBasic``, it never answers by itself (that
    one refuses non-ASCII credentials with a 401 of its own even with ``auto_error=False``): it
    returns the credentials decoded as RFC 7617 says (UTF-8, a colon required), or None when
    none or malformed ones came. The ``basic`` strategy does the checking and the refusing."""

    async def __call__(self, request: HTTPConnection) -> HTTPBasicCredentials | None:  # type: ignore[override]
        param = Credentials(request.headers.get("authorization")).scheme_param("basic")
        if param is None:
            return None
        try:
            username, password = decode_basic(param)
        except InvalidCredentialsError:
            return None
        return HTTPBasicCredentials(username=username, password=password)


basic_scheme = BasicScheme(
    scheme_name="tokenward_basic", description="HTTP Basic credentials", auto_error=False
)


def install_on_app(app: Any, auth: AppAuth) -> None:
    """Put ``auth`` where the dependencies find it: ``app.state.tokenward_auth`` (and, for the
    request path, a plain attribute of the app when the app takes one)."""
    setattr(app.state, STATE_ATTR, auth)
    with contextlib.suppress(AttributeError, TypeError):
        setattr(app, _APP_ATTR, auth)


def _app_auth(app: Any) -> AppAuth | None:
    found = getattr(app, _APP_ATTR, None)
    if found is not None:
        return found  # type: ignore[no-any-return]
    return getattr(getattr(app, "state", None), STATE_ATTR, None)


def find_auth(app: Any) -> AppAuth:
    """The Auth serving ``app``; ConfigurationError when there is none."""
    found = _app_auth(app)
    if found is None:
        raise ConfigurationError(
            "no tokenward Auth on this app: create it with FastAPI(lifespan=auth.lifespan), "
            "or call auth.install(app)"
        )
    return found


async def _user(
    request: HTTPConnection, spec: StrategySpec, *, optional: bool
) -> CurrentUser | None:
    """The user the request's credentials prove under ``spec``; None (when ``optional``) when
    none were sent; an HTTPException for anything else."""
    scope = request.scope
    memo: dict[Hashable, CurrentUser | None] | None = scope.get(_SCOPE_USERS)
    if memo is not None and spec in memo:
        user = memo[spec]
        if user is not None or optional:
            return user
    auth = _app_auth(scope["app"])
    if auth is None:
        _log.error(
            "tokenward: no Auth on this app: use FastAPI(lifespan=auth.lifespan) or "
            "auth.install(app)"
        )
        if request.headers.get("authorization") is None:
            if optional or _route_is_public(scope):
                return None
            raise errors.to_http(NotAuthenticatedError("send credentials"))
        raise errors.unavailable("Authentication")
    try:
        authenticator = auth.default_authenticator if spec is None else auth.authenticator(spec)
        principal = await authenticator.authenticate(auth.credentials(request))
    except NotAuthenticatedError as exc:
        if optional or _route_is_public(scope):
            principal = None
        else:
            raise errors.to_http(exc, login_path=auth.login_path) from None
    except TokenwardError as exc:
        raise errors.to_http(exc, login_path=auth.login_path) from None
    except (UnicodeError, ValueError, TypeError) as exc:
        _log.error("tokenward: cannot check the request's credentials: %s", exc)
        raise errors.unavailable("Authentication") from None
    user = None if principal is None else auth.current_user(principal)
    if memo is None:
        scope[_SCOPE_USERS] = memo = {}
    memo[spec] = user
    return user


_public_routes: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _marked_public(dependant: Any, depth: int = 0) -> bool:
    if depth > 32:
        return False
    return any(
        is_public(d.call) or _marked_public(d, depth + 1)
        for d in getattr(dependant, "dependencies", ())
    )


def _route_is_public(scope: MutableMapping[str, Any]) -> bool:
    """Whether the request's route carries the :func:`public` marker (asked only when no
    credentials came, so it costs the signed-in path nothing)."""
    route = scope.get("route")
    if route is None:
        return False
    # FastAPI 0.160 and later run a route of an included router under an "effective context"
    # whose dependency tree adds the inclusion's dependencies (include_router(dependencies=...));
    # scope["route"] is the bare route. Read the context's tree when it is there, as
    # route_report does, so a public() given to include_router counts here too.
    fastapi_scope = scope.get("fastapi")
    context = (
        fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    )
    if context is not None and getattr(context, "original_route", None) is route:
        return _marked_public(getattr(context, "dependant", None))
    try:
        return _public_routes[route]
    except KeyError:
        pass
    except TypeError:  # not weakly referenceable: do not cache
        return _marked_public(getattr(route, "dependant", None))
    found = _marked_public(getattr(route, "dependant", None))
    _public_routes[route] = found
    return found


async def _refused(connection: HTTPConnection, exc: HTTPException) -> WebSocketException:
    """A WebSocket handshake refused with ``exc``: accepted, so that the close code and reason
    reach the client (a close before the accept is an HTTP 403 that a browser cannot read), and
    the close to raise (Starlette's handler sends it)."""
    refusal = errors.to_websocket(exc)
    if isinstance(connection, WebSocket) and connection.client_state is WebSocketState.CONNECTING:
        await connection.accept()
    return refusal


def _check_scopes(user: CurrentUser, security_scopes: SecurityScopes) -> None:
    missing = tuple(s for s in security_scopes.scopes if s not in user.scopes)
    if missing:
        raise errors.to_http(
            AuthorizationError("missing scopes", subject=user.sub, missing_scopes=missing)
        )


class _UserScheme(SecurityBase):
    """A dependency that is also the ``tokenward`` security scheme of :data:`bearer_scheme`
    (same OpenAPI model and name), so a route that uses it shows the Authorize button."""

    def __init__(self, scheme: SecurityBase, name: str) -> None:
        self.model = scheme.model
        self.scheme_name = scheme.scheme_name
        self._name = name

    def __repr__(self) -> str:
        return f"<tokenward.fastapi.{self._name}>"


class RequireCurrentUser(_UserScheme):
    """The type of :data:`require_current_user`."""

    async def __call__(
        self, request: HTTPConnection, security_scopes: SecurityScopes
    ) -> CurrentUser | None:
        """The signed-in user; 401 without valid credentials, 403 when a scope is missing (a
        WebSocket: closed with 1008). None only on a route marked :func:`public` that was sent no
        credentials."""
        try:
            user = await _user(request, None, optional=False)
            # None: a public() route, and no credentials came
            if user is not None and security_scopes.scopes:
                _check_scopes(user, security_scopes)
        except HTTPException as exc:
            if request.scope["type"] != "websocket":
                raise
            raise await _refused(request, exc) from None
        return user


class OptionalCurrentUser(_UserScheme):
    """The type of :data:`optional_current_user`."""

    async def __call__(
        self, request: HTTPConnection, security_scopes: SecurityScopes
    ) -> CurrentUser | None:
        """The signed-in user, or None when no credentials were sent. Credentials that were
        sent must be valid (401 otherwise): a broken token is never silently anonymous."""
        try:
            user = await _user(request, None, optional=True)
            if user is not None and security_scopes.scopes:
                _check_scopes(user, security_scopes)
        except HTTPException as exc:
            if request.scope["type"] != "websocket":
                raise
            raise await _refused(request, exc) from None
        return user


require_current_user = RequireCurrentUser(bearer_scheme, "require_current_user")
"""``Depends(require_current_user)``: the signed-in user, proven by the app's default strategies
(``AUTH_STRATEGIES``, by default an access token or an API key); 401 without valid credentials.
``Security(require_current_user, scopes=[...])``: 403 when one of the scopes is missing."""

optional_current_user = OptionalCurrentUser(bearer_scheme, "optional_current_user")
"""``Depends(optional_current_user)``: the signed-in user, or None when no credentials were sent;
401 for credentials that were sent and are not valid."""


def require_groups(*groups: str) -> Callable[..., Awaitable[CurrentUser]]:
    """A dependency that lets through users in at least one of ``groups`` (403 otherwise)::

    @app.delete("/v1/projects/{id}", dependencies=[Depends(require_groups("root", "operator"))])
    """
    if not groups or not all(isinstance(g, str) and g for g in groups):
        raise ConfigurationError("require_groups needs at least one group name")
    wanted = tuple(groups)

    async def dependency(
        request: HTTPConnection,
        user: Annotated[CurrentUser, Security(require_current_user)],
    ) -> CurrentUser:
        if not user.in_any_group(*wanted):
            refusal = errors.to_http(
                AuthorizationError("forbidden", subject=user.sub, groups=wanted)
            )
            if request.scope["type"] == "websocket":
                raise await _refused(request, refusal)
            raise refusal
        return user

    dependency.__name__ = "require_groups_" + "_".join(g.replace(":", "_") for g in wanted)
    dependency.__qualname__ = dependency.__name__
    dependency.tokenward_groups = wanted  # type: ignore[attr-defined]
    return dependency


def require_fresh_mfa(max_age: int = 300) -> Callable[..., Awaitable[CurrentUser]]:
    """A dependency that lets through users whose last second factor is at most ``max_age``
    seconds old (the access token's ``mfa_time``; a Cognito or OIDC token's ``auth_time`` when
    its ``amr`` names a second factor)::

        @app.post("/v1/payouts", dependencies=[Depends(require_fresh_mfa(max_age=300))])

    Otherwise 403 with ``WWW-Authenticate: Bearer error="insufficient_user_authentication",
    error_description="...", max_age=300`` (RFC 9470): the client steps up (``POST
    /v1/auth/mfa/step-up``) and retries with the fresh token."""
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
        raise ConfigurationError("require_fresh_mfa needs max_age in whole seconds, 0 or more")

    async def dependency(
        request: HTTPConnection,
        user: Annotated[CurrentUser, Security(require_current_user)],
    ) -> CurrentUser:
        services = getattr(_app_auth(request.scope["app"]), "services", None)
        now = getattr(services, "clock", time.time)()
        when = user.mfa_time
        if when is None or now - when > max_age:
            refusal = errors.to_http(
                InsufficientAuthenticationError(
                    "This needs a second factor in the last "
                    f"{max_age} seconds: step up with POST /v1/auth/mfa/step-up and retry.",
                    max_age=max_age,
                    subject=user.sub,
                )
            )
            if request.scope["type"] == "websocket":
                raise await _refused(request, refusal)
            raise refusal
        return user

    dependency.__name__ = f"require_fresh_mfa_{max_age}"
    dependency.__qualname__ = dependency.__name__
    return dependency


_SCHEMES: dict[str, str | None] = {
    "jwt": "bearer",
    "api_key": "bearer",
    "basic": "basic",
    "gateway": None,
}
_NAMES = frozenset(_SCHEMES)


def authenticate(*strategies: str | Strategy, mode: Mode = "any") -> Callable[..., Any]:
    """A dependency that yields the :class:`CurrentUser` proven by ``strategies``::

        @app.get("/v1/legacy")
        def legacy(user: CurrentUser = Depends(authenticate("jwt", "basic"))): ...

    Names: ``"jwt"`` (the provider's access tokens), ``"api_key"``, ``"basic"``, ``"gateway"``;
    a :class:`~tokenward.strategies.Strategy` object is accepted too (e.g. a
    ``VerifierStrategy`` for a third-party issuer). ``mode="any"``: the first that succeeds wins;
    ``mode="all"``: every one must pass and the identity is the first one's. Scopes work as with
    ``require_current_user``: ``Security(authenticate("jwt", "basic"), scopes=[...])``.
    """
    if not strategies:
        raise ConfigurationError("authenticate() needs at least one strategy")
    if mode not in ("any", "all"):
        raise ConfigurationError("mode must be 'any' or 'all'")
    for item in strategies:
        if isinstance(item, str):
            if item not in _NAMES:
                raise ConfigurationError(
                    f"unknown strategy {item!r}: use one of {sorted(_NAMES)} or a Strategy"
                )
        elif not isinstance(item, Strategy):
            raise ConfigurationError(f"{item!r} is neither a strategy name nor a Strategy")
    spec: StrategySpec = (tuple(strategies), mode)
    schemes = {_SCHEMES[s] if isinstance(s, str) else s.scheme for s in strategies}
    wants_basic = "basic" in schemes
    wants_bearer = "bearer" in schemes

    async def check(request: HTTPConnection, security_scopes: SecurityScopes) -> CurrentUser | None:
        try:
            user = await _user(request, spec, optional=False)
            # None: a public() route, and no credentials came
            if user is not None and security_scopes.scopes:
                _check_scopes(user, security_scopes)
        except HTTPException as exc:
            if request.scope["type"] != "websocket":
                raise
            raise await _refused(request, exc) from None
        return user

    # The schemes appear in OpenAPI as the route's security requirements (any of them); they
    # only read a header, so they cost the request little.
    dependency: Callable[..., Awaitable[CurrentUser | None]] = check
    if wants_bearer or wants_basic:
        dependency = _with_schemes(check, wants_bearer, wants_basic)
    names = "_".join(s if isinstance(s, str) else s.name for s in strategies)
    dependency.__name__ = f"authenticate_{mode}_{names}"
    dependency.__qualname__ = dependency.__name__
    dependency.tokenward_spec = spec  # type: ignore[attr-defined]
    return dependency


def _with_schemes(
    inner: Callable[[HTTPConnection, SecurityScopes], Awaitable[CurrentUser | None]],
    bearer: bool,
    basic: bool,
) -> Callable[..., Awaitable[CurrentUser | None]]:
    """``inner`` with the security schemes as (ignored) parameters, for OpenAPI."""
    if bearer and basic:

        async def both(
            request: HTTPConnection,
            security_scopes: SecurityScopes,
            _bearer: Annotated[Any, Security(bearer_scheme)] = None,
            _basic: Annotated[Any, Security(basic_scheme)] = None,
        ) -> CurrentUser | None:
            return await inner(request, security_scopes)

        return both
    if basic:

        async def basic_only(
            request: HTTPConnection,
            security_scopes: SecurityScopes,
            _basic: Annotated[Any, Security(basic_scheme)] = None,
        ) -> CurrentUser | None:
            return await inner(request, security_scopes)

        return basic_only

    async def bearer_only(
        request: HTTPConnection,
        security_scopes: SecurityScopes,
        _bearer: Annotated[Any, Security(bearer_scheme)] = None,
    ) -> CurrentUser | None:
        return await inner(request, security_scopes)

    return bearer_only


_PUBLIC_MARK = "tokenward_public"


def public() -> Callable[[], None]:
    """A marker dependency for a route that is public on purpose::

        router = APIRouter(dependencies=[Depends(require_current_user)])

        @router.get("/status", dependencies=[Depends(public())])
        def status(): ...

    On a route that carries it, ``require_current_user`` and ``authenticate(...)`` let a request
    without credentials through (as ``optional_current_user`` does: the user is None); credentials
    that are sent are still checked. :meth:`~tokenward.fastapi.Auth.route_report` lists such
    routes as public on purpose."""

    def tokenward_public() -> None:
        return None

    setattr(tokenward_public, _PUBLIC_MARK, True)
    return tokenward_public


def is_public(call: Any) -> bool:
    """Whether ``call`` is a :func:`public` marker."""
    return bool(getattr(call, _PUBLIC_MARK, False))
