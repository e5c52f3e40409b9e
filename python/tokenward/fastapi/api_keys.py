"""The API-key endpoints under ``/v1/api-keys``: create (the key is in the 201 body, once), list
(never a key or a hash), revoke. Each answer carries ``Cache-Control: no-store``.

:func:`build_api_keys_router` is handed its collaborators: the :class:`ApiKeyService`, the
dependency that proves the caller, and a function giving a principal's effective scopes (what a
new key may hold at most). An API key cannot manage API keys: an access token must.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field

from tokenward.apikeys import (
    MAX_GROUPS,
    MAX_KEY_LIFETIME,
    MAX_NAME_CHARS,
    MAX_SCOPES,
    ApiKeyService,
)
from tokenward.exceptions import TokenwardError
from tokenward.fastapi import errors
from tokenward.fastapi.models import CurrentUser
from tokenward.fastapi.router import NoStoreRoute
from tokenward.principal import Principal

__all__ = ["PREFIX", "ApiKeyCreated", "ApiKeyInfo", "CreateApiKey", "build_api_keys_router"]

PREFIX = "/v1/api-keys"


class CreateApiKey(BaseModel):
    """JSON body of ``POST /v1/api-keys``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    scopes: list[str] = Field(default_factory=list, max_length=MAX_SCOPES)
    groups: list[str] = Field(
        default_factory=list,
        max_length=MAX_GROUPS,
        description="the groups the key is in: some of the caller's; none by default",
    )
    expires_in: int | None = Field(
        default=None, ge=1, le=MAX_KEY_LIFETIME, description="seconds; null: never expires"
    )


def _when(value: float | None) -> _dt.datetime | None:
    return None if value is None else _dt.datetime.fromtimestamp(value, _dt.UTC)


class ApiKeyInfo(BaseModel):
    """An API key as listed: everything but the key and its hash."""

    id: str
    name: str
    prefix: str = Field(description="the key's first characters, for recognising it")
    scopes: list[str]
    groups: list[str] = Field(description="the groups the key is in (named at its creation)")
    created_at: _dt.datetime
    expires_at: _dt.datetime | None = None
    last_used_at: _dt.datetime | None = None
    revoked_at: _dt.datetime | None = None

    @classmethod
    def of(cls, record: Any) -> ApiKeyInfo:
        return cls(
            id=record.id,
            name=record.name,
            prefix=record.prefix,
            scopes=list(record.scopes),
            groups=list(record.groups),
            created_at=_when(record.created_at) or _dt.datetime.now(_dt.UTC),
            expires_at=_when(record.expires_at),
            last_used_at=_when(record.last_used_at),
            revoked_at=_when(record.revoked_at),
        )


class ApiKeyCreated(BaseModel):
    """A new key: ``key`` is shown this once; store it now."""

    key: str = Field(description="the API key; send it as 'Authorization: Bearer <key>'")
    id: str
    name: str
    prefix: str
    scopes: list[str]
    groups: list[str]
    created_at: _dt.datetime
    expires_at: _dt.datetime | None = None


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in, or the credentials are not valid"},
    403: {
        "description": "Signed in with an API key, or asking for scopes or groups the caller lacks"
    },
    422: {"description": "The body lacks a field or has one of the wrong type or size"},
    503: {"description": "The store is unavailable"},
}


def build_api_keys_router(
    *,
    service: ApiKeyService,
    current_user: Callable[..., Any],
    effective_scopes: Callable[[Principal], Iterable[str]],
    prefix: str = PREFIX,
) -> APIRouter:
    """The router; mount it with ``app.include_router(auth.api_keys_router)``."""
    router = APIRouter(prefix=prefix, tags=["api keys"], route_class=NoStoreRoute)

    def fail(exc: Exception) -> HTTPException:
        if isinstance(exc, ValueError) and not isinstance(exc, TokenwardError):
            return HTTPException(422, detail=str(exc))
        return errors.to_http(exc)

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        response_model=ApiKeyCreated,
        summary="Create an API key (the key is shown once, in this answer)",
        responses={k: _ERRORS[k] for k in (401, 403, 422, 503)},
    )
    async def create_api_key(
        body: CreateApiKey,
        user: CurrentUser = Depends(current_user),  # noqa: B008 - see router.py
    ) -> ApiKeyCreated:
        principal = user.principal
        try:
            made = await service.create(
                principal,
                name=body.name,
                scopes=body.scopes,
                groups=body.groups,
                expires_in=body.expires_in,
                allowed_scopes=effective_scopes(principal),
            )
        except (TokenwardError, ValueError) as exc:
            raise fail(exc) from None
        record = made.record
        info = ApiKeyInfo.of(record)
        return ApiKeyCreated(
            key=made.key,
            id=record.id,
            name=record.name,
            prefix=record.prefix,
            scopes=list(record.scopes),
            groups=list(record.groups),
            created_at=info.created_at,
            expires_at=info.expires_at,
        )

    @router.get(
        "",
        response_model=list[ApiKeyInfo],
        summary="The caller's API keys (never the keys themselves)",
        responses={k: _ERRORS[k] for k in (401, 403, 503)},
    )
    async def list_api_keys(
        user: CurrentUser = Depends(current_user),  # noqa: B008 - see router.py
    ) -> list[ApiKeyInfo]:
        try:
            records = await service.list(user.principal)
        except TokenwardError as exc:
            raise fail(exc) from None
        return [ApiKeyInfo.of(r) for r in records]

    @router.delete(
        "/{key_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary="Revoke one of the caller's API keys",
        responses={
            **{k: _ERRORS[k] for k in (401, 403, 503)},
            404: {"description": "The caller has no such key"},
        },
    )
    async def revoke_api_key(
        key_id: str,
        user: CurrentUser = Depends(current_user),  # noqa: B008 - see router.py
    ) -> Response:
        try:
            done = await service.revoke(user.principal, key_id[:128])
        except TokenwardError as exc:
            raise fail(exc) from None
        if not done:
            raise errors.not_found("API key")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
