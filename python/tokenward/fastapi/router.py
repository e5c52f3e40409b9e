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
import math
import urllib.parse
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, ValidationError
from starlette.requests import ClientDisconnect

from tokenward.accounts import MfaRequired
from tokenward.apikeys import refuse_api_key
from tokenward.exceptions import EmailNotVerifiedError, InvalidCredentialsError, TokenwardError
from tokenward.fastapi import errors
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
MAX_BODY_BYTES = 16 * 1024


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


M = TypeVar("M", bound=BaseModel)

_TOO_LARGE = 413  # named differently across Starlette versions
_UNPROCESSABLE = 422

_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"

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


def _body_doc(model: type[BaseModel], form_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                _JSON: {"schema": model.model_json_schema()},
                _FORM: {"schema": form_schema},
            },
        }
    }


def _error_doc(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "The body could not be read",
        401: "Not authenticated, or the credentials or token are not valid",
        403: "Signed in with an API key: sessions are managed with an access token",
        413: "The body is too large",
        415: "The body is neither JSON nor a urlencoded form",
        422: "The body lacks a field or has one of the wrong type",
        429: "Too many attempts: wait for Retry-After seconds",
        503: "The session store is unavailable",
    }
    return {code: {"description": text[code]} for code in codes}


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise errors.bad_request(
            f"The body must be at most {MAX_BODY_BYTES} bytes.",
            _TOO_LARGE,
        )
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise errors.bad_request(
                    f"The body must be at most {MAX_BODY_BYTES} bytes.",
                    _TOO_LARGE,
                )
            chunks.append(chunk)
    except ClientDisconnect:
        # The client went away mid-body: nobody is left to answer, and it is not our error.
        raise errors.bad_request("The client disconnected before sending the whole body.") from None
    return b"".join(chunks)


_NUMBER = "a number that is not finite, or beyond the range of a double"
_UNSTORABLE = (
    "a string with a NUL character or a lone surrogate (a UTF-16 escape without its pair), "
    "which no store can hold"
)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(_NUMBER)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(_NUMBER)


def _has_unstorable(data: Any) -> bool:
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if unstorable(item):
                return True
        elif isinstance(item, dict):
            pending += item
            pending += item.values()
        elif isinstance(item, list):
            pending += item
    return False


def decode_json(body: bytes | str) -> Any:
    """``body`` as JSON, strictly. json.JSONDecodeError when it is not JSON; ValueError (with
    a message that quotes nothing of the body) when it holds a number no double can hold
    (``NaN``, ``Infinity``, ``1e999``, an integer of thousands of digits), or a NUL or a lone
    surrogate in a string or a name: values no application or store can use (see
    :func:`tokenward.stores.base.unstorable`), and that no answer could echo."""
    try:
        data = json.loads(body, parse_float=_finite, parse_constant=_no_constant)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", "", 0) from None
    except UnicodeDecodeError:
        raise json.JSONDecodeError("not UTF-8", "", 0) from None
    except ValueError:  # the hooks', and int()'s for thousands of digits
        raise ValueError(_NUMBER) from None
    if _has_unstorable(data):
        raise ValueError(_UNSTORABLE)
    return data


def _unprocessable_json(reason: str) -> HTTPException:
    problem = {"loc": [0], "msg": "JSON decode error", "type": "json_invalid"}
    return HTTPException(
        _UNPROCESSABLE,
        detail=errors.validation_detail([{**problem, "ctx": {"error": reason}}], ("body",)),
    )


async def _read_fields(request: Request, empty: bool = False) -> tuple[dict[str, Any], bool]:
    """The body as a dict of fields, and whether it came as a form (``empty``: an empty JSON
    body is ``{}``, for a refresh or logout whose token is in a cookie)."""
    media_type = request.headers.get("content-type", _JSON).split(";", 1)[0].strip().lower()
    body = await _read_body(request)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.bad_request("The body must be UTF-8.") from None
    if media_type == _FORM:
        try:
            parsed = urllib.parse.parse_qs(
                text, keep_blank_values=True, strict_parsing=False, max_num_fields=16
            )
        except ValueError:
            raise errors.bad_request("The form has too many fields.") from None
        fields = {key: values[0] for key, values in parsed.items() if values}
        if _has_unstorable(fields):
            problem = {"loc": [], "msg": f"The form holds {_UNSTORABLE}", "type": "value_error"}
            raise HTTPException(
                _UNPROCESSABLE, detail=errors.validation_detail([problem], ("body",))
            )
        return fields, True
    if media_type in (_JSON, "") or media_type.endswith("+json"):
        try:
            data = decode_json(text) if text.strip() else ({} if empty else None)
        except json.JSONDecodeError:
            raise errors.bad_request("The body is not valid JSON.") from None
        except ValueError as exc:
            raise _unprocessable_json(str(exc)) from None
        if not isinstance(data, dict):
            raise errors.bad_request("The body must be a JSON object.")
        return data, False
    raise errors.bad_request(
        f"Send the body as {_JSON} (or {_FORM}).", status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    )


def _validate(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # The inputs are left out: they may hold a password.
        problems = exc.errors(include_url=False, include_input=False, include_context=False)
        detail = errors.validation_detail(problems, ("body",))
        raise HTTPException(_UNPROCESSABLE, detail=detail) from None


def _grant_type(data: dict[str, Any], expected: str) -> None:
    grant = data.get("grant_type")
    if grant is not None and grant != expected:
        raise errors.bad_request(f"grant_type must be {expected!r} here.")


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

    def fail(exc: TokenwardError) -> HTTPException:
        return errors.to_http(exc, login_path=login_path)

    @router.get(
        "/me",
        response_model=CurrentUser,
        summary="The signed-in user",
        responses=_error_doc(401, 503),
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
        openapi_extra=_body_doc(LoginRequest, _PASSWORD_FORM_SCHEMA),
        responses=_error_doc(400, 401, 413, 415, 422, 429, 503),
    )
    async def login(request: Request, response: Response) -> Any:
        if cookies is not None:  # a login that sets cookies: another site's form may not
            try:
                cookies.check_login(request.scope)
            except TokenwardError as exc:
                raise fail(exc) from None
        data, is_form = await _read_fields(request)
        if is_form:
            _grant_type(data, "password")
            data = {
                "email": data.get("username", data.get("email")),
                "password": data.get("password"),
                "scope": data.get("scope"),
            }
        credentials = _validate(LoginRequest, data)
        origin = where(request)
        try:
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
        except TokenwardError as exc:
            raise fail(exc) from None
        if isinstance(pair, MfaRequired):  # a second factor is on: no tokens yet
            return JSONResponse({"mfa_required": True, "mfa_token": pair.mfa_token})
        if cookies is not None:
            cookies.write_login(response, pair, request)
        return TokenResponse(**pair.to_json())

    @router.post(
        "/refresh",
        dependencies=_PUBLIC,
        response_model=TokenResponse,
        summary="Exchange a refresh token for a new pair (the old one is spent)",
        openapi_extra=_body_doc(RefreshRequest, _REFRESH_FORM_SCHEMA),
        responses=_error_doc(400, 401, 413, 415, 422, 429, 503),
    )
    async def refresh(request: Request, response: Response) -> TokenResponse:
        data, is_form = await _read_fields(request, empty=cookies is not None)
        if is_form:
            _grant_type(data, "refresh_token")
        try:
            token = _validate(RefreshRequest, _with_cookie(data, request)).refresh_token
            if guard is not None:
                await guard.check_refresh(where(request).address)
            pair = await rotation.refresh(token)
        except TokenwardError as exc:
            raise fail(exc) from None
        if cookies is not None:
            cookies.write_login(response, pair, request)
        return TokenResponse(**pair.to_json())

    @router.post(
        "/logout",
        dependencies=_PUBLIC,
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary="Revoke the refresh token's whole family (every token it was rotated into)",
        openapi_extra=_body_doc(RefreshRequest, _REFRESH_FORM_SCHEMA),
        responses=_error_doc(400, 413, 415, 422, 503),
    )
    async def logout(request: Request) -> Response:
        data, _ = await _read_fields(request, empty=cookies is not None)
        answer = Response(status_code=status.HTTP_204_NO_CONTENT)
        try:
            body = _validate(RefreshRequest, _with_cookie(data, request))
            await rotation.end_session_of(body.refresh_token)
        except TokenwardError as exc:
            raise fail(exc) from None
        if cookies is not None:
            cookies.write_logout(answer, request)
        return answer

    @router.get(
        "/sessions",
        response_model=list[SessionView],
        summary="The caller's live sessions; current: true marks the one of this request",
        responses=_error_doc(401, 403, 503),
    )
    async def list_sessions(
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> list[SessionView]:
        try:
            refuse_api_key(user.principal, "sessions")
            found = await rotation.sessions(user.sub)
        except TokenwardError as exc:
            raise fail(exc) from None
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
            **_error_doc(401, 403, 503),
            404: {"description": "The caller has no such session"},
        },
    )
    async def end_session(
        session_id: str,
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> Response:
        try:
            refuse_api_key(user.principal, "sessions")
            ended = await rotation.end_session(user.sub, session_id[:128])
        except TokenwardError as exc:
            raise fail(exc) from None
        if not ended:
            raise errors.not_found("session")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.delete(
        "/sessions",
        response_model=EndedSessions,
        summary="End every session of the caller but the current one",
        responses=_error_doc(401, 403, 503),
    )
    async def end_other_sessions(
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> EndedSessions:
        keep = user.principal.session_id
        try:
            refuse_api_key(user.principal, "sessions")
            ended = await rotation.end_other_sessions(user.sub, keep)
        except TokenwardError as exc:
            raise fail(exc) from None
        return EndedSessions(ended=ended)

    return router


class EndedSessions(BaseModel):
    ended: int = Field(description="how many sessions were ended")
