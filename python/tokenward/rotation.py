"""Refresh-token rotation and reuse detection, decided once, above every store.

A store offers one atomic primitive for rotation,
:meth:`~tokenward.stores.RefreshSessionStore.spend_refresh_session`: a compare-and-set that
spends a token (and inserts its successor) only when it is live at ``now``, and returns the
token as it was. Everything else is decided here, the same for every backend (SQLite,
PostgreSQL, ``memory://``, one of your own):

* :func:`rotate`: what a spend found, as a :class:`~tokenward.stores.RotateOutcome` (``ROTATED``,
  or why not: ``UNKNOWN``, ``REVOKED``, ``SPENT``, ``EXPIRED``, in that order of precedence);
* :class:`RefreshRotation`: a refresh as :class:`~tokenward.tokens.TokenService` runs it. A
  rotated token mints a new pair; a spent token presented again is a *duplicate* of that rotation
  when it comes strictly less than ``reuse_grace`` seconds after it (the clock read once the store
  has answered, so after PostgreSQL's row lock: a duplicate that waited for the rotation it
  duplicates is measured from it) with the very successor the rotation recorded, and that
  successor still live; it then gets the same pair. Otherwise it is *reuse*: the whole family is
  revoked through the :class:`~tokenward.sessions.SessionLifecycle` (which tells the access-token
  session check) and the refresh is refused with reason ``reused``.

Of concurrent refreshes of one token the store lets exactly one spend it, so one pair is ever
minted per token; the others see it spent and are duplicates (same pair) or reuse.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from tokenward.exceptions import RefreshTokenError
from tokenward.sessions import SessionLifecycle
from tokenward.stores import RefreshSession, RefreshSessionStore, RotateOutcome, RotateResult

__all__ = ["RefreshRotation", "Rotation", "outcome", "rotate"]

_log = logging.getLogger("tokenward")


def outcome(before: RefreshSession | None, spent: bool) -> RotateOutcome:
    """What a spend found: the token as it was before it (None: no token has the hash), and
    whether the spend took place."""
    if before is None:
        return RotateOutcome.UNKNOWN
    if spent:
        return RotateOutcome.ROTATED
    if before.revoked_at is not None:
        return RotateOutcome.REVOKED
    if before.spent_at is not None:
        return RotateOutcome.SPENT
    return RotateOutcome.EXPIRED  # live but for its expiry: the store's condition is is_live(now)


async def rotate(
    store: RefreshSessionStore,
    token_hash: str,
    *,
    successor_hash: str,
    successor_jti: str,
    now: float,
    expires_at: float,
) -> RotateResult:
    """One rotation over ``store``: spend ``token_hash`` at ``now`` for ``successor_hash`` (its
    successor expiring at ``expires_at``) when it is live, and say what was found. Of concurrent
    rotations of one token exactly one is ROTATED; the others see it SPENT."""
    found = await store.spend_refresh_session(
        token_hash,
        successor_hash=successor_hash,
        successor_jti=successor_jti,
        now=now,
        expires_at=expires_at,
    )
    return RotateResult(outcome(found.session, found.spent), found.session)


@dataclass(frozen=True, slots=True)
class Rotation:
    """A refresh that may mint a pair: the presented token as it was (``session``), the access
    token's ``jti`` and issue time ``issued_at`` (the rotation's), and ``seen_at``, when this
    refresh was answered. ``duplicate``: a duplicate within the grace window, which gets the pair
    of the rotation it duplicates."""

    session: RefreshSession
    jti: str
    issued_at: float
    seen_at: float
    duplicate: bool = False


class RefreshRotation:
    """Rotation and reuse detection over ``lifecycle``'s store (see the module's text).
    ``reuse_grace`` is in seconds (0: every duplicate is reuse); ``clock`` gives POSIX seconds."""

    def __init__(
        self,
        lifecycle: SessionLifecycle,
        *,
        reuse_grace: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lifecycle = lifecycle
        self.reuse_grace = float(reuse_grace)
        self._clock = clock

    async def refresh(
        self,
        token_hash: str,
        *,
        successor_hash: str,
        successor_jti: str,
        now: float,
        expires_at: float,
    ) -> Rotation:
        """Rotate ``token_hash`` (see :func:`rotate`): the :class:`Rotation` to mint a pair from,
        or :class:`~tokenward.RefreshTokenError` with reason ``unknown``, ``revoked``,
        ``expired`` or ``reused`` (the family revoked)."""
        result = await rotate(
            self.lifecycle.store,
            token_hash,
            successor_hash=successor_hash,
            successor_jti=successor_jti,
            now=now,
            expires_at=expires_at,
        )
        session = result.session
        if result.outcome is RotateOutcome.ROTATED and session is not None:
            return Rotation(session, successor_jti, now, now)
        if result.outcome is RotateOutcome.SPENT and session is not None:
            # The clock again, now that the store has answered: ``now`` was read before the row
            # lock, so a duplicate that waited for the rotation it duplicates could seem to come
            # before it. The rotation has committed by now, so the time since it is measured.
            return await self._duplicate(session, successor_hash, self._clock())
        if result.outcome is RotateOutcome.REVOKED:
            raise RefreshTokenError("revoked", "the refresh token was revoked")
        if result.outcome is RotateOutcome.EXPIRED:
            raise RefreshTokenError("expired", "the refresh token has expired")
        raise RefreshTokenError("unknown", "the refresh token is not known")

    async def _duplicate(
        self, session: RefreshSession, successor_hash: str, now: float
    ) -> Rotation:
        """A spent token came back: the same pair within the grace window (less than
        ``reuse_grace`` seconds after the rotation; never when it is 0), else revoke all."""
        spent_at = session.spent_at if session.spent_at is not None else 0.0
        if (
            self.reuse_grace > 0
            and now - spent_at < self.reuse_grace
            and session.successor_hash == successor_hash
            and session.successor_jti is not None
        ):
            current = await self.lifecycle.store.get_refresh_session(successor_hash)
            if current is not None and current.is_live(now):
                return Rotation(session, session.successor_jti, spent_at, now, duplicate=True)
        revoked = await self.lifecycle.end_family(session.family_id)
        _log.warning(
            "tokenward: a spent refresh token was presented again; revoked its family "
            "(subject %r, %d live sessions)",
            session.subject,
            revoked,
        )
        raise RefreshTokenError("reused", "the refresh token was already used")
