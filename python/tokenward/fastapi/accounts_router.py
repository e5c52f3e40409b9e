"""The account routes under ``/v1/auth``: sign-up, e-mail verification, forgotten and reset
passwords, password change (docs/accounts.md).

:func:`add_account_routes` puts them on the auth router (``Auth`` calls it with one line), with
the collaborators it is handed: the :class:`~tokenward.accounts.Accounts` service, the
dependency of the signed-in routes, where a request comes from, and the cookie sessions. Every
answer carries ``Cache-Control: no-store`` (the router's :class:`NoStoreRoute`); every refusal is
``{"detail", "error"}`` (:func:`tokenward.fastapi.errors.error_response`).

What a caller who does not know an account's password learns about it: nothing.

* ``POST /signup`` with ``EMAIL_VERIFICATION=required`` answers 202 for a new e-mail and for a
  taken one alike, after the same work (the hash, the insert); the verification mail goes after
  the answer.
* ``POST /forgot-password`` answers 200 with one body at once; the look-up, the token and the
  mail happen after the answer (a background task), so neither the body nor the time says
  whether the e-mail has an account, and a mail that fails is logged, not answered.
* ``POST /login`` (in :mod:`tokenward.fastapi.router`) answers one 401 for an unknown e-mail, a
  wrong password and a disabled account; ``email_not_verified`` only after a right password.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from tokenward.accounts import Accounts
from tokenward.apikeys import refuse_api_key
from tokenward.exceptions import RateLimitError, SignUpClosedError, TokenwardError
from tokenward.fastapi import errors
from tokenward.fastapi._forms import error_doc, read_fields, validate
from tokenward.fastapi.dependencies import public
from tokenward.fastapi.models import CurrentUser, TokenResponse
from tokenward.fastapi.transports import CookieSession
from tokenward.stores.base import UserRecord
from tokenward.tokens import ClientInfo

__all__ = ["add_account_routes"]

_log = logging.getLogger("tokenward.accounts")
_PUBLIC = [Depends(public())]
MAX_PASSWORD_CHARS = 4096  # the policy bounds it far lower; this only bounds the work of reading


class SignUpRequest(BaseModel):
    """``{email, password}`` and the fields ``SIGNUP_FIELDS`` allows (any other is refused)."""

    model_config = {"extra": "allow"}
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


class TokenRequest(BaseModel):
    token: str = Field(min_length=1, max_length=256)


class EmailRequest(BaseModel):
    email: str = Field(min_length=1, max_length=320)


class ResetPasswordRequest(BaseModel):
    token: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


class ChangePasswordRequest(BaseModel):
    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)
    new_password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


class AccountStatus(BaseModel):
    """An answer that carries no tokens: what happens next."""

    status: str
    detail: str


VERIFICATION_SENT = {
    "status": "verification_sent",
    "detail": "Check your mail: follow the link to verify the address, then sign in.",
}
RESET_SENT = {
    "status": "reset_requested",
    "detail": "If an account uses this address, a link to reset its password is on its way.",
}


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def _errors(*codes: int, **more: str) -> dict[int | str, dict[str, Any]]:
    doc = error_doc(*(c for c in codes if c in (400, 401, 403, 413, 415, 422, 429, 503)))
    for code, text in more.items():
        doc[int(code.removeprefix("s"))] = {"description": text}
    return doc


async def _quietly(what: str, work: Callable[[], Awaitable[Any]]) -> None:
    """Run ``work`` after the answer has gone: a failure is logged (never answered)."""
    try:
        await work()
    except RateLimitError:
        _log.info("tokenward: %s skipped: its limit is reached", what)
    except Exception:
        _log.exception("tokenward: %s failed", what)


def add_account_routes(
    router: APIRouter,
    accounts: Accounts | None,
    current_user: Callable[..., Any],
    client: Callable[[Request], ClientInfo],
    cookies: CookieSession | None = None,
) -> None:
    """Add ``/signup``, ``/verify-email``, ``/resend-verification``, ``/forgot-password``,
    ``/reset-password`` and ``/change-password`` to ``router`` (the auth router); nothing when
    ``accounts`` is None (Cognito, OIDC, a store without users)."""
    if accounts is None:
        return
    service = accounts
    login_path = router.prefix + "/login"

    def refuse(exc: TokenwardError) -> JSONResponse:
        return errors.error_response(exc, login_path=login_path)

    @router.post(
        "/signup",
        dependencies=_PUBLIC,
        status_code=status.HTTP_201_CREATED,
        response_model=TokenResponse,
        summary="Create an account (SIGNUP=open); 202 without tokens when the e-mail must be "
        "verified first",
        openapi_extra=_json_body(SignUpRequest),
        responses=_errors(
            400,
            403,
            413,
            415,
            422,
            429,
            503,
            s202="Created (or taken: the same answer): a verification mail is on its way",
            s409="An account with this e-mail exists (EMAIL_VERIFICATION is not required)",
        ),
    )
    async def signup(request: Request) -> Any:
        if service.options.signup != "open":
            return refuse(SignUpClosedError("sign-up is closed"))
        if cookies is not None:  # the answer may set session cookies: another site's form may not
            try:
                cookies.check_login(request.scope)
            except TokenwardError as exc:
                return refuse(exc)
        body = validate(SignUpRequest, (await read_fields(request))[0])
        fields = dict(body.model_extra or {})
        origin = client(request)
        try:
            result = await service.sign_up(
                body.email, body.password, fields=fields, client=origin, send_mail=False
            )
        except TokenwardError as exc:
            return refuse(exc)
        mail = None
        user = result.user
        if result.verification and user is not None:
            mail = BackgroundTask(_quietly, "the verification mail", _sender(service, user))
        if result.tokens is None:
            return JSONResponse(VERIFICATION_SENT, status_code=202, background=mail)
        answer = JSONResponse(
            TokenResponse(**result.tokens.to_json()).model_dump(), status_code=201, background=mail
        )
        if cookies is not None:
            cookies.write_login(answer, result.tokens, request)
        return answer

    @router.post(
        "/verify-email",
        dependencies=_PUBLIC,
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary="Verify the e-mail address with the token of the verification mail",
        openapi_extra=_json_body(TokenRequest),
        responses=_errors(400, 413, 415, 422, 503),
    )
    async def verify_email(request: Request) -> Response:
        body = validate(TokenRequest, (await read_fields(request))[0])
        try:
            await service.verify_email(body.token)
        except TokenwardError as exc:
            return refuse(exc)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/resend-verification",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=AccountStatus,
        summary="Send the signed-in user another verification mail (3 per hour)",
        responses=_errors(401, 403, 429, 503),
    )
    async def resend_verification(
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> Any:
        try:
            refuse_api_key(user.principal, "accounts")
            await service.resend_verification(user.sub)
        except TokenwardError as exc:
            return refuse(exc)
        return JSONResponse(VERIFICATION_SENT, status_code=202)

    @router.post(
        "/forgot-password",
        dependencies=_PUBLIC,
        response_model=AccountStatus,
        summary="Mail a password-reset link (the same answer whether the e-mail has an "
        "account or not)",
        openapi_extra=_json_body(EmailRequest),
        responses=_errors(400, 413, 415, 422),
    )
    async def forgot_password(request: Request) -> Any:
        body = validate(EmailRequest, (await read_fields(request))[0])
        email = body.email

        async def work() -> None:
            await service.forgot_password(email)

        task = BackgroundTask(_quietly, "the password-reset mail", work)
        return JSONResponse(RESET_SENT, status_code=200, background=task)

    @router.post(
        "/reset-password",
        dependencies=_PUBLIC,
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary="Set a new password with the token of the reset mail (ends every session)",
        openapi_extra=_json_body(ResetPasswordRequest),
        responses=_errors(400, 413, 415, 422, 429, 503),
    )
    async def reset_password(request: Request) -> Response:
        body = validate(ResetPasswordRequest, (await read_fields(request))[0])
        try:
            await service.reset_password(body.token, body.password, address=client(request).address)
        except TokenwardError as exc:
            return refuse(exc)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/change-password",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary="Change the signed-in user's password (ends their other sessions)",
        openapi_extra=_json_body(ChangePasswordRequest),
        responses=_errors(400, 401, 403, 413, 415, 422, 429, 503),
    )
    async def change_password(
        request: Request,
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> Response:
        body = validate(ChangePasswordRequest, (await read_fields(request))[0])
        try:
            refuse_api_key(user.principal, "accounts")
            await service.change_password(
                user.sub,
                body.current_password,
                body.new_password,
                keep_session=user.principal.session_id,
                address=client(request).address,
            )
        except TokenwardError as exc:
            return refuse(exc)
        return Response(status_code=status.HTTP_204_NO_CONTENT)


def _sender(service: Accounts, user: UserRecord) -> Callable[[], Awaitable[None]]:
    async def send() -> None:
        await service.send_verification(user)

    return send
