"""HTTP errors of the FastAPI layer, shaped by RFC 6750 §3.

A missing token is a 401 with a bare ``WWW-Authenticate: Bearer``; a token that was sent but is no
good adds ``error="invalid_token"``; a valid token without the group or scope a route needs is a
403 with ``error="insufficient_scope"``. Every body is FastAPI's ``{"detail": "..."}`` and says what
to do next.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import HTTPException, status

__all__ = [
    "LOGIN_PATH",
    "REFRESH_PATH",
    "bad_credentials",
    "bad_request",
    "forbidden",
    "invalid_refresh_token",
    "invalid_token",
    "not_signed_in",
    "unavailable",
]

LOGIN_PATH = "/v1/auth/login"
REFRESH_PATH = "/v1/auth/refresh"


def _quoted(text: str) -> str:
    """A quoted-string for an auth-param: printable ASCII without quote and backslash."""
    return "".join(c for c in text if " " <= c <= "~" and c not in '"\\')


def _bearer(error: str | None = None, description: str | None = None, scope: str = "") -> str:
    params = []
    if error:
        params.append(f'error="{_quoted(error)}"')
    if description:
        params.append(f'error_description="{_quoted(description)}"')
    if scope:
        params.append(f'scope="{_quoted(scope)}"')
    return "Bearer " + ", ".join(params) if params else "Bearer"


def not_signed_in() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail=(
            "Not signed in: send the header 'Authorization: Bearer <access token>'. "
            f"POST {LOGIN_PATH} returns an access token."
        ),
        headers={"WWW-Authenticate": _bearer()},
    )


def invalid_token(*, expired: bool = False) -> HTTPException:
    if expired:
        description = "The access token expired"
        detail = (
            f"The access token has expired: get a new one from POST {REFRESH_PATH}, "
            f"or sign in again with POST {LOGIN_PATH}."
        )
    else:
        description = "The access token is not valid"
        detail = (
            "The access token is not valid: send the access_token (not the refresh_token) "
            f"from POST {LOGIN_PATH} or POST {REFRESH_PATH}, unchanged."
        )
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": _bearer("invalid_token", description)},
    )


def invalid_refresh_token() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail=(
            "The refresh token is not valid (unknown, expired, revoked or already used): "
            f"sign in again with POST {LOGIN_PATH}."
        ),
        headers={"WWW-Authenticate": _bearer("invalid_token", "The refresh token is not valid")},
    )


def bad_credentials() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="Incorrect email or password.",
        headers={"WWW-Authenticate": _bearer()},
    )


def forbidden(*, groups: Iterable[str] = (), scopes: Iterable[str] = ()) -> HTTPException:
    group_list = sorted(set(groups))
    scope_list = list(dict.fromkeys(scopes))
    if group_list:
        detail = "This needs membership in one of the groups: " + ", ".join(group_list) + "."
        description = "Not in a required group"
    else:
        detail = "This needs the scopes: " + " ".join(scope_list) + "."
        description = "A required scope is missing"
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail=detail,
        headers={
            "WWW-Authenticate": _bearer("insufficient_scope", description, " ".join(scope_list))
        },
    )


def unavailable(what: str) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"{what} is unavailable right now; try again shortly.",
        headers={"Retry-After": "5"},
    )


def bad_request(detail: str, code: int = status.HTTP_400_BAD_REQUEST) -> HTTPException:
    return HTTPException(code, detail=detail)
