"""FastAPI dependencies: ``require_current_user``, ``optional_current_user``, ``require_groups``.

They are module-level objects, imported into route modules as they are; the
:class:`~tokenward.fastapi.Auth` that checks tokens is found on the app (``auth.lifespan`` puts it
on ``app.state``; failing that, it is found through ``auth.router`` among the app's routes).
Scopes come through FastAPI's ``Security``::

    @app.get("/v1/reports")
    def reports(user: CurrentUser = Security(require_current_user, scopes=["reports:read"])): ...

``require_current_user`` and ``optional_current_user`` are security schemes themselves, as
FastAPI's own ``OAuth2PasswordBearer`` is: one dependency that reads the bearer header and
checks the token, rather than a function depending on :data:`bearer_scheme`. FastAPI resolves
each level of a dependency tree at a cost of its own (about as much as verifying a custom
token, see docs/performance.md), and OpenAPI shows the same ``tokenward`` scheme either way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Request, Security
from fastapi.security import OAuth2PasswordBearer, SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection

from tokenward.exceptions import (
    ConfigurationError,
    ExpiredTokenError,
    InvalidTokenError,
    TokenwardError,
)
from tokenward.fastapi import errors
from tokenward.fastapi.models import CurrentUser

if TYPE_CHECKING:
    from tokenward.fastapi.auth import Auth

__all__ = [
    "bearer_scheme",
    "find_auth",
    "optional_current_user",
    "require_current_user",
    "require_groups",
]

_log = logging.getLogger("tokenward")

MAX_TOKEN_CHARS = 16 * 1024
_STATE_ATTR = "tokenward_auth"
_ROUTE_MARK = "__tokenward_auth__"
# Where a request keeps the user its token was verified for, so that several dependencies of one
# request (require_groups beside require_current_user, say) verify it once: a key of the ASGI
# scope, which lives exactly as long as the request.
_SCOPE_USER = "tokenward.user"


def _bearer_token(request: HTTPConnection) -> str | None:
    """What :class:`BearerScheme` returns; shared with the dependencies that read it inline."""
    authorization = request.headers.get("authorization")
    if authorization is None:
        return None
    scheme, _, param = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return param.strip()


class BearerScheme(OAuth2PasswordBearer):
    """OAuth2 password flow in OpenAPI (Swagger UI's Authorize button) over a bearer header.

    Returns the token, ``""`` for a Bearer header without one, and None when no bearer
    credentials were sent at all (no header, or another scheme such as Basic).
    """

    async def __call__(self, request: HTTPConnection) -> str | None:
        return _bearer_token(request)


bearer_scheme = BearerScheme(
    tokenUrl=errors.LOGIN_PATH,
    refreshUrl=errors.REFRESH_PATH,
    scheme_name="tokenward",
    description=(
        "Bearer access token. With the custom provider, Authorize signs in through "
        f"POST {errors.LOGIN_PATH}: username is the email (TOKENWARD_DEBUG_EMAIL), password is "
        "TOKENWARD_DEBUG_PASSWORD."
    ),
    auto_error=False,
)


def _marked_auth(routes: Iterable[Any], depth: int = 0) -> Auth | None:
    if depth > 8:
        return None
    for route in routes:
        found = getattr(getattr(route, "endpoint", None), _ROUTE_MARK, None)
        if found is not None:
            return found  # type: ignore[no-any-return]
        for attr in ("original_router", "app"):
            inner = getattr(route, attr, None)
            inner_routes = getattr(inner, "routes", None)
            if isinstance(inner_routes, list):
                found = _marked_auth(inner_routes, depth + 1)
                if found is not None:
                    return found
    return None


def find_auth(app: Any) -> Auth:
    """The Auth serving ``app``; ConfigurationError when there is none."""
    state = getattr(app, "state", None)
    found = getattr(state, _STATE_ATTR, None)
    if found is not None:
        return found  # type: ignore[no-any-return]
    router = getattr(app, "router", None)
    found = _marked_auth(getattr(router, "routes", None) or ())
    if found is None:
        raise ConfigurationError(
            "no tokenward Auth on this app: create it with FastAPI(lifespan=auth.lifespan) "
            "and app.include_router(auth.router)"
        )
    if state is not None:
        setattr(state, _STATE_ATTR, found)
    return found


async def _user(request: Request, token: str | None) -> CurrentUser | None:
    """The user behind the request's bearer token; None without one; 401 for a bad one."""
    if token is None:
        return None
    scope = request.scope
    seen = scope.get(_SCOPE_USER)
    if seen is not None and seen[0] == token:
        return seen[1]  # type: ignore[no-any-return]
    try:
        auth = find_auth(request.app)
    except ConfigurationError as exc:
        _log.error("tokenward: %s", exc)
        raise errors.unavailable("Authentication") from None
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise errors.invalid_token()
    try:
        user = await auth.provider.authenticate(token)
    except ExpiredTokenError:
        raise errors.invalid_token(expired=True) from None
    except InvalidTokenError:
        raise errors.invalid_token() from None
    except (TokenwardError, UnicodeError, ValueError, TypeError) as exc:
        _log.error("tokenward: cannot check an access token: %s", exc)
        raise errors.unavailable("Authentication") from None
    scope[_SCOPE_USER] = (token, user)
    return user


def _check_scopes(user: CurrentUser, security_scopes: SecurityScopes) -> None:
    if security_scopes.scopes:
        missing = [s for s in security_scopes.scopes if s not in user.scopes]
        if missing:
            raise errors.forbidden(scopes=security_scopes.scopes)


class _UserScheme(SecurityBase):
    """A dependency that is also the ``tokenward`` security scheme of :data:`bearer_scheme`
    (same OpenAPI model and name), so a route that uses it shows the Authorize button."""

    def __init__(self, scheme: BearerScheme, name: str) -> None:
        self.model = scheme.model
        self.scheme_name = scheme.scheme_name
        self._name = name

    def __repr__(self) -> str:
        return f"<tokenward.fastapi.{self._name}>"


class RequireCurrentUser(_UserScheme):
    """The type of :data:`require_current_user`."""

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> CurrentUser:
        """The signed-in user; 401 without a valid access token, 403 when a scope is missing."""
        user = await _user(request, _bearer_token(request))
        if user is None:
            raise errors.not_signed_in()
        _check_scopes(user, security_scopes)
        return user


class OptionalCurrentUser(_UserScheme):
    """The type of :data:`optional_current_user`."""

    async def __call__(
        self, request: Request, security_scopes: SecurityScopes
    ) -> CurrentUser | None:
        """The signed-in user, or None when no token was sent. A token that was sent must be
        valid (401 otherwise): a broken token is never silently treated as anonymous."""
        user = await _user(request, _bearer_token(request))
        if user is not None:
            _check_scopes(user, security_scopes)
        return user


require_current_user = RequireCurrentUser(bearer_scheme, "require_current_user")
"""``Depends(require_current_user)``: the signed-in user; 401 without a valid access token.
``Security(require_current_user, scopes=[...])``: 403 when one of the scopes is missing."""

optional_current_user = OptionalCurrentUser(bearer_scheme, "optional_current_user")
"""``Depends(optional_current_user)``: the signed-in user, or None when no token was sent; 401 for
a token that was sent and is not valid."""


def require_groups(*groups: str) -> Callable[..., Awaitable[CurrentUser]]:
    """A dependency that lets through users in at least one of ``groups`` (403 otherwise)::

    @app.delete("/v1/projects/{id}", dependencies=[Depends(require_groups("root", "operator"))])
    """
    if not groups or not all(isinstance(g, str) and g for g in groups):
        raise ConfigurationError("require_groups needs at least one group name")
    wanted = tuple(groups)

    async def dependency(
        user: Annotated[CurrentUser, Security(require_current_user)],
    ) -> CurrentUser:
        if not user.in_any_group(*wanted):
            raise errors.forbidden(groups=wanted)
        return user

    dependency.__name__ = "require_groups_" + "_".join(g.replace(":", "_") for g in wanted)
    dependency.__qualname__ = dependency.__name__
    return dependency
