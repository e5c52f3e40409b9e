"""tokenward.rotation: the rotation decision and reuse detection, over a real SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tokenward.exceptions import RefreshTokenError
from tokenward.rotation import RefreshRotation, outcome, rotate
from tokenward.sessions import SessionLifecycle
from tokenward.stores import RefreshSession, RotateOutcome, SessionInfo, Store
from tokenward.stores.sqlite import SQLiteStore

NOW = 1_800_000_000.0
HOUR = 3600.0


def _first(session_id: str = "f1") -> tuple[SessionInfo, RefreshSession]:
    token = RefreshSession(
        token_hash=f"{session_id}-t0",
        family_id=session_id,
        subject="u1",
        identity={"email": None, "groups": [], "scopes": []},
        issued_at=NOW,
        expires_at=NOW + HOUR,
    )
    return SessionInfo(id=session_id, subject="u1", started_at=NOW, last_used_at=NOW), token


async def _with_store(path: Path, scenario: Callable[[Store], Awaitable[None]]) -> None:
    store = SQLiteStore(path)
    await store.open()
    try:
        await scenario(store)
    finally:
        await store.close()


def test_outcome_precedence() -> None:
    """Revoked before spent before expired; a spend that happened is ROTATED."""
    token = _first()[1]
    spent_and_revoked = replace(token, spent_at=NOW + 1, revoked_at=NOW + 2)
    assert outcome(None, False) is RotateOutcome.UNKNOWN
    assert outcome(token, True) is RotateOutcome.ROTATED
    assert outcome(spent_and_revoked, False) is RotateOutcome.REVOKED
    spent = replace(token, spent_at=NOW + 1)
    assert outcome(spent, False) is RotateOutcome.SPENT
    assert outcome(token, False) is RotateOutcome.EXPIRED


def test_reuse_revokes_the_family_through_the_lifecycle(tmp_path: Path) -> None:
    """A spent token presented past the grace window: the family is revoked through the
    SessionLifecycle, whose listeners hear it, and the refresh is refused as reused."""
    heard: list[str] = []

    async def scenario(store: Store) -> None:
        info, first = _first()
        await store.start_session(info, first, max_sessions=5, now=NOW)
        clock = [NOW + 1]
        lifecycle = SessionLifecycle(store, clock=lambda: clock[0])
        lifecycle.listen(heard.append)
        rotation = RefreshRotation(lifecycle, reuse_grace=5, clock=lambda: clock[0])
        done = await rotation.refresh(
            "f1-t0", successor_hash="t1", successor_jti="j1", now=NOW + 1, expires_at=NOW + HOUR
        )
        assert (done.jti, done.issued_at, done.duplicate) == ("j1", NOW + 1, False)
        clock[0] = NOW + 3  # within the window, the same successor: the same rotation
        again = await rotation.refresh(
            "f1-t0", successor_hash="t1", successor_jti="j2", now=NOW + 3, expires_at=NOW + HOUR
        )
        assert (again.jti, again.issued_at, again.seen_at, again.duplicate) == (
            "j1",
            NOW + 1,
            NOW + 3,
            True,
        )
        assert heard == []
        clock[0] = NOW + 6  # exactly the window later: reuse
        with pytest.raises(RefreshTokenError) as info_:
            await rotation.refresh(
                "f1-t0", successor_hash="t1", successor_jti="j3", now=NOW + 6, expires_at=NOW + 9
            )
        assert info_.value.reason == "reused"
        assert heard == ["f1"]
        with pytest.raises(RefreshTokenError) as info_:
            await rotation.refresh(
                "t1", successor_hash="t2", successor_jti="j4", now=NOW + 7, expires_at=NOW + 9
            )
        assert info_.value.reason == "revoked"

    asyncio.run(_with_store(tmp_path / "r.db", scenario))


def test_rotate_over_a_store(tmp_path: Path) -> None:
    async def scenario(store: Store) -> None:
        result = await rotate(
            store, "nope", successor_hash="x", successor_jti="j", now=NOW, expires_at=NOW + 1
        )
        assert (result.outcome, result.session) == (RotateOutcome.UNKNOWN, None)
        info, first = _first()
        await store.start_session(info, first, max_sessions=5, now=NOW)
        late = await rotate(
            store, "f1-t0", successor_hash="x", successor_jti="j", now=NOW + HOUR, expires_at=NOW
        )
        assert late.outcome is RotateOutcome.EXPIRED
        assert await store.get_refresh_session("x") is None

    asyncio.run(_with_store(tmp_path / "r.db", scenario))
