"""The auth endpoints under ``/v1/auth``: login, refresh, logout and me.

:func:`build_auth_router` is handed its collaborators (the custom provider's login and token
service, the dependency ``/me`` uses); it finds nothing by itself and imports no ``Auth``.
Under Cognito there is no login: the router then holds ``/me`` only.

``POST /login`` takes JSON ``{"email", "password"}`` or the OAuth2 password form
(``application/x-www-form-urlencoded`` with ``username``/``password``), which is what Swagger UI's
Authorize button sends. Bodies are read with a size cap and parsed by hand, so no input a client
can send ends in a 500.

Every tokenward route reads JSON strictly (:class:`StrictRoute`): a number JSON cannot carry
(``NaN``, ``Infinity``, ``1e999``) or a string no store can hold (a lone surrogate ``"\\ud800"``,
a NUL ``"\\u0000"``), as a value or as a name, is a 422 that never echoes the input, as is every
validation error; a path parameter no store can hold is a 404 (nothing has that id).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from tokenward.accounts import MfaRequired
from tokenward.apikeys import refuse_api_key
from tokenward.exceptions import EmailNotVerifiedError, InvalidCredentialsError
from tokenward.fastapi import errors
from tokenward.fastapi._answers import http_errors, signed_in
from tokenward.fastapi._forms import (
    body_doc,
    decode_json,
    error_doc,
    grant_type,
    read_fields,
    validate,
)
from tokenward.fastapi.dependencies import public
from tokenward.fastapi.models import CurrentUser, LoginRequest, RefreshRequest, TokenResponse
from tokenward.fastapi.transports import CookieSession
from tokenward.ratelimit import LoginLimiter
from tokenward.stores.base import unstorable
from tokenward.tokens import ClientInfo, TokenPair, TokenService, device_name

__all__ = [
    "NO_STORE",
    "PREFIX",
    "EndedSessions",
    "Login",
    "NoStoreRoute",
    "SessionView",
    "StrictRoute",
    "build_auth_router",
]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Signing in is public by nature: marked, so that route reports and `tokenward routes
# --fail-on-public` tell these routes from ones left open by accident.
_PUBLIC = [Depends(public())]

PREFIX = "/v1/auth"
_UNPROCESSABLE = 422


class Login(Protocol):
    """Checks a user name (email) and password and starts a session (the custom provider)."""

    async def login(
        self,
        email: str,
        password: str,
        scope: str | None = None,
        *,
        client: ClientInfo | None = None,
    ) -> TokenPair | MfaRequired | None: ...


_PASSWORD_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["password"]},
        "username": {"type": "string", "description": "the email address"},
        "password": {"type": "string", "format": "password"},
        "scope": {"type": "string", "description": "space-separated scopes (optional)"},
    },
}
_REFRESH_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["refresh_token"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["refresh_token"]},
        "refresh_token": {"type": "string"},
    },
}


class _StrictJSONRequest(Request):
    """A request whose JSON body FastAPI reads with :func:`decode_json`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = decode_json(await self.body())
            except json.JSONDecodeError:
                raise
            except ValueError as exc:  # FastAPI makes it a 422 json_invalid
                raise json.JSONDecodeError(str(exc), "", 0) from None
        return self._json


class StrictRoute(APIRoute):
    """A route that reads JSON bodies with :func:`decode_json` and answers every validation
    error with a 422 that carries ``Cache-Control: no-store`` and echoes no input (see
    :func:`errors.validation_detail`): never a 500, whatever the body holds. A path parameter
    holding a NUL or a lone surrogate is a 404 before any store is asked: no id holds one."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            for name, value in request.path_params.items():
                if isinstance(value, str) and unstorable(value):  # no id holds one: none found
                    http = errors.not_found(name.removesuffix("_id").replace("_", " "))
                    return JSONResponse(
                        {"detail": http.detail}, status_code=http.status_code, headers=NO_STORE
                    )
            try:
                return await handler(_StrictJSONRequest(request.scope, request.receive))
            except RequestValidationError as exc:
                return JSONResponse(
                    {"detail": errors.validation_detail(exc.errors())},
                    status_code=_UNPROCESSABLE,
                    headers=NO_STORE,
                )

        return strict


class NoStoreRoute(StrictRoute):
    """A :class:`StrictRoute` whose every answer, errors included, carries ``Cache-Control:
    no-store`` and ``Pragma: no-cache`` (RFC 6749 §5.1): tokens, keys and sessions must not be
    cached."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def no_store(request: Request) -> Response:
            try:
                response = await handler(request)
            except HTTPException as exc:
                exc.headers = {**(exc.headers or {}), **NO_STORE}
                raise
            response.headers.update(NO_STORE)
            return response

        return no_store


class SessionView(BaseModel):
    """One of the caller's sessions (a login and the refresh tokens it was rotated into)."""

    id: str
    device: str = Field(description='a readable name from the user agent, e.g. "Firefox on Linux"')
    user_agent: str | None = None
    client_address: str | None = None
    started_at: _dt.datetime
    last_used_at: _dt.datetime
    expires_at: _dt.datetime | None = None
    current: bool = Field(description="whether the request's access token belongs to it")


def _when(value: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(value, _dt.UTC)


def build_auth_router(
    *,
    current_user: Callable[..., Any],
    signin: Login | None = None,
    sessions: TokenService | None = None,
    guard: LoginLimiter | None = None,
    client: Callable[[Request], ClientInfo] | None = None,
    prefix: str = PREFIX,
    cookies: CookieSession | None = None,
) -> APIRouter:
    """The auth router: ``/me`` (checked by ``current_user``), and — when ``signin`` and
    ``sessions`` are given (the custom provider) — ``/login``, ``/refresh``, ``/logout`` and
    ``/sessions``. ``guard`` rate-limits logins and refreshes; ``client`` says where a request
    comes from (address, user agent). Sessions end through ``sessions``' life cycle, which tells
    the session check (``REVOKE_ACCESS_TOKENS``) at once. ``cookies`` (``COOKIE_SESSIONS``):
    login and refresh also set the tokens as cookies, refresh and logout read the refresh cookie
    when the body has no token, and logout clears them."""
    router = APIRouter(prefix=prefix, tags=["auth"], route_class=NoStoreRoute)
    login_path = prefix + "/login"

    @router.get(
        "/me",
        response_model=CurrentUser,
        summary="The signed-in user",
        responses=error_doc(401, 503),
    )
    # A default rather than Annotated: the annotations are strings, evaluated in the module's
    # globals, where the ``current_user`` this router was handed does not exist.
    async def me(user: CurrentUser = Depends(current_user)) -> CurrentUser:  # noqa: B008
        return user

    if signin is None or sessions is None:
        return router
    rotation = sessions

    def _with_cookie(data: dict[str, Any], request: Request) -> dict[str, Any]:
        """``data`` with the refresh cookie's token when the body sent none (CSRF-checked)."""
        if cookies is None or data.get("refresh_token") is not None:
            return data
        token = cookies.refresh_token(request.scope)
        return data if token is None else {**data, "refresh_token": token}

    def where(request: Request) -> ClientInfo:
        if client is not None:
            return client(request)
        peer = request.client
        return ClientInfo(peer.host if peer else None, request.headers.get("user-agent"))

    @router.post(
        "/login",
        dependencies=_PUBLIC,
        response_model=TokenResponse,
        summary="Sign in with a password (accounts; the debug user in development)",
        openapi_extra=body_doc(LoginRequest, _PASSWORD_FORM_SCHEMA),
        responses=error_doc(400, 401, 413, 415, 422, 429, 503),
    )
    async def login(request: Request, response: Response) -> Any:
        if cookies is not None:  # a login that sets cookies: another site's form may not
            with http_errors(login_path):
                cookies.check_login(request.scope)
        data, is_form = await read_fields(request)
        if is_form:
            grant_type(data, "password")
            data = {
                "email": data.get("username", data.get("email")),
                "password": data.get("password"),
                "scope": data.get("scope"),
            }
        credentials = validate(LoginRequest, data)
        origin = where(request)
        with http_errors(login_path):
            attempt = None
            if guard is not None:  # reserves the attempt: a failure unless it succeeds
                attempt = await guard.check(credentials.email, origin.address)
            try:
                pair = await signin.login(
                    credentials.email, credentials.password, credentials.scope, client=origin
                )
            except EmailNotVerifiedError as exc:  # the password was right: not a guess
                if attempt is not None:
                    await attempt.succeeded()
                return errors.error_response(exc, login_path=login_path)
            if attempt is not None and pair is not None:
                await attempt.succeeded()
            if pair is None:
                raise InvalidCredentialsError("Incorrect email or password.")
        if isinstance(pair, MfaRequired):  # a second factor is on: no tokens yet
            return JSONResponse({"mfa_required": True, "mfa_token": pair.mfa_token})
        return signed_in(response, pair, request, cookies)

    @router.post(
        "/refresh",
        dependencies=_PUBLIC,
        response_model=TokenResponse,
        summary="Exchange a refresh token for a new pair (the old one is spent)",
        openapi_extra=body_doc(RefreshRequest, _REFRESH_FORM_SCHEMA),
        responses=error_doc(400, 401, 413, 415, 422, 429, 503),
    )
    async def refresh(request: Request, response: Response) -> TokenResponse:
        data, is_form = await read_fields(request, empty=cookies is not None)
        if is_form:
            grant_type(data, "refresh_token")
        with http_errors(login_path):
            token = validate(RefreshRequest, _with_cookie(data, request)).refresh_token
            if guard is not None:
                await guard.check_refresh(where(request).address)
            pair = await rotation.refresh(token)
        return signed_in(response, pair, request, cookies)

    @router.post(
        "/logout",
        dependencies=_PUBLIC,
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary="Revoke the refresh token's whole family (every token it was rotated into)",
        openapi_extra=body_doc(RefreshRequest, _REFRESH_FORM_SCHEMA),
        responses=error_doc(400, 413, 415, 422, 503),
    )
    async def logout(request: Request) -> Response:
        data, _ = await read_fields(request, empty=cookies is not None)
        answer = Response(status_code=status.HTTP_204_NO_CONTENT)
        with http_errors(login_path):
            body = validate(RefreshRequest, _with_cookie(data, request))
            await rotation.end_session_of(body.refresh_token)
        if cookies is not None:
            cookies.write_logout(answer, request)
        return answer

    @router.get(
        "/sessions",
        response_model=list[SessionView],
        summary="The caller's live sessions; current: true marks the one of this request",
        responses=error_doc(401, 403, 503),
    )
    async def list_sessions(
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> list[SessionView]:
        with http_errors(login_path):
            refuse_api_key(user.principal, "sessions")
            found = await rotation.sessions(user.sub)
        current = user.principal.session_id
        return [
            SessionView(
                id=info.id,
                device=device_name(info.user_agent),
                user_agent=info.user_agent,
                client_address=info.client_address,
                started_at=_when(info.started_at),
                last_used_at=_when(info.last_used_at),
                expires_at=None if info.expires_at is None else _when(info.expires_at),
                current=info.id == current,
            )
            for info in found
        ]

    @router.delete(
        "/sessions/{session_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary="End one of the caller's sessions (its refresh token stops working at once)",
        responses={
            **error_doc(401, 403, 503),
            404: {"description": "The caller has no such session"},
        },
    )
    async def end_session(
        session_id: str,
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> Response:
        with http_errors(login_path):
            refuse_api_key(user.principal, "sessions")
            ended = await rotation.end_session(user.sub, session_id[:128])
        if not ended:
            raise errors.not_found("session")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.delete(
        "/sessions",
        response_model=EndedSessions,
        summary="End every session of the caller but the current one",
        responses=error_doc(401, 403, 503),
    )
    async def end_other_sessions(
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> EndedSessions:
        keep = user.principal.session_id
        with http_errors(login_path):
            refuse_api_key(user.principal, "sessions")
            ended = await rotation.end_other_sessions(user.sub, keep)
        return EndedSessions(ended=ended)

    return router


class EndedSessions(BaseModel):
    ended: int = Field(description="how many sessions were ended")
