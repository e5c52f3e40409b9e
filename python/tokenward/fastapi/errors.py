"""The one mapping from tokenward's exceptions to HTTP answers (RFC 6750 §3, RFC 6585, RFC 9110).

=====================================  ======  ===============================================
exception                              status  headers
=====================================  ======  ===============================================
``NotAuthenticatedError``              401     ``WWW-Authenticate``: one challenge per strategy
``InvalidTokenError`` (and subclasses) 401     ``WWW-Authenticate: Bearer error="invalid_token"``
``InvalidCredentialsError``            401     the strategies' challenges
``AuthorizationError``                 403     ``Bearer error="insufficient_scope"``
``CsrfError``                          403     (the detail names what the request lacks)
``ExternalSignInError``                401     (an ``AuthenticationError``; ``error`` names why)
``ExternalSignUpError``                403     (closed sign-up, an unverified email)
``ExternalProviderUnavailableError``   503     ``Retry-After``
``InsufficientAuthenticationError``    403     ``Bearer error="insufficient_user_authentication"``
                                               with ``max_age`` (RFC 9470)
``InvalidSecondFactorError``           401     ``Bearer error="invalid_token"``
``SecondFactorStateError``             422
``RateLimitError``                     429     ``Retry-After``
``UnstorableValueError``               422
``PasskeyInputError``                  422     (``PasskeyError`` is an ``AuthenticationError``: 401)
``WeakPasswordError``                  422     (the body names every broken rule)
``EmailNotVerifiedError``              401     (``error: email_not_verified`` in the body)
``AccountTokenError``                  400     (a bad, expired or used verification/reset link)
``SignUpClosedError``                  403
``SignUpFieldError``                   422     (a field a client may not set at sign-up)
``DuplicateUserError``                 409     (sign-up without required verification)
``KeySetUnavailableError``, ``StoreError``,
``MailDeliveryError``,
any other ``TokenwardError``           503     ``Retry-After``
=====================================  ======  ===============================================

Every body is FastAPI's ``{"detail": "..."}`` and says what to do next. Dependencies and routers
raise :func:`to_http` of what they catch; :func:`exception_handler` does the same for exceptions
application code raises (``auth.install(app)`` registers it).

A WebSocket handshake has no HTTP answer a browser can read: :func:`to_websocket` turns the same
answer into a close code, 1008 (policy violation) for a refusal (401, 403, 429) and 1013 (try
again later) for 503, with the detail as the close reason.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from fastapi import HTTPException, WebSocketException, status
from fastapi.responses import JSONResponse

from tokenward.exceptions import (
    AccountTokenError,
    AuthenticationError,
    AuthorizationError,
    CsrfError,
    DuplicateUserError,
    EmailNotVerifiedError,
    ExpiredTokenError,
    ExternalProviderUnavailableError,
    ExternalSignUpError,
    InsufficientAuthenticationError,
    InvalidApiKeyError,
    InvalidSecondFactorError,
    InvalidTokenError,
    KeySetUnavailableError,
    MailDeliveryError,
    NotAuthenticatedError,
    PasskeyInputError,
    RateLimitError,
    RefreshTokenError,
    SecondFactorStateError,
    SignUpClosedError,
    SignUpFieldError,
    StoreError,
    TokenUseError,
    TokenwardError,
    UnstorableValueError,
    WeakPasswordError,
)
from tokenward.strategies import bearer_challenge

__all__ = [
    "ERROR_CODES",
    "LOGIN_PATH",
    "REFRESH_PATH",
    "RETRY_AFTER_UNAVAILABLE",
    "bad_request",
    "error_response",
    "exception_handler",
    "exception_handler_for",
    "not_found",
    "to_http",
    "to_websocket",
    "validation_detail",
]

_log = logging.getLogger("tokenward")

LOGIN_PATH = "/v1/auth/login"
REFRESH_PATH = "/v1/auth/refresh"
RETRY_AFTER_UNAVAILABLE = 5  # seconds: how soon a client may retry a 503


def _challenges(exc: TokenwardError, default: str) -> str:
    return ", ".join(exc.challenges) if exc.challenges else default


def _unauthorized(detail: str, challenge: str, exc: TokenwardError | None = None) -> HTTPException:
    if exc is not None and exc.accepted and exc.accepted not in detail:
        # Several strategies were tried: say what else the route takes.
        detail = f"{detail.rstrip('.')}. This accepts {exc.accepted}."
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": challenge}
    )


def _token_detail(exc: InvalidTokenError, login_path: str | None) -> str:
    sign_in = f"sign in again with POST {login_path}" if login_path else "sign in again"
    where = f"POST {login_path} or POST {REFRESH_PATH}" if login_path else "your identity provider"
    if isinstance(exc, RefreshTokenError):
        return (
            "The refresh token is not valid (unknown, expired, revoked or already used): "
            f"{sign_in}."
        )
    if isinstance(exc, InvalidApiKeyError):
        return (
            "The API key is not valid (unknown, expired or revoked): create a new one with "
            "POST /v1/api-keys, signed in with an access token."
        )
    if isinstance(exc, ExpiredTokenError):
        if not login_path:  # signed in elsewhere (Cognito): no refresh route here
            return (
                "The access token has expired: get a new one from your identity provider "
                "(with its refresh token, or by signing in again)."
            )
        refresh = f"get a new one from POST {REFRESH_PATH}, or " if login_path else ""
        return f"The access token has expired: {refresh}{sign_in}."
    if isinstance(exc, TokenUseError):  # "an ID token was sent ..., and this accepts ..."
        text = str(exc)
        return f"{text[:1].upper()}{text[1:]}: send one from {where}, unchanged."
    return (
        "The access token is not valid: send the access_token (not the refresh_token) "
        f"from {where}, unchanged."
    )


def _token_challenge(exc: InvalidTokenError) -> str:
    if isinstance(exc, RefreshTokenError):
        return bearer_challenge("invalid_token", "The refresh token is not valid")
    if isinstance(exc, InvalidApiKeyError):
        return bearer_challenge("invalid_token", "The API key is not valid")
    if isinstance(exc, ExpiredTokenError):
        return bearer_challenge("invalid_token", "The access token expired")
    return bearer_challenge("invalid_token", "The access token is not valid")


def forbidden_detail(exc: AuthorizationError) -> str:
    """The 403's text: the groups or scopes that are missing when the error names them, else
    the error's own message (an application's ``AuthorizationError("not the owner")``); never
    an empty list."""
    if exc.entitlement:
        why = f" ({', '.join(exc.reasons)})" if exc.reasons else ""
        return f"This needs the entitlement {exc.entitlement} on this resource{why}."
    if exc.groups and exc.missing_scopes:  # any_of(groups=..., scopes=...)
        return (
            "This needs membership in one of the groups: "
            + ", ".join(sorted(exc.groups))
            + "; or one of the scopes: "
            + " ".join(exc.missing_scopes)
            + "."
        )
    if exc.groups:
        return "This needs membership in one of the groups: " + ", ".join(sorted(exc.groups)) + "."
    if exc.missing_scopes:
        return "This needs the scopes: " + " ".join(exc.missing_scopes) + "."
    return str(exc).strip() or "The caller may not do this."


def to_http(exc: Exception, *, login_path: str | None = LOGIN_PATH) -> HTTPException:
    """The HTTP answer for ``exc`` (see the module docstring). ``login_path`` is where the app
    signs users in (None when it does not, as under Cognito), for the 401 details."""
    if isinstance(exc, HTTPException):
        return exc
    if isinstance(exc, NotAuthenticatedError):
        detail = f"Not signed in: {exc}."
        if login_path and login_path not in detail:
            detail += f" POST {login_path} returns an access token."
        return _unauthorized(detail, _challenges(exc, bearer_challenge()))
    if isinstance(exc, EmailNotVerifiedError):
        return _unauthorized(
            "The e-mail address is not verified yet: follow the link in the verification "
            "mail (POST /v1/auth/resend-verification sends another).",
            bearer_challenge(),
        )
    if isinstance(exc, AuthenticationError):  # InvalidCredentialsError included
        text = str(exc)
        return _unauthorized(text[:1].upper() + text[1:], _challenges(exc, bearer_challenge()), exc)
    if isinstance(exc, InvalidTokenError):
        return _unauthorized(
            _token_detail(exc, login_path), _challenges(exc, _token_challenge(exc)), exc
        )
    if isinstance(exc, AuthorizationError):
        if exc.entitlement:
            description = "A required entitlement is missing"
        elif exc.groups:
            description = "Not in a required group"
        elif exc.missing_scopes:
            description = "A required scope is missing"
        else:
            description = "The caller may not do this"
        return HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=forbidden_detail(exc),
            headers={
                "WWW-Authenticate": bearer_challenge(
                    "insufficient_scope", description, " ".join(exc.missing_scopes)
                )
            },
        )
    if isinstance(exc, ExternalSignUpError):
        return HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{exc}")
    if isinstance(exc, ExternalProviderUnavailableError):
        _log.warning("tokenward: the external provider is unavailable: %s", exc)
        return unavailable("The identity provider")
    if isinstance(exc, InsufficientAuthenticationError | InvalidSecondFactorError):
        return _second_factor(exc)
    if isinstance(exc, SecondFactorStateError):
        text = str(exc)
        return HTTPException(422, detail=text[:1].upper() + text[1:])
    if isinstance(exc, CsrfError):
        detail = "Cross-site request refused: it needs " + " and ".join(exc.missing) + "."
        return HTTPException(status.HTTP_403_FORBIDDEN, detail=detail)
    if isinstance(exc, RateLimitError):
        return HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"{exc} Try again in {exc.retry_after} seconds.",
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, UnstorableValueError):
        return HTTPException(
            422,
            detail="A value holds a NUL character or a lone surrogate, which no store can keep.",
        )
    if isinstance(exc, PasskeyInputError):
        text = str(exc)
        return HTTPException(422, detail=text[:1].upper() + text[1:])
    if isinstance(exc, WeakPasswordError):  # the message lists the rules, never the password
        text = str(exc)
        return HTTPException(422, detail=text[:1].upper() + text[1:] + ".")
    if isinstance(exc, AccountTokenError):
        return HTTPException(
            status.HTTP_400_BAD_REQUEST,
            detail="The link is not valid: it is malformed, expired or already used. Ask for "
            "a new one.",
        )
    if isinstance(exc, SignUpClosedError):
        return HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="Sign-up is closed here: an administrator creates accounts.",
        )
    if isinstance(exc, SignUpFieldError):
        text = str(exc)
        return HTTPException(422, detail=text[:1].upper() + text[1:] + ".")
    if isinstance(exc, DuplicateUserError):
        return HTTPException(
            status.HTTP_409_CONFLICT,
            detail="An account with this e-mail address exists already: sign in, or reset "
            "the password.",
        )
    if isinstance(exc, KeySetUnavailableError):
        _log.warning("tokenward: verification keys unavailable: %s", exc)
        return unavailable("Token verification")
    if isinstance(exc, StoreError):
        _log.warning("tokenward: the store failed: %s", exc)
        return unavailable("The session store")
    if isinstance(exc, MailDeliveryError):  # the message names the server, never the password
        _log.warning("tokenward: account mail not sent: %s", exc)
        return unavailable("Sending mail")
    _log.error("tokenward: cannot authenticate the request: %s: %s", type(exc).__name__, exc)
    return unavailable("Authentication")


def _second_factor(
    exc: InsufficientAuthenticationError | InvalidSecondFactorError,
) -> HTTPException:
    text = str(exc)
    detail = text[:1].upper() + text[1:]
    if isinstance(exc, InvalidSecondFactorError):
        challenge = bearer_challenge("invalid_token", "The second factor is not valid")
        return HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": challenge}
        )
    challenge = bearer_challenge(
        "insufficient_user_authentication", "A recent second factor is required"
    )
    if exc.max_age is not None:
        challenge += f", max_age={int(exc.max_age)}"
    return HTTPException(
        status.HTTP_403_FORBIDDEN, detail=detail, headers={"WWW-Authenticate": challenge}
    )


ERROR_CODES: tuple[tuple[type[Exception], str], ...] = (
    (EmailNotVerifiedError, "email_not_verified"),
    (AccountTokenError, "invalid_account_token"),
    (SignUpClosedError, "signup_closed"),
    (SignUpFieldError, "signup_field_refused"),
    (DuplicateUserError, "email_taken"),
    (WeakPasswordError, "weak_password"),
    (MailDeliveryError, "mail_unavailable"),
)
"""The ``error`` code the account routes add to the body, beside ``detail``, so a client can
tell these answers apart without reading the text."""


def error_response(exc: Exception, *, login_path: str | None = LOGIN_PATH) -> JSONResponse:
    """:func:`to_http`'s answer as a response, with ``Cache-Control: no-store``, and the
    ``error`` code of :data:`ERROR_CODES` in the body (``rules`` too, for a weak password)."""
    http = to_http(exc, login_path=login_path)
    body: dict[str, Any] = {"detail": http.detail}
    for kind, code in ERROR_CODES:
        if isinstance(exc, kind):
            body["error"] = code
            break
    if isinstance(exc, WeakPasswordError):
        body["rules"] = list(exc.rules)
    headers = {**(http.headers or {}), "Cache-Control": "no-store", "Pragma": "no-cache"}
    return JSONResponse(body, status_code=http.status_code, headers=headers)


def unavailable(what: str) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"{what} is unavailable right now; try again shortly.",
        headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
    )


def forbidden(
    *, groups: Iterable[str] = (), scopes: Iterable[str] = (), subject: str | None = None
) -> HTTPException:
    """The 403 for a missing group or scope (what :class:`AuthorizationError` maps to)."""
    return to_http(
        AuthorizationError(
            "The caller may not do this.",
            subject=subject,
            groups=tuple(dict.fromkeys(groups)),
            missing_scopes=tuple(dict.fromkeys(scopes)),
        )
    )


def bad_request(detail: str, code: int = status.HTTP_400_BAD_REQUEST) -> HTTPException:
    return HTTPException(code, detail=detail)


_SURROGATES = re.compile("[\ud800-\udfff]")


def _text(value: Any) -> Any:
    """``value`` with every lone surrogate (a ``\\ud800`` escape of the body) replaced by
    U+FFFD, so that the answer can be encoded as UTF-8."""
    return _SURROGATES.sub("\ufffd", value) if isinstance(value, str) else value


def validation_detail(
    problems: Iterable[Mapping[str, Any]], prefix: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The ``detail`` of a 422 for validation problems (pydantic's or FastAPI's): each one's
    ``loc`` (after ``prefix``), ``msg`` and ``type``, nothing else. The input is never echoed
    (it may hold a password or a key, or a value JSON cannot carry, such as NaN), nor its
    context, and every text is made encodable."""
    detail = []
    for problem in problems:
        msg = str(problem.get("msg", ""))
        context = problem.get("ctx")
        if problem.get("type") == "json_invalid" and isinstance(context, Mapping):
            msg = f"{msg}: {context.get('error')}"  # the JSON reader's own words, no input
        detail.append(
            {
                "loc": [*prefix, *(_text(part) for part in problem.get("loc", ()))],
                "msg": _text(msg),
                "type": str(problem.get("type", "")),
            }
        )
    return detail


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"No such {what}.")


def exception_handler_for(
    login_path: str | None,
) -> Callable[[Any, Exception], Awaitable[JSONResponse]]:
    """A FastAPI exception handler for :class:`~tokenward.TokenwardError` raised by application
    code (an ``AuthorizationError`` from a route, say): the same answer a dependency gives, for
    an app that signs users in at ``login_path`` (None when sign-in happens elsewhere, as under
    Cognito: then no 401 points at a route the app does not have). ``Auth.install`` registers
    the one of its provider."""

    async def handler(request: Any, exc: Exception) -> JSONResponse:
        http = to_http(exc, login_path=login_path)
        return JSONResponse(
            {"detail": http.detail}, status_code=http.status_code, headers=dict(http.headers or {})
        )

    return handler


exception_handler = exception_handler_for(LOGIN_PATH)
"""The handler of an app with tokenward's own sign-in routes (custom provider)."""


def register_exception_handler(app: Any, handler: Callable[..., Any]) -> None:
    """Answer a TokenwardError that application code raises with ``handler``; an app already
    running takes no handler any more, which is logged (``Auth.install`` calls it)."""
    if getattr(app, "middleware_stack", None) is None:
        app.add_exception_handler(TokenwardError, handler)
    elif TokenwardError not in getattr(app, "exception_handlers", {TokenwardError: None}):
        _log.info(
            "tokenward: the app was running before auth.install(app), so a TokenwardError "
            "raised by application code (AuthorizationError...) would be a 500: call "
            "auth.install(app) right after creating the app, or pass "
            "FastAPI(exception_handlers=auth.exception_handlers)"
        )


WS_POLICY_VIOLATION = 1008
WS_TRY_AGAIN_LATER = 1013
_MAX_CLOSE_REASON = 123  # bytes of UTF-8 a close frame's reason may hold (RFC 6455 §5.5)


def to_websocket(exc: HTTPException) -> WebSocketException:
    """The close of a WebSocket handshake refused with ``exc`` (an answer of :func:`to_http`):
    1013 for a 503 (the server cannot decide now), 1008 for anything else; the detail as the
    reason, cut to what a close frame holds."""
    code = WS_TRY_AGAIN_LATER if exc.status_code == 503 else WS_POLICY_VIOLATION
    detail = exc.detail if isinstance(exc.detail, str) else "Not allowed."
    reason = detail.encode("utf-8", "replace")[:_MAX_CLOSE_REASON].decode("utf-8", "ignore")
    return WebSocketException(code, reason)
