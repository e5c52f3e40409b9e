"""The second-factor routes under ``/v1/auth/mfa`` (docs/mfa.md), added onto the auth router by
:func:`add_mfa_routes`:

* ``POST /mfa/totp`` (signed in): a new pending factor, ``{secret, otpauth_uri,
  recovery_codes}``, shown once;
* ``POST /mfa/totp/confirm`` ``{code}``: turns it on;
* ``DELETE /mfa/totp`` (optionally ``{code}``): turns it off, with a fresh factor (either
  change ends the caller's other sessions);
* ``POST /mfa/challenge`` ``{mfa_token, code}``: finishes a password sign-in that answered
  ``mfa_required``, with the answer a login gives (tokens, and cookies under cookie sessions);
* ``POST /mfa/step-up`` ``{code}``: a fresh access token (``mfa_time`` now), for routes behind
  ``require_fresh_mfa``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from tokenward.apikeys import refuse_api_key
from tokenward.fastapi._answers import StepUpResponse, http_errors, signed_in, stepped_up
from tokenward.fastapi._forms import read_fields, validate
from tokenward.fastapi.dependencies import public, require_current_user
from tokenward.fastapi.models import MAX_FIELD_CHARS, CurrentUser, TokenResponse
from tokenward.fastapi.transports import CookieSession
from tokenward.secondfactor import SecondFactors
from tokenward.tokens import ClientInfo

__all__ = [
    "ChallengeRequest",
    "CodeRequest",
    "EnrolmentResponse",
    "StepUpResponse",
    "add_mfa_routes",
]


class CodeRequest(BaseModel):
    """A code from the authenticator app (or a recovery code)."""

    model_config = ConfigDict(extra="ignore")

    code: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)


class OptionalCodeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)


class ChallengeRequest(CodeRequest):
    """The ``mfa_token`` a login answered with, and a code (TOTP or recovery)."""

    mfa_token: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)


class EnrolmentResponse(BaseModel):
    """A new pending factor: show it once (a QR code of ``otpauth_uri``) and the codes."""

    secret: str = Field(description="the TOTP secret in base32, for typing into an app")
    otpauth_uri: str = Field(description="the Key URI an authenticator app scans")
    recovery_codes: list[str] = Field(description="10 single-use codes, shown only now")


def _doc(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        401: "Not signed in, or the code or mfa_token is not valid",
        403: "Signed in with an API key, or a fresh second factor is needed (RFC 9470)",
        422: "A field is missing, or the request does not fit the account's second factors",
        429: "Too many attempts: wait for Retry-After seconds",
        503: "The store is unavailable",
    }
    return {code: {"description": text[code]} for code in codes}


def add_mfa_routes(
    router: APIRouter,
    factors: SecondFactors | None,
    client: Callable[[Request], ClientInfo],
    cookies: CookieSession | None = None,
    current_user: Callable[..., Any] = require_current_user,
) -> None:
    """Add the routes of the module's text onto ``router`` (the auth router); nothing when
    ``factors`` is None (the identity provider does second factors itself)."""
    if factors is None:
        return
    prefix = router.prefix
    login_path = prefix + "/login"

    @router.post(
        "/mfa/totp",
        response_model=EnrolmentResponse,
        summary="Start a TOTP enrolment: a secret, its Key URI and recovery codes, shown once",
        responses=_doc(401, 403, 422, 503),
    )
    async def enrol(user: CurrentUser = Depends(current_user)) -> EnrolmentResponse:  # noqa: B008
        with http_errors(login_path):
            refuse_api_key(user.principal, "second factors")
            made = await factors.enrol(user.sub, user.email or user.sub)
        return EnrolmentResponse(
            secret=made.secret, otpauth_uri=made.otpauth_uri, recovery_codes=made.recovery_codes
        )

    @router.post(
        "/mfa/totp/confirm",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary="Turn TOTP on with a current code from the app",
        responses=_doc(401, 403, 422, 429, 503),
    )
    async def confirm(
        request: Request,
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> Response:
        data, _ = await read_fields(request)
        body = validate(CodeRequest, data)
        with http_errors(login_path):
            refuse_api_key(user.principal, "second factors")
            await factors.confirm(
                user.sub,
                body.code,
                address=client(request).address,
                keep_session=user.principal.session_id,
            )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.delete(
        "/mfa/totp",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary="Turn TOTP off: send a code, or have stepped up within MFA_FRESH_MAX_AGE",
        responses=_doc(401, 403, 422, 429, 503),
    )
    async def disable(
        request: Request,
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> Response:
        data, _ = await read_fields(request, empty=True)
        body = validate(OptionalCodeRequest, data)
        with http_errors(login_path):
            refuse_api_key(user.principal, "second factors")
            await factors.disable(
                user.sub,
                code=body.code,
                mfa_time=user.mfa_time,
                address=client(request).address,
                keep_session=user.principal.session_id,
            )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/mfa/challenge",
        dependencies=[Depends(public())],
        response_model=TokenResponse,
        summary="Finish a sign-in that answered mfa_required: the mfa_token and a code",
        responses=_doc(401, 422, 429, 503),
    )
    async def challenge(request: Request, response: Response) -> TokenResponse:
        with http_errors(login_path):
            if cookies is not None:  # it sets cookies as a login does: same origin rule
                cookies.check_login(request.scope)
            data, _ = await read_fields(request)
            body = validate(ChallengeRequest, data)
            pair = await factors.challenge(
                body.mfa_token, body.code, address=client(request).address
            )
        return signed_in(response, pair, request, cookies)

    @router.post(
        "/mfa/step-up",
        response_model=StepUpResponse,
        summary="A fresh access token after a second factor (for require_fresh_mfa routes)",
        responses=_doc(401, 403, 422, 429, 503),
    )
    async def step_up(
        request: Request,
        response: Response,
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> StepUpResponse:
        data, _ = await read_fields(request)
        body = validate(CodeRequest, data)
        with http_errors(login_path):
            refuse_api_key(user.principal, "second factors")
            token = await factors.step_up(
                user.principal, body.code, address=client(request).address
            )
        lifetime = factors.tokens.access_lifetime if factors.tokens is not None else 0
        return stepped_up(StepUpResponse, response, token, lifetime, request, cookies)
