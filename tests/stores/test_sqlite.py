"""The SQLite store: schema and version, WAL, transactions, outcomes, off the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tokenward import ConfigurationError, rotation
from tokenward.stores import (
    ApiKeyRecord,
    Counter,
    RefreshSession,
    RotateOutcome,
    SessionInfo,
    Store,
    StoreError,
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
        assert await store.schema_version() == SCHEMA_VERSION == 8
        await store.close()

    run(scenario())
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {
            "tokenward_schema_version",
            "tokenward_refresh_sessions",
            "tokenward_sessions",
            "tokenward_api_keys",
            "tokenward_api_key_check",
            "tokenward_counters",
        } <= tables
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
        versions = conn.execute("SELECT version FROM tokenward_schema_version").fetchall()
        assert sorted(v[0] for v in versions) == [
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
        ]  # one row per version, each once
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


# A version-1 file exactly as tokenward 0.1 wrote it (its schema, copied here on purpose: the
# migration must keep working on such files whatever the current code looks like).
_V1_SCHEMA = (
    "CREATE TABLE tokenward_schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE tokenward_refresh_sessions (
        token_hash     TEXT PRIMARY KEY,
        family_id      TEXT NOT NULL,
        subject        TEXT NOT NULL,
        identity       TEXT NOT NULL,
        issued_at      REAL NOT NULL,
        expires_at     REAL NOT NULL,
        spent_at       REAL,
        successor_hash TEXT,
        successor_jti  TEXT,
        revoked_at     REAL
    )""",
    "CREATE INDEX tokenward_refresh_sessions_family ON tokenward_refresh_sessions (family_id)",
    "CREATE INDEX tokenward_refresh_sessions_expiry ON tokenward_refresh_sessions (expires_at)",
    "INSERT INTO tokenward_schema_version (version) VALUES (1)",
)


def make_v1_file(path: Path) -> None:
    conn = sqlite3.connect(path)
    with conn:
        for statement in _V1_SCHEMA:
            conn.execute(statement)
        rows = [
            # family f1: logged in at NOW, rotated at NOW + 10 (the live token is h2)
            (
                "h1",
                "f1",
                "u1",
                '{"email":"u1@example.com","groups":[],"scopes":[]}',
                NOW,
                NOW + 3600,
                NOW + 10,
                "h2",
                "j2",
                None,
            ),
            (
                "h2",
                "f1",
                "u1",
                '{"email":"u1@example.com","groups":[],"scopes":[]}',
                NOW + 10,
                NOW + 3610,
                None,
                None,
                None,
                None,
            ),
            # family f2: logged out at NOW + 5
            ("h3", "f2", "u1", "{}", NOW + 1, NOW + 3601, None, None, None, NOW + 5),
        ]
        conn.executemany(
            "INSERT INTO tokenward_refresh_sessions VALUES (?,?,?,?,?,?,?,?,?,?)", rows
        )
    conn.close()


def test_migration_from_version_1(db: Path) -> None:
    make_v1_file(db)

    async def scenario() -> None:
        store = SQLiteStore(db)
        await store.open()
        assert await store.schema_version() == SCHEMA_VERSION
        # the tokens are untouched and still rotate
        old = await store.get_refresh_session("h2")
        assert old is not None
        assert old.identity == {"email": "u1@example.com", "groups": [], "scopes": []}
        # the families became sessions
        assert await store.get_session("f1") == SessionInfo(
            id="f1", subject="u1", started_at=NOW, last_used_at=NOW + 10, expires_at=NOW + 3610
        )
        f2 = await store.get_session("f2")
        assert f2 is not None
        assert f2.revoked_at == NOW + 5
        assert [s.id for s in await store.list_sessions("u1", now=NOW + 20)] == ["f1"]
        result = await rotation.rotate(
            store,
            "h2",
            successor_hash="h4",
            successor_jti="j4",
            now=NOW + 30,
            expires_at=NOW + 3630,
        )
        assert result.outcome is RotateOutcome.ROTATED
        f1 = await store.get_session("f1")
        assert f1 is not None
        assert (f1.last_used_at, f1.expires_at) == (NOW + 30, NOW + 3630)
        # and the new tables work
        await store.add_api_key(
            ApiKeyRecord("k1", "p1", "hash", "n", "u1", None, (), ("read",), created_at=NOW)
        )
        assert await store.hit("c", window=1, now=NOW) == Counter(1, NOW + 1)
        await store.close()

    run(scenario())
    with sqlite3.connect(db) as conn:
        versions = conn.execute("SELECT version FROM tokenward_schema_version").fetchall()
        assert sorted(v[0] for v in versions) == [1, 2, 3, 4, 5, 6, 7, 8]
    conn.close()


def test_two_stores_migrate_one_file_once(db: Path) -> None:
    # Eight connections switching one file to WAL at once: SQLite refuses all but one of them at
    # once, without its busy handler, and the store has to retry (this raced in CI before).
    make_v1_file(db)

    async def scenario() -> None:
        stores = [SQLiteStore(db) for _ in range(8)]
        await asyncio.gather(*(s.open() for s in stores))
        for s in stores:
            assert await s.schema_version() == SCHEMA_VERSION
            await s.close()

    run(scenario())
    with sqlite3.connect(db) as conn:
        versions = conn.execute("SELECT version FROM tokenward_schema_version").fetchall()
        assert sorted(v[0] for v in versions) == [1, 2, 3, 4, 5, 6, 7, 8]
        assert conn.execute("SELECT COUNT(*) FROM tokenward_sessions").fetchone()[0] == 2
    conn.close()


def test_a_failed_migration_leaves_version_1(db: Path) -> None:
    """A table in the way makes the migration fail: the file stays a whole version-1 file."""
    make_v1_file(db)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE tokenward_counters (x INTEGER)")
    conn.close()
    with pytest.raises(StoreError, match="already exists"):
        open_and_close(SQLiteStore(db))
    with sqlite3.connect(db) as conn:
        versions = conn.execute("SELECT version FROM tokenward_schema_version").fetchall()
        assert versions == [(1,)]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "tokenward_sessions" not in tables
    conn.close()


def test_migration_from_version_2_leaves_keys_in_no_group(db: Path) -> None:
    """Issue 20 item 5: version 3 gives API keys groups of their own. A key made before it held
    its owner's groups; it migrates to none (a behaviour change, docs/api-keys.md), and its
    owner's groups stay recorded."""
    make_v1_file(db)
    with sqlite3.connect(db) as conn:  # a version-2 file, as tokenward wrote it before
        from tokenward.stores._sqlite_schema import MIGRATIONS

        for number, statements in MIGRATIONS:
            if number == 2:
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO tokenward_schema_version (version) VALUES (2)")
        conn.execute(
            "INSERT INTO tokenward_api_keys VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            ("k1", "p1", "hash", "old", "u1", None, '["root"]', '["read"]', NOW, None, None, None),
        )
    conn.close()

    async def scenario() -> None:
        store = SQLiteStore(db)
        await store.open()
        assert await store.schema_version() == SCHEMA_VERSION
        old = await store.get_api_key("p1")
        assert old is not None
        assert (old.groups, old.owner_groups, old.scopes) == ((), ("root",), ("read",))
        assert await store.claim_api_key_check("probe", "h", now=NOW) == ("probe", "h")
        await store.close()

    run(scenario())
