"""The pydantic models of the FastAPI layer: the signed-in user and the auth endpoints' bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from tokenward.principal import CredentialType, FrozenDict, FrozenList, Principal, freeze

__all__ = ["CurrentUser", "LoginRequest", "RefreshRequest", "TokenResponse"]

MAX_FIELD_CHARS = 1024


class CurrentUser(BaseModel):
    """The signed-in user: a view of the request's :class:`~tokenward.principal.Principal`.

    ``credential_type`` says what proved it (``access_token``, ``api_key``, ``basic``,
    ``gateway``). ``groups`` come from the ``cognito:groups`` claim (or the API key's owner);
    ``scopes`` are the effective scopes: the credential's own plus those its groups grant as
    roles (see docs/authorization.md). ``claims`` holds every verified claim of a token.

    A CurrentUser is immutable all the way down: the model is frozen, ``groups`` and ``scopes``
    are :class:`~tokenward.principal.FrozenList` and ``claims`` a
    :class:`~tokenward.principal.FrozenDict` (equal to the lists and dicts they hold, serialised
    as such, but changing one raises TypeError; ``list(user.groups)`` or
    ``copy.deepcopy(user.claims)`` give copies to change). That is what lets every request with
    the same token share one user (see :meth:`tokenward.fastapi.Auth.current_user`).
    """

    model_config = ConfigDict(frozen=True)

    sub: str
    email: str | None = None
    groups: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=list)
    provider: str | None = None
    credential_type: CredentialType = "access_token"
    claims: dict[str, Any] = Field(default_factory=dict)

    _principal: Principal | None = PrivateAttr(default=None)

    @field_validator("groups", "scopes", "claims", mode="after")
    @classmethod
    def _frozen(cls, value: Any) -> Any:
        return freeze(value)

    @classmethod
    def from_principal(
        cls, principal: Principal, scopes: tuple[str, ...] | None = None
    ) -> CurrentUser:
        """The view of ``principal``; ``scopes`` replaces its own (the effective scopes).

        Built through pydantic's public API without validation (the values come from a
        verified Principal, so there is nothing to validate): a copy of a prototype with every
        field replaced (:meth:`~pydantic.BaseModel.model_copy`, cheaper per call than
        :meth:`~pydantic.BaseModel.model_construct`, which looks up each field's alias and
        default), then the Principal in its private attribute. Runs once per token while the
        token's Principal is remembered (:mod:`tokenward.caches`), else once per request."""
        claims = principal.claims
        if type(claims) is not FrozenDict:  # a memoised Principal's claims are frozen already
            claims = freeze(claims)
        user = _prototype(cls).model_copy(
            update={
                "sub": principal.subject,
                "email": principal.email,
                "groups": FrozenList(principal.groups),
                "scopes": FrozenList(principal.scopes if scopes is None else scopes),
                "provider": principal.provider,
                "credential_type": principal.credential_type,
                "claims": claims,
            }
        )
        user._principal = principal
        return user

    @property
    def principal(self) -> Principal:
        """The Principal this user is a view of."""
        if self._principal is None:  # built by hand (tests, dependency overrides)
            return Principal(
                subject=self.sub,
                credential_type=self.credential_type,
                email=self.email,
                groups=tuple(self.groups),
                scopes=tuple(self.scopes),
                provider=self.provider,
                claims=self.claims,
            )
        return self._principal

    @property
    def amr(self) -> tuple[str, ...]:
        """How the user proved who they are (:attr:`Principal.amr`)."""
        return self.principal.amr

    @property
    def mfa_time(self) -> float | None:
        """When the user last proved a second factor (:attr:`Principal.mfa_time`), or None."""
        return self.principal.mfa_time

    def in_any_group(self, *groups: str) -> bool:
        """Whether the user belongs to at least one of ``groups``."""
        return any(g in self.groups for g in groups)

    def has_scopes(self, *scopes: str) -> bool:
        """Whether the user holds every one of ``scopes``."""
        return all(s in self.scopes for s in scopes)


_PROTOTYPES: dict[type[CurrentUser], CurrentUser] = {}


def _prototype(cls: type[CurrentUser]) -> CurrentUser:
    """A user of ``cls`` with every field set (``model_fields_set`` is all of them in its
    copies), the template :meth:`CurrentUser.from_principal` copies."""
    found = _PROTOTYPES.get(cls)
    if found is None:
        found = _PROTOTYPES[cls] = cls.model_construct(_fields_set=set(cls.model_fields), sub="")
    return found


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
