"""The session life cycle: the one place a session ends.

A session (a login's refresh-token family, see :mod:`tokenward.tokens`) ends in one of these
ways, and every one of them passes :class:`SessionLifecycle`:

* logout (``POST /v1/auth/logout``, ``Auth.logout()``): :meth:`SessionLifecycle.end_family`;
* reuse detection (a spent refresh token presented again): :meth:`SessionLifecycle.end_family`;
* the user ends one session or all others (``DELETE /v1/auth/sessions[/{id}]``):
  :meth:`SessionLifecycle.end` and :meth:`SessionLifecycle.end_others`;
* a login past ``MAX_SESSIONS_PER_USER`` (the store ends the oldest in the login's own
  transaction and returns their ids): :meth:`SessionLifecycle.ended`.

Each updates the store, then tells every listener at once, synchronously, before the call
returns. A listener is a cache that must forget the session: the access-token session check
(``REVOKE_ACCESS_TOKENS``, :class:`tokenward.providers.SessionCheck`) subscribes when it is
built, so this instance refuses the ended session's access tokens from the next request on,
whatever its cache said. Other instances see the end through the store, within their cache's
time to live.

The life cycle is built first and handed to the services that end sessions and to the caches
that listen (constructor arguments, nothing patched in afterwards).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from tokenward.stores import Store

__all__ = ["SessionLifecycle", "SessionListener"]

SessionListener = Callable[[str], None]
"""Hears the id of a session that has just ended. It must not block or raise: it runs inside the
request that ended the session."""


class SessionLifecycle:
    """Ends sessions in ``store`` and tells the listeners (:meth:`listen`) at once."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock
        self._listeners: list[SessionListener] = []

    def __repr__(self) -> str:
        return f"<SessionLifecycle listeners={len(self._listeners)}>"

    def listen(self, listener: SessionListener) -> None:
        """From now on ``listener`` hears every session this life cycle ends."""
        self._listeners.append(listener)

    @property
    def listened(self) -> bool:
        """Whether anyone listens (when nobody does, no extra store read is made to tell them)."""
        return bool(self._listeners)

    def ended(self, session_ids: Iterable[str]) -> None:
        """Sessions the store has already ended (a login past the session cap): tell the
        listeners."""
        for session_id in session_ids:
            for listener in self._listeners:
                listener(session_id)

    async def end_family(self, family_id: str) -> int:
        """End the session ``family_id`` and revoke all its refresh tokens (logout, reuse
        detection); returns how many tokens were still unrevoked."""
        revoked = await self.store.revoke_refresh_family(family_id, now=self._clock())
        self.ended((family_id,))
        return revoked

    async def end(self, subject: str, session_id: str) -> bool:
        """End one live session of ``subject``; False (and nobody told) when it has no such
        live session."""
        done = await self.store.revoke_session(session_id, subject=subject, now=self._clock())
        if done:
            self.ended((session_id,))
        return done

    async def end_others(self, subject: str, keep: str | None) -> int:
        """End every live session of ``subject`` but ``keep``; returns how many."""
        ending: list[str] = []
        if self._listeners:  # the store returns a count: the ids are read first
            now = self._clock()
            ending = [
                s.id for s in await self.store.list_sessions(subject, now=now) if s.id != keep
            ]
        count = await self.store.revoke_sessions(subject, now=self._clock(), keep=keep)
        self.ended(ending)
        return count

    async def is_live(self, session_id: str) -> bool:
        """Whether the session exists and is neither revoked nor past its last token's expiry."""
        info = await self.store.get_session(session_id)
        now = self._clock()
        return (
            info is not None
            and info.revoked_at is None
            and (info.expires_at is None or now < info.expires_at)
        )
