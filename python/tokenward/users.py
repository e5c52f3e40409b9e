"""What accounts share with every layer above the stores, framework-free: the one way an email
is normalised.

A user store (:class:`tokenward.stores.UserStore`) compares emails as it is given them, so every
caller (sign-up, sign-in, the password reset, the command line, an import) passes
:func:`normalize_email`'s result and nothing else: two spellings of one address then find one
account, and a second sign-up with ``Alice@Example.COM `` meets the first one's
:class:`~tokenward.exceptions.DuplicateUserError`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tokenward.stores.base import UserRecord
    from tokenward.tokens import ClientInfo, TokenPair

__all__ = ["SecondFactorGate", "SignInUser", "normalize_email"]


class SignInUser(Protocol):
    """The one way an account becomes a session: ``sign_in_user(user, client=..., scope=...,
    amr=...)`` starts a session for ``user`` (already authenticated by the caller: a password, a
    second factor, a passkey, an external provider) and returns its first token pair. ``amr`` is
    how the user proved who they are (RFC 8176 values: ``("pwd",)``, ``("pwd", "otp")``,
    ``("webauthn",)``, ``("ext",)``...). Refuses a disabled user like a wrong password."""

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


def normalize_email(email: str) -> str:
    """``email`` trimmed of surrounding white space, in Unicode NFKC and case-folded
    (``str.casefold``, which also folds ``ß`` to ``ss``), then NFKC again (case folding can
    undo a normal form). The local part is folded too: no mail system in use tells ``Alice``
    from ``alice``, and an account system that did would let two people hold one address.
    Checks nothing else (whether it is an address at all is the caller's question)."""
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    return unicodedata.normalize("NFKC", folded).strip()
