"""Tokens of the custom (debug) provider, and refresh-token rotation over a store.

The cryptography lives in the native core (:class:`tokenward._core.DebugTokens`): access tokens
are HS256 JWTs with header ``typ: at+jwt`` and claim ``token_use: access``; refresh tokens are
``twr_`` plus 256 random bits, stored only as an HMAC. This module adds the session logic:

* a login starts a *family* of refresh tokens;
* a refresh spends the presented token and issues a new pair (rotation);
* presenting a spent token again revokes the whole family (reuse detection), except within a
  short grace window, where a duplicate of the same refresh gets the very same new pair, so two
  tabs refreshing at once do not sign the user out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tokenward._core import DebugTokens
from tokenward.exceptions import ConfigurationError, RefreshTokenError
from tokenward.principal import Principal, split_scopes
from tokenward.stores import RefreshSession, RotateOutcome, Store

__all__ = [
    "DebugTokens",
    "RefreshTokenError",
    "TokenPair",
    "TokenService",
    "split_scopes",
]

_log = logging.getLogger("tokenward")


def _principal(session: RefreshSession) -> Principal:
    """The user a refresh session speaks for, as its access tokens describe it."""
    data = session.identity
    email = data.get("email")
    return Principal(
        subject=session.subject,
        credential_type="access_token",
        email=email if isinstance(email, str) else None,
        groups=_strings(data.get("groups")),
        scopes=_strings(data.get("scopes")),
    )


def _identity_json(who: Principal) -> dict[str, Any]:
    """What a session keeps of its user, copied along the family."""
    return {"email": who.email, "groups": list(who.groups), "scopes": list(who.scopes)}


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(v for v in value if isinstance(v, str))
    return ()


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }


class TokenService:
    """Issues, verifies and rotates the custom provider's tokens.

    ``access_lifetime`` and ``refresh_lifetime`` are in seconds; each refresh token lives
    ``refresh_lifetime`` from its own issue (a sliding window). ``reuse_grace`` is how long after a
    rotation a duplicate of the same refresh token still gets the same new pair.
    """

    def __init__(
        self,
        tokens: DebugTokens,
        store: Store,
        *,
        access_lifetime: int = 15 * 60,
        refresh_lifetime: int = 7 * 24 * 3600,
        reuse_grace: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if access_lifetime <= 0 or refresh_lifetime <= 0:
            raise ConfigurationError("token lifetimes must be positive")
        if reuse_grace < 0:
            raise ConfigurationError("the refresh reuse grace window must not be negative")
        self.tokens = tokens
        self.store = store
        self.access_lifetime = int(access_lifetime)
        self.refresh_lifetime = int(refresh_lifetime)
        self.reuse_grace = float(reuse_grace)
        self._clock = clock

    # --- access tokens ------------------------------------------------------------------------

    def issue_access(
        self, who: Principal, *, iat: int | None = None, jti: str | None = None
    ) -> str:
        return self.tokens.issue_access(
            who.subject,
            email=who.email,
            groups=who.groups,
            scopes=who.scopes,
            lifetime=self.access_lifetime,
            iat=int(self._clock()) if iat is None else iat,
            jti=jti,
        )

    def verify_access(self, token: str | bytes) -> dict[str, Any]:
        """The claims of a valid access token; :class:`InvalidTokenError` otherwise."""
        return self.tokens.verify_access(token, now=self._clock())

    # --- sessions -----------------------------------------------------------------------------

    async def start(self, who: Principal) -> TokenPair:
        """A login: a new refresh-token family and a first pair."""
        now = self._clock()
        refresh = DebugTokens.new_refresh_token()
        await self.store.add_refresh_session(
            RefreshSession(
                token_hash=self.tokens.refresh_token_hash(refresh),
                family_id=DebugTokens.random_id(16),
                subject=who.subject,
                identity=_identity_json(who),
                issued_at=now,
                expires_at=now + self.refresh_lifetime,
            )
        )
        iat = int(now)
        return TokenPair(self.issue_access(who, iat=iat), refresh, self.access_lifetime)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: spend ``refresh_token`` and return a new pair, or raise RefreshTokenError."""
        if not DebugTokens.is_refresh_token(refresh_token):
            raise RefreshTokenError("malformed", "not a refresh token")
        now = self._clock()
        token_hash = self.tokens.refresh_token_hash(refresh_token)
        successor = self.tokens.successor_refresh_token(refresh_token)
        successor_hash = self.tokens.refresh_token_hash(successor)
        jti = DebugTokens.random_id(16)
        result = await self.store.rotate_refresh_session(
            token_hash,
            successor_hash=successor_hash,
            successor_jti=jti,
            now=now,
            expires_at=now + self.refresh_lifetime,
        )
        session = result.session
        if result.outcome is RotateOutcome.ROTATED and session is not None:
            who = _principal(session)
            return TokenPair(
                self.issue_access(who, iat=int(now), jti=jti), successor, self.access_lifetime
            )
        if result.outcome is RotateOutcome.SPENT and session is not None:
            return await self._duplicate(session, successor, successor_hash, now)
        if result.outcome is RotateOutcome.REVOKED:
            raise RefreshTokenError("revoked", "the refresh token was revoked")
        if result.outcome is RotateOutcome.EXPIRED:
            raise RefreshTokenError("expired", "the refresh token has expired")
        raise RefreshTokenError("unknown", "the refresh token is not known")

    async def _duplicate(
        self, session: RefreshSession, successor: str, successor_hash: str, now: float
    ) -> TokenPair:
        """A spent token came back: the same pair within the grace window, else revoke all."""
        spent_at = session.spent_at if session.spent_at is not None else 0.0
        if (
            now - spent_at <= self.reuse_grace
            and session.successor_hash == successor_hash
            and session.successor_jti is not None
        ):
            current = await self.store.get_refresh_session(successor_hash)
            if current is not None and current.is_live(now):
                iat = int(spent_at)
                who = _principal(session)
                access = self.issue_access(who, iat=iat, jti=session.successor_jti)
                expires_in = max(0, iat + self.access_lifetime - int(now))
                return TokenPair(access, successor, expires_in)
        revoked = await self.store.revoke_refresh_family(session.family_id, now=now)
        _log.warning(
            "tokenward: a spent refresh token was presented again; revoked its family "
            "(subject %r, %d live sessions)",
            session.subject,
            revoked,
        )
        raise RefreshTokenError("reused", "the refresh token was already used")

    async def revoke(self, refresh_token: str) -> bool:
        """Logout: revoke the family of ``refresh_token``. False when the token is not known."""
        if not DebugTokens.is_refresh_token(refresh_token):
            return False
        session = await self.store.get_refresh_session(
            self.tokens.refresh_token_hash(refresh_token)
        )
        if session is None:
            return False
        await self.store.revoke_refresh_family(session.family_id, now=self._clock())
        return True
