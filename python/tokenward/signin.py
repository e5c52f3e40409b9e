"""The seams between the ways a person proves who they are and the session that follows.

Password sign-in (:mod:`tokenward.accounts`), second factors, passkeys and external providers
each authenticate a user record in their own way; all of them then start the session through
one :class:`SignInUser`, so a session, its token pair and its ``amr`` are made in one place.
Password sign-in asks a :class:`SecondFactorGate`, when there is one, before it does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tokenward.stores.base import UserRecord
    from tokenward.tokens import ClientInfo, TokenPair

__all__ = ["SecondFactorGate", "SignInUser"]


class SignInUser(Protocol):
    """``sign_in_user(user, client=..., scope=..., amr=...)`` starts a session for ``user``
    (already authenticated by the caller: a password, a second factor, a passkey, an external
    provider) and returns its first token pair. ``amr`` is how the user proved who they are
    (RFC 8176 values: ``("pwd",)``, ``("pwd", "otp")``, ``("webauthn",)``, ``("ext",)``...).
    Refuses a disabled user as it would a wrong password."""

    async def __call__(
        self,
        user: UserRecord,
        *,
        client: ClientInfo | None = None,
        scope: str | None = None,
        amr: Sequence[str] = ("pwd",),
    ) -> TokenPair: ...


class SecondFactorGate(Protocol):
    """What password sign-in asks before it starts a session: whether ``user`` has a second
    factor on, and if so a short-lived ``mfa_token`` that the challenge route exchanges, with a
    code, for the session (through :class:`SignInUser`)."""

    async def required(self, user: UserRecord) -> bool: ...

    async def begin(
        self, user: UserRecord, *, client: ClientInfo | None = None, scope: str | None = None
    ) -> str: ...
