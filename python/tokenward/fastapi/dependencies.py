"""FastAPI dependencies: ``require_current_user``, ``optional_current_user``, ``require_groups``.

They are plain module-level functions, imported into route modules as they are; the
:class:`~tokenward.fastapi.Auth` that checks tokens is found on the app (``auth.lifespan`` puts it
on ``app.state``; failing that, it is found through ``auth.router`` among the app's routes).
Scopes come through FastAPI's ``Security``::

    @app.get("/v1/reports")
    def reports(user: CurrentUser = Security(require_current_user, scopes=["reports:read"])): ...
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import OAuth2PasswordBearer, SecurityScopes
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


class BearerScheme(OAuth2PasswordBearer):
    """OAuth2 password flow in OpenAPI (Swagger UI's Authorize button) over a bearer header.

    Returns the token, ``""`` for a Bearer header without one, and None when no bearer
    credentials were sent at all (no header, or another scheme such as Basic).
    """

    async def __call__(self, request: HTTPConnection) -> str | None:
        authorization = request.headers.get("authorization")
        if authorization is None:
            return None
        scheme, _, param = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        return param.strip()


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
    cached = getattr(request.state, "tokenward_user", None)
    if isinstance(cached, CurrentUser) and getattr(request.state, "tokenward_token", None) == token:
        return cached
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
    request.state.tokenward_user = user
    request.state.tokenward_token = token
    return user


def _check_scopes(user: CurrentUser, security_scopes: SecurityScopes) -> None:
    missing = [s for s in security_scopes.scopes if s not in user.scopes]
    if missing:
        raise errors.forbidden(scopes=security_scopes.scopes)


async def require_current_user(
    request: Request,
    security_scopes: SecurityScopes,
    token: Annotated[str | None, Depends(bearer_scheme)],
) -> CurrentUser:
    """The signed-in user; 401 without a valid access token, 403 when a scope is missing."""
    user = await _user(request, token)
    if user is None:
        raise errors.not_signed_in()
    _check_scopes(user, security_scopes)
    return user


async def optional_current_user(
    request: Request,
    security_scopes: SecurityScopes,
    token: Annotated[str | None, Depends(bearer_scheme)],
) -> CurrentUser | None:
    """The signed-in user, or None when no token was sent. A token that was sent must be valid
    (401 otherwise): a broken token is never silently treated as anonymous."""
    user = await _user(request, token)
    if user is not None:
        _check_scopes(user, security_scopes)
    return user


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
