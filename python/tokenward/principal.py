"""``Principal``: the one identity every part of tokenward speaks of.

Strategies (access tokens, API keys, HTTP Basic, gateway claims) produce a Principal; the
services (sessions, API keys, rate limits, roles) read it; ``tokenward.fastapi.CurrentUser`` is a
view of it. Nothing here imports a web framework.

The caches of Principals (and of views of them) live in :mod:`tokenward.caches`.

Two claim mappers turn verified claims into a Principal: :func:`from_token_claims` for
tokenward's own access tokens and :func:`from_cognito_claims` for a Cognito user pool's. Both
read groups from ``cognito:groups`` and scopes from the space-separated ``scope`` claim, and both
refuse a groups claim that holds anything but strings: dropping the odd entries would let
``[1, "root"]`` stand for ``["root"]``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from tokenward.exceptions import InvalidClaimError

__all__ = [
    "CREDENTIAL_TYPES",
    "EMPTY_CLAIMS",
    "SECOND_FACTORS",
    "CredentialType",
    "FrozenDict",
    "FrozenList",
    "Principal",
    "freeze",
    "from_cognito_claims",
    "from_token_claims",
    "split_scopes",
]

CredentialType = Literal["access_token", "api_key", "basic", "gateway"]
CREDENTIAL_TYPES: tuple[CredentialType, ...] = ("access_token", "api_key", "basic", "gateway")

_EMPTY: Mapping[str, Any] = MappingProxyType({})

SECOND_FACTORS = frozenset({"otp", "webauthn", "hwk", "mfa"})
"""The ``amr`` values (RFC 8176) that name a second factor, or a factor as strong as one: a
one-time password, a passkey (WebAuthn), a hardware key, or "multiple factors" as such."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from, and how that was proven.

    ``credential_type`` is the kind of credential it came from: ``access_token`` (a provider's
    JWT, custom or Cognito, or a third-party issuer's), ``api_key``, ``basic`` (HTTP Basic) or
    ``gateway`` (claims an API Gateway authorizer already checked). ``groups`` double as roles
    (see :mod:`tokenward.rbac`); ``scopes`` are the scopes the credential itself carries.
    ``claims`` holds every verified claim of a token (empty for other credentials).
    ``session_id`` is the refresh-token family an access token was minted in (its ``sid``).
    """

    subject: str
    credential_type: CredentialType
    email: str | None = None
    groups: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    provider: str | None = None
    claims: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False, repr=False)
    session_id: str | None = None
    credential_id: str | None = field(default=None, compare=False)
    shared: bool = field(default=False, init=False, compare=False, repr=False)
    """Whether this Principal is shared by every request that sends its token: set by the
    :class:`~tokenward.caches.PrincipalMemo` that keeps it (see :mod:`tokenward.caches`), and
    what lets a view of it be cached too. A new Principal (``dataclasses.replace`` included) is
    not shared."""

    def __post_init__(self) -> None:
        if not isinstance(self.subject, str) or not self.subject:
            raise ValueError("a Principal needs a non-empty subject")
        if self.credential_type not in CREDENTIAL_TYPES:
            raise ValueError(f"unknown credential type {self.credential_type!r}")
        # Lists are accepted for convenience and frozen, so a Principal can be shared safely
        # (the claim mappers give tuples already: nothing to copy on the request path).
        if type(self.groups) is not tuple:
            object.__setattr__(self, "groups", tuple(self.groups))
        if type(self.scopes) is not tuple:
            object.__setattr__(self, "scopes", tuple(self.scopes))

    @property
    def amr(self) -> tuple[str, ...]:
        """How the user proved who they are (the token's ``amr``, RFC 8176: ``("pwd",)``,
        ``("pwd", "otp")``, ``("webauthn",)``...); empty when the credential does not say."""
        found = self.claims.get("amr")
        if not isinstance(found, list | tuple):
            return ()
        return tuple(m for m in found if isinstance(m, str))

    @property
    def mfa_time(self) -> float | None:
        """When the user last proved a second factor (POSIX seconds), or None when the
        credential does not tell. tokenward's own access tokens carry it as ``mfa_time``; a
        token of another issuer (Cognito, OIDC) counts only when its ``amr`` names a second
        factor (:data:`SECOND_FACTORS`), and then its ``auth_time`` is the time."""
        claims = self.claims
        if self.provider == "custom":
            value = claims.get("mfa_time")
        elif SECOND_FACTORS.intersection(self.amr):
            value = claims.get("auth_time")
        else:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    def in_any_group(self, *groups: str) -> bool:
        """Whether the principal belongs to at least one of ``groups``."""
        return any(g in self.groups for g in groups)

    def has_scopes(self, *scopes: str) -> bool:
        """Whether the credential carries every one of ``scopes`` (roles not counted)."""
        return all(s in self.scopes for s in scopes)


def split_scopes(scope: str | Sequence[str] | None) -> tuple[str, ...]:
    """A space-separated scope string (or a list) as a tuple without duplicates, order kept."""
    if scope is None:
        return ()
    items = scope.split() if isinstance(scope, str) else [s for s in scope if isinstance(s, str)]
    return tuple(dict.fromkeys(items))


def _groups(claims: Mapping[str, Any]) -> tuple[str, ...]:
    groups = claims.get("cognito:groups")
    if groups is None:
        return ()
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise InvalidClaimError("cognito:groups must be a list of strings")
    return tuple(dict.fromkeys(groups))


def _string(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) else None


def _subject(claims: Mapping[str, Any]) -> str:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise InvalidClaimError("the token has no usable sub claim")
    return sub


def from_token_claims(claims: Mapping[str, Any], *, provider: str = "custom") -> Principal:
    """The Principal of one of tokenward's own verified access tokens."""
    scope = claims.get("scope")
    sid = claims.get("sid")
    return Principal(
        subject=_subject(claims),
        credential_type="access_token",
        email=_string(claims, "email"),
        groups=_groups(claims),
        scopes=split_scopes(scope if isinstance(scope, str) else None),
        provider=provider,
        claims=claims,
        session_id=sid if isinstance(sid, str) and sid else None,
    )


def from_cognito_claims(
    claims: Mapping[str, Any],
    *,
    provider: str = "cognito",
    credential_type: CredentialType = "access_token",
) -> Principal:
    """The Principal of a verified Cognito access or ID token (or of gateway claims, with
    ``credential_type="gateway"``). Cognito's access tokens carry no ``email``; ID tokens do."""
    scope = claims.get("scope")
    return Principal(
        subject=_subject(claims),
        credential_type=credential_type,
        email=_string(claims, "email"),
        groups=_groups(claims),
        scopes=split_scopes(scope if isinstance(scope, str) else None),
        provider=provider,
        claims=claims,
    )


def _read_only(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise TypeError(
        f"this {type(self).__name__} is read-only (it may be shared by several requests): "
        "copy it first, e.g. list(value), dict(value) or copy.deepcopy(value)"
    )


class FrozenList(list[Any]):
    """A list that cannot be changed: equal to the list it was made from, serialised as one,
    but every mutating method raises TypeError. ``copy()``, ``copy.copy`` and ``copy.deepcopy``
    (and pickling) give plain, mutable lists."""

    __slots__ = ()

    append = extend = insert = remove = pop = clear = sort = reverse = _read_only
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only

    def copy(self) -> list[Any]:
        return list(self)

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(v, memo) for v in self]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))


class FrozenDict(dict[str, Any]):
    """A dict that cannot be changed: equal to the dict it was made from, serialised as one,
    but every mutating method raises TypeError. ``copy()``, ``copy.copy`` and ``copy.deepcopy``
    (and pickling) give plain, mutable dicts."""

    __slots__ = ()

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def copy(self) -> dict[str, Any]:
        return dict(self)

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


EMPTY_CLAIMS = FrozenDict()


def freeze(value: Any) -> Any:
    """``value`` (JSON-shaped: dicts, lists, tuples, scalars) made read-only all the way down:
    mappings become :class:`FrozenDict`, lists and tuples :class:`FrozenList`; anything frozen
    already is returned as it is."""
    kind = type(value)
    if kind is FrozenDict or kind is FrozenList:
        return value
    if isinstance(value, Mapping):
        return FrozenDict((k, freeze(v)) for k, v in value.items()) if value else EMPTY_CLAIMS
    if kind is list or kind is tuple:
        return FrozenList(freeze(v) for v in value)
    return value
