"""Auth providers: who issues the access tokens a backend accepts, and how they are checked.

A provider turns a bearer access token into a :class:`~tokenward.principal.Principal`, or raises
an :class:`~tokenward.InvalidTokenError` (the token's fault: 401) or another
:class:`~tokenward.TokenwardError` when it cannot decide (keys unavailable: 503). Two exist:

* :class:`CustomProvider`: tokenward's own tokens (HMAC, through the native ``DebugTokens``),
  with one debug user whose credentials come from the settings, for local development;
* :class:`CognitoProvider`: a Cognito user pool's tokens, checked by a
  :class:`~tokenward.CognitoVerifier`.

Nothing here imports a web framework; the FastAPI layer wraps a provider in a strategy.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tokenward.caches import PrincipalMemo
from tokenward.cognito import CognitoVerifier
from tokenward.exceptions import InvalidTokenError
from tokenward.principal import (
    Principal,
    from_cognito_claims,
    from_token_claims,
    split_scopes,
)
from tokenward.sessions import SessionLifecycle
from tokenward.tokens import ClientInfo, TokenPair, TokenService

if TYPE_CHECKING:
    from tokenward.settings import AuthSettings

__all__ = [
    "AuthProvider",
    "CognitoProvider",
    "CustomProvider",
    "DebugUser",
    "SessionCheck",
    "debug_subject",
]

DEFAULT_MEMO_SIZE = 1024
"""Principals a provider remembers by token (:class:`~tokenward.caches.PrincipalMemo`)."""


def debug_subject(email: str) -> str:
    """The debug user's subject: a UUID derived from its email, shaped like Cognito's."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "tokenward:debug:" + email.lower()))


@runtime_checkable
class AuthProvider(Protocol):
    """Turns an access token into the principal it was issued to."""

    @property
    def name(self) -> str: ...

    async def authenticate(self, token: str) -> Principal: ...


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class CognitoProvider:
    """Access (or ID) tokens of a Cognito user pool, checked by a :class:`CognitoVerifier`.

    Key fetches await; a key set that cannot be had raises KeySetUnavailableError (503).
    ``memo_size`` tokens keep the Principal made from them (every token is still verified on
    every request; see :class:`~tokenward.caches.PrincipalMemo`); 0 turns that off."""

    name = "cognito"

    def __init__(self, verifier: CognitoVerifier, *, memo_size: int = DEFAULT_MEMO_SIZE) -> None:
        self.verifier = verifier
        self.memo = PrincipalMemo(memo_size)
        self._mapper = functools.partial(from_cognito_claims, provider=self.name)

    @property
    def issuers(self) -> tuple[str, ...]:
        """The issuers of the pools it accepts (a token naming another is not its own)."""
        return tuple(self.verifier.issuers)

    async def authenticate(self, token: str) -> Principal:
        principal = self.memo.get(token)
        if principal is not None:  # accepted before: checked again, the claims not rebuilt
            await self.verifier.recheck_async(token)
            return principal
        claims = await self.verifier.verify_async(token)
        return self.memo.principal(token, claims, self._mapper)


class SessionCheck:
    """``REVOKE_ACCESS_TOKENS``: an access token is good only while its session (``sid``) is
    live in the store. What the store said is remembered for ``ttl`` seconds per session, so the
    cost is one store read per session per ``ttl``, and a session ended on another instance stops
    its access tokens here within ``ttl``. It listens to ``lifecycle`` (the life cycle every
    session ending on this instance passes), so a session ended here stops its access tokens
    here at once, cache or not."""

    def __init__(
        self,
        lifecycle: SessionLifecycle,
        *,
        ttl: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lifecycle = lifecycle
        self.ttl = float(ttl)
        self._clock = clock
        self._seen: dict[str, tuple[bool, float]] = {}
        lifecycle.listen(self.forget)

    async def check(self, principal: Principal) -> None:
        sid = principal.session_id
        if sid is None:
            raise InvalidTokenError("the access token names no session")
        now = self._clock()
        seen = self._seen.get(sid)
        if seen is None or now - seen[1] >= self.ttl:
            if len(self._seen) > 100_000:
                self._seen.clear()
            live = await self.lifecycle.is_live(sid)
            ended = self._seen.get(sid)
            if ended is not None and not ended[0]:
                live = False  # it ended here while the store was read: an end is for good
            seen = (live, now)
            self._seen[sid] = seen
        if not seen[0]:
            raise InvalidTokenError("the access token's session has ended")

    def forget(self, session_id: str) -> None:
        """``session_id`` has ended on this instance: stop its tokens here at once (the life
        cycle calls it)."""
        self._seen[session_id] = (False, self._clock())


class DebugUser:
    """The custom provider's one debug user, read from the settings (``DEBUG_EMAIL``,
    ``DEBUG_PASSWORD``, ``DEBUG_GROUPS``, ``DEBUG_SCOPES``). It needs nothing but the settings,
    so it is built before the :class:`~tokenward.tokens.TokenService` whose refreshes it
    re-identifies (:meth:`reidentify` is handed to the service at construction)."""

    def __init__(self, settings: AuthSettings) -> None:
        self._settings = settings
        self.email = settings.debug_email
        self._email_digest = _digest(settings.debug_email.strip().casefold())
        self._password_digest = _digest(settings.debug_password.get_secret_value())
        self.subject = debug_subject(self.email)

    def reidentify(self, who: Principal, requested_scope: str | None) -> Principal:
        """The user a refresh mints for: the debug user is read again from the settings (a
        changed group or scope takes effect at the next refresh); anyone else as recorded."""
        if who.subject != self.subject:
            return who
        return dataclasses.replace(self.identity(requested_scope), session_id=who.session_id)

    def check_credentials(self, email: str, password: str) -> bool:
        """Constant time, and both comparisons always run: the answer and its timing do not say
        which of the two was wrong."""
        email_ok = hmac.compare_digest(_digest(email.strip().casefold()), self._email_digest)
        password_ok = hmac.compare_digest(_digest(password), self._password_digest)
        return email_ok & password_ok

    def identity(self, requested_scope: str | None = None) -> Principal:
        """The debug user, with the requested scopes it may have (all of them when none asked).
        Groups and scopes are read from the settings each time, so a refresh picks up a change."""
        allowed = self._settings.debug_user_scopes
        requested = split_scopes(requested_scope)
        scopes = allowed if not requested else tuple(s for s in requested if s in allowed)
        return Principal(
            subject=self.subject,
            credential_type="access_token",
            email=self.email,
            groups=self._settings.groups,
            scopes=scopes,
            provider=CustomProvider.name,
        )


class CustomProvider:
    """tokenward's own tokens, and one debug user whose credentials come from the settings.

    ``session_check`` (``REVOKE_ACCESS_TOKENS``) makes every access token's session count;
    ``memo_size`` is as for :class:`CognitoProvider`; ``user`` is the debug user (built from
    ``settings`` when None: pass the one whose ``reidentify`` the service was given)."""

    name = "custom"

    def __init__(
        self,
        service: TokenService,
        settings: AuthSettings,
        *,
        session_check: SessionCheck | None = None,
        memo_size: int = DEFAULT_MEMO_SIZE,
        user: DebugUser | None = None,
    ) -> None:
        self.service = service
        self.session_check = session_check
        self.memo = PrincipalMemo(memo_size)
        self._mapper = functools.partial(from_token_claims, provider=self.name)
        self.user = DebugUser(settings) if user is None else user
        self.reidentify = self.user.reidentify
        self.check_credentials = self.user.check_credentials
        self.identity = self.user.identity

    @property
    def issuers(self) -> tuple[str, ...]:
        """The issuer of its tokens (``TOKEN_ISSUER``)."""
        return (self.service.tokens.issuer,)

    @property
    def subject(self) -> str:
        """The debug user's subject (a UUID derived from its email)."""
        return self.user.subject

    async def authenticate(self, token: str) -> Principal:
        principal = self.memo.get(token)
        if principal is not None:
            self.service.check_access(token)  # still checked: only the claims are not rebuilt
        else:
            claims = self.service.verify_access(token)
            principal = self.memo.principal(token, claims, self._mapper)
        if self.session_check is not None:
            await self.session_check.check(principal)
        return principal

    async def login(
        self,
        email: str,
        password: str,
        scope: str | None = None,
        *,
        client: ClientInfo | None = None,
    ) -> TokenPair | None:
        """A new session for the debug user, or None when the credentials are wrong."""
        if not self.check_credentials(email, password):
            return None
        return await self.service.start(self.identity(scope), client=client, requested_scope=scope)
