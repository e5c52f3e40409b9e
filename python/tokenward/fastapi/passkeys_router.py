"""The passkey routes under ``/v1/auth/passkeys`` (docs/passkeys.md), added onto the auth router
by :func:`add_passkey_routes`:

* ``POST /passkeys/register/options`` (signed in): ``PublicKeyCredentialCreationOptions``
  for ``navigator.credentials.create()``;
* ``POST /passkeys/register`` ``{credential, name?}``: verifies it and stores the passkey (201);
* ``GET /passkeys``, ``PATCH /passkeys/{id}`` ``{name}``, ``DELETE /passkeys/{id}``: the
  caller's passkeys, listed, renamed, revoked (404 for an id that is not the caller's);
* ``POST /passkeys/authenticate/options``: ``PublicKeyCredentialRequestOptions`` for
  ``navigator.credentials.get()``: the caller's passkeys when signed in (a step-up), a
  discoverable passkey otherwise (``PASSKEY_SIGNIN=true``; 401 without it);
* ``POST /passkeys/authenticate`` ``{credential}``: signed in, a fresh access token (step-up,
  ``amr`` with ``webauthn``; the access cookie too under cookie sessions); otherwise, with
  ``PASSKEY_SIGNIN=true``, the answer a login gives (tokens, and cookies under cookie sessions).

A ceremony that fails is a 401, a body that is not WebAuthn's JSON a 422, too many attempts
from one address a 429; every answer is ``no-store``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from tokenward.apikeys import refuse_api_key
from tokenward.fastapi import errors
from tokenward.fastapi._answers import StepUpResponse, http_errors, signed_in, stepped_up
from tokenward.fastapi._forms import read_fields, validate
from tokenward.fastapi.dependencies import optional_current_user, public, require_current_user
from tokenward.fastapi.models import CurrentUser, TokenResponse
from tokenward.fastapi.transports import CookieSession
from tokenward.stores.base import MAX_PASSKEY_NAME
from tokenward.tokens import ClientInfo

if TYPE_CHECKING:
    from tokenward.passkeys import PasskeyService, PasskeyView

__all__ = ["PasskeyOut", "add_passkey_routes"]


class RegisterRequest(BaseModel):
    """What ``navigator.credentials.create()`` returned (as JSON), and a name for it."""

    model_config = ConfigDict(extra="ignore")

    credential: dict[str, Any]
    name: str | None = Field(default=None, max_length=MAX_PASSKEY_NAME)


class AssertionRequest(BaseModel):
    """What ``navigator.credentials.get()`` returned (as JSON)."""

    model_config = ConfigDict(extra="ignore")

    credential: dict[str, Any]


class RenameRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=MAX_PASSKEY_NAME)


class PasskeyOut(BaseModel):
    """One of the caller's passkeys (never its public key)."""

    id: str = Field(description="the credential id (base64url)")
    name: str
    created_at: _dt.datetime
    last_used_at: _dt.datetime | None = None
    transports: list[str]
    synced: bool = Field(description="backup eligible: a passkey the platform syncs")
    aaguid: str = Field(description="the authenticator model (zeros when it does not say)")


class StepUpOut(StepUpResponse):
    pass


def _when(value: float | None) -> _dt.datetime | None:
    return None if value is None else _dt.datetime.fromtimestamp(value, _dt.UTC)


def _out(view: PasskeyView) -> PasskeyOut:
    return PasskeyOut(
        id=view.id,
        name=view.name,
        created_at=_when(view.created_at) or _dt.datetime.now(_dt.UTC),
        last_used_at=_when(view.last_used_at),
        transports=list(view.transports),
        synced=view.synced,
        aaguid=view.aaguid,
    )


def _doc(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        401: "Not signed in, or the passkey ceremony failed",
        403: "Signed in with an API key, or a cross-site request",
        404: "The caller has no passkey with this id",
        422: "The body is not WebAuthn's JSON, or does not fit the account's passkeys",
        429: "Too many attempts: wait for Retry-After seconds",
        503: "The store is unavailable",
    }
    return {code: {"description": text[code]} for code in codes}


def add_passkey_routes(
    router: APIRouter,
    passkeys: PasskeyService | None,
    client: Callable[[Request], ClientInfo],
    cookies: CookieSession | None = None,
    current_user: Callable[..., Any] = require_current_user,
    maybe_user: Callable[..., Any] = optional_current_user,
) -> None:
    """Add the routes of the module's text onto ``router`` (the auth router); nothing when
    ``passkeys`` is None (another provider, or passkeys off)."""
    if passkeys is None:
        return
    service = passkeys
    login_path = router.prefix + "/login"
    base = "/passkeys"

    @router.post(
        base + "/register/options",
        summary="Options for navigator.credentials.create(): register a passkey",
        responses=_doc(401, 403, 422, 429, 503),
    )
    async def register_options(
        request: Request,
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> dict[str, Any]:
        with http_errors(login_path):
            refuse_api_key(user.principal, "passkeys")
            return await service.registration_options(
                user.principal, address=client(request).address
            )

    @router.post(
        base + "/register",
        status_code=status.HTTP_201_CREATED,
        response_model=PasskeyOut,
        summary="Verify the new credential and keep the passkey",
        responses=_doc(401, 403, 422, 429, 503),
    )
    async def register(
        request: Request,
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> PasskeyOut:
        data, _ = await read_fields(request)
        body = validate(RegisterRequest, data)
        with http_errors(login_path):
            refuse_api_key(user.principal, "passkeys")
            view = await service.register(
                user.principal, body.credential, name=body.name, address=client(request).address
            )
        return _out(view)

    @router.get(
        base,
        response_model=list[PasskeyOut],
        summary="The caller's passkeys",
        responses=_doc(401, 403, 503),
    )
    async def list_passkeys(
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> list[PasskeyOut]:
        with http_errors(login_path):
            refuse_api_key(user.principal, "passkeys")
            return [_out(view) for view in await service.list(user.sub)]

    @router.patch(
        base + "/{credential_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary="Rename one of the caller's passkeys",
        responses=_doc(401, 403, 404, 422, 503),
    )
    async def rename(
        credential_id: str,
        request: Request,
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> Response:
        data, _ = await read_fields(request)
        body = validate(RenameRequest, data)
        with http_errors(login_path):
            refuse_api_key(user.principal, "passkeys")
            found = await service.rename(user.sub, credential_id[:1400], body.name)
        if not found:
            raise errors.not_found("passkey")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.delete(
        base + "/{credential_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary="Revoke one of the caller's passkeys (it signs no one in from now on)",
        responses=_doc(401, 403, 404, 503),
    )
    async def revoke(
        credential_id: str,
        user: CurrentUser = Depends(current_user),  # noqa: B008
    ) -> Response:
        with http_errors(login_path):
            refuse_api_key(user.principal, "passkeys")
            found = await service.revoke(
                user.sub, credential_id[:1400], keep_session=user.principal.session_id
            )
        if not found:
            raise errors.not_found("passkey")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        base + "/authenticate/options",
        dependencies=[Depends(public())],
        summary="Options for navigator.credentials.get(): a step-up, or a passkey sign-in",
        responses=_doc(401, 403, 422, 429, 503),
    )
    async def authenticate_options(
        request: Request,
        user: CurrentUser | None = Depends(maybe_user),  # noqa: B008
    ) -> dict[str, Any]:
        with http_errors(login_path):
            if user is not None:
                refuse_api_key(user.principal, "passkeys")
            who = None if user is None else user.principal
            return await service.authentication_options(who, address=client(request).address)

    @router.post(
        base + "/authenticate",
        dependencies=[Depends(public())],
        response_model=TokenResponse | StepUpOut,
        summary="Verify the assertion: a fresh access token (signed in), or a sign-in",
        responses=_doc(401, 403, 422, 429, 503),
    )
    async def authenticate(
        request: Request,
        response: Response,
        user: CurrentUser | None = Depends(maybe_user),  # noqa: B008
    ) -> TokenResponse | StepUpOut:
        origin = client(request)
        with http_errors(login_path):
            if user is None and cookies is not None:  # sets cookies as a login does
                cookies.check_login(request.scope)
            data, _ = await read_fields(request)
            body = validate(AssertionRequest, data)
            if user is not None:
                refuse_api_key(user.principal, "passkeys")
                token = await service.step_up(
                    user.principal, body.credential, address=origin.address
                )
            else:
                pair = await service.sign_in(body.credential, client=origin)
        if user is not None:  # the fresh access token alone; the session is the same
            lifetime = service.tokens.access_lifetime
            return stepped_up(StepUpOut, response, token, lifetime, request, cookies)
        return signed_in(response, pair, request, cookies)
