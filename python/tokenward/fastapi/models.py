"""The pydantic models of the FastAPI layer: the signed-in user and the auth endpoints' bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CurrentUser", "LoginRequest", "RefreshRequest", "TokenResponse"]

MAX_FIELD_CHARS = 1024


class CurrentUser(BaseModel):
    """The user behind a verified access token.

    ``groups`` come from the ``cognito:groups`` claim and ``scopes`` from ``scope``, whichever
    provider issued the token; ``claims`` holds every verified claim.
    """

    model_config = ConfigDict(frozen=True)

    sub: str
    email: str | None = None
    groups: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=list)
    provider: str
    claims: dict[str, Any] = Field(default_factory=dict)

    def in_any_group(self, *groups: str) -> bool:
        """Whether the user belongs to at least one of ``groups``."""
        return any(g in self.groups for g in groups)

    def has_scopes(self, *scopes: str) -> bool:
        """Whether the user holds every one of ``scopes``."""
        return all(s in self.scopes for s in scopes)


class LoginRequest(BaseModel):
    """JSON body of ``POST /v1/auth/login``. ``scope`` optionally narrows the granted scopes."""

    model_config = ConfigDict(extra="ignore")

    email: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)
    password: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)
    scope: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)


class RefreshRequest(BaseModel):
    """JSON body of ``POST /v1/auth/refresh`` and ``POST /v1/auth/logout``."""

    model_config = ConfigDict(extra="ignore")

    refresh_token: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)


class TokenResponse(BaseModel):
    """A new token pair (RFC 6749 §5.1)."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")
