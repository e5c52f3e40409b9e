"""The SQLite store: schema and version, WAL, transactions, outcomes, off the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tokenward import ConfigurationError
from tokenward.stores import (
    RefreshSession,
    RotateOutcome,
    Store,
    StoreError,
    open_store,
)
from tokenward.stores.sqlite import SCHEMA_VERSION, SQLiteStore

NOW = 1_800_000_000.0


def session(token_hash: str = "h1", family: str = "f1", **changes: Any) -> RefreshSession:
    values: dict[str, Any] = {
        "token_hash": token_hash,
        "family_id": family,
        "subject": "u1",
        "identity": {"email": "u1@example.com", "groups": ["root"], "scopes": []},
        "issued_at": NOW,
        "expires_at": NOW + 3600,
    }
    values.update(changes)
    return RefreshSession(**values)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "tokenward.db"


def test_is_a_store() -> None:
    assert isinstance(SQLiteStore(), Store)


def test_schema_is_created_with_a_version(db: Path) -> None:
    async def scenario() -> None:
        store = SQLiteStore(db)
        await store.open()
        assert await store.schema_version() == SCHEMA_VERSION == 1
        await store.close()

    run(scenario())
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"tokenward_schema_version", "tokenward_refresh_sessions"} <= tables
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_reopening_keeps_data_and_does_not_migrate_twice(db: Path) -> None:
    async def scenario() -> None:
        store = SQLiteStore(db)
        await store.add_refresh_session(session())
        await store.close()
        again = SQLiteStore(db)
        assert await again.get_refresh_session("h1") == session()
        await again.close()
        # a closed store opens again on use
        assert await again.get_refresh_session("h1") is not None
        await again.close()

    run(scenario())
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM tokenward_schema_version").fetchone()[0] == 1
    conn.close()


def open_and_close(store: SQLiteStore) -> None:
    async def scenario() -> None:
        try:
            await store.open()
        finally:
            await store.close()

    run(scenario())


def test_newer_schema_is_refused(db: Path) -> None:
    open_and_close(SQLiteStore(db))
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO tokenward_schema_version (version) VALUES (99)")
    conn.close()
    with pytest.raises(ConfigurationError, match="schema version 99"):
        open_and_close(SQLiteStore(db))


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        open_and_close(SQLiteStore(tmp_path / "no" / "such" / "dir.db"))


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an sqlite file" * 100)
    with pytest.raises(StoreError):
        open_and_close(SQLiteStore(path))


def test_add_and_get() -> None:
    async def scenario() -> None:
        store = SQLiteStore(":memory:")
        assert await store.get_refresh_session("h1") is None
        await store.add_refresh_session(session())
        assert await store.get_refresh_session("h1") == session()
        with pytest.raises(StoreError):
            await store.add_refresh_session(session())  # same hash twice
        await store.close()

    run(scenario())


def test_rotate_outcomes() -> None:
    async def scenario() -> None:
        store = SQLiteStore(":memory:")
        await store.add_refresh_session(session())

        async def rotate(h: str, new: str, now: float = NOW + 10) -> Any:
            return await store.rotate_refresh_session(
                h, successor_hash=new, successor_jti="j-" + new, now=now, expires_at=now + 3600
            )

        result = await rotate("h1", "h2")
        assert result.outcome is RotateOutcome.ROTATED
        assert result.session == session()
        spent = await store.get_refresh_session("h1")
        assert spent is not None
        assert (spent.spent_at, spent.successor_hash, spent.successor_jti) == (
            NOW + 10,
            "h2",
            "j-h2",
        )
        successor = await store.get_refresh_session("h2")
        assert successor is not None
        assert successor.family_id == "f1"
        assert successor.identity == session().identity
        assert (successor.issued_at, successor.expires_at) == (NOW + 10, NOW + 3610)
        assert successor.is_live(NOW + 11)

        again = await rotate("h1", "h3")
        assert again.outcome is RotateOutcome.SPENT
        assert await store.get_refresh_session("h3") is None

        assert (await rotate("nope", "h4")).outcome is RotateOutcome.UNKNOWN
        assert (await rotate("h2", "h5", now=NOW + 4000)).outcome is RotateOutcome.EXPIRED

        assert await store.revoke_refresh_family("f1", now=NOW + 20) == 2
        assert await store.revoke_refresh_family("f1", now=NOW + 30) == 0
        assert (await rotate("h2", "h6")).outcome is RotateOutcome.REVOKED
        assert (await rotate("h1", "h7")).outcome is RotateOutcome.REVOKED
        await store.close()

    run(scenario())


def test_a_failed_rotation_changes_nothing() -> None:
    """The successor insert fails (its hash exists): the spend is rolled back with it."""

    async def scenario() -> None:
        store = SQLiteStore(":memory:")
        await store.add_refresh_session(session("h1"))
        await store.add_refresh_session(session("taken", family="f2"))
        with pytest.raises(StoreError):
            await store.rotate_refresh_session(
                "h1", successor_hash="taken", successor_jti="j", now=NOW, expires_at=NOW + 60
            )
        still = await store.get_refresh_session("h1")
        assert still is not None
        assert still.spent_at is None
        await store.close()

    run(scenario())


def test_revoke_touches_one_family_only() -> None:
    async def scenario() -> None:
        store = SQLiteStore(":memory:")
        await store.add_refresh_session(session("a", family="f1"))
        await store.add_refresh_session(session("b", family="f2"))
        assert await store.revoke_refresh_family("f1", now=NOW) == 1
        b = await store.get_refresh_session("b")
        assert b is not None
        assert b.revoked_at is None
        await store.close()

    run(scenario())


def test_purge() -> None:
    async def scenario() -> None:
        store = SQLiteStore(":memory:")
        await store.add_refresh_session(session("old", expires_at=NOW - 1))
        await store.add_refresh_session(session("new", expires_at=NOW + 1))
        assert await store.purge_refresh_sessions(before=NOW) == 1
        assert await store.get_refresh_session("old") is None
        assert await store.get_refresh_session("new") is not None
        await store.close()

    run(scenario())


def test_concurrent_rotations_rotate_once(db: Path) -> None:
    async def scenario() -> None:
        store = SQLiteStore(db)
        await store.add_refresh_session(session())
        results = await asyncio.gather(
            *(
                store.rotate_refresh_session(
                    "h1", successor_hash=f"s{i}", successor_jti="j", now=NOW, expires_at=NOW + 60
                )
                for i in range(20)
            )
        )
        outcomes = [r.outcome for r in results]
        assert outcomes.count(RotateOutcome.ROTATED) == 1
        assert outcomes.count(RotateOutcome.SPENT) == 19
        await store.close()

    run(scenario())


def test_two_stores_on_one_file(db: Path) -> None:
    """Two connections (as two worker processes would have) see each other's writes."""

    async def scenario() -> None:
        a, b = SQLiteStore(db), SQLiteStore(db)
        await a.add_refresh_session(session())
        result = await b.rotate_refresh_session(
            "h1", successor_hash="h2", successor_jti="j", now=NOW, expires_at=NOW + 60
        )
        assert result.outcome is RotateOutcome.ROTATED
        spent = await a.get_refresh_session("h1")
        assert spent is not None
        assert spent.spent_at == NOW
        await a.close()
        await b.close()

    run(scenario())


def test_sqlite_runs_off_the_event_loop(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow disk does not stall the loop: a ticker keeps ticking during a slow query."""
    threads: set[str] = set()
    real_connect = sqlite3.connect

    def slow_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        threads.add(threading.current_thread().name)
        time.sleep(0.3)
        conn: sqlite3.Connection = real_connect(*args, **kwargs)
        return conn

    monkeypatch.setattr(sqlite3, "connect", slow_connect)

    async def scenario() -> int:
        ticks = 0
        store = SQLiteStore(db)

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        await store.open()
        task.cancel()
        await store.close()
        return ticks

    assert run(scenario()) >= 10
    assert threads and all(name.startswith("tokenward-sqlite") for name in threads)


def test_memory_store_needs_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    open_and_close(SQLiteStore(":memory:"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "path"),
    [
        (":memory:", ":memory:"),
        ("sqlite://:memory:", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:////abs/olute.db", "/abs/olute.db"),
        ("plain/path.db", "plain/path.db"),
    ],
)
def test_open_store(url: str, path: str) -> None:
    store = open_store(url)
    assert isinstance(store, SQLiteStore)
    assert store.path == path


@pytest.mark.parametrize("url", ["postgresql://h/db", "redis://x", "sqlite://rel.db", "", "   "])
def test_open_store_refuses(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_store(url)
