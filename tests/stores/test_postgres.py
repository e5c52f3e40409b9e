"""What only the PostgreSQL store does: advisory-locked migration, outages, timeouts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from tests.pg_server import PostgresServer

from tokenward import ConfigurationError, rotation
from tokenward.stores import RefreshSession, RotateOutcome, StoreError
from tokenward.stores.postgres import MIGRATION_LOCK, SCHEMA_VERSION, PostgresStore

NOW = 1_800_000_000.0


def token(token_hash: str = "h1") -> RefreshSession:
    return RefreshSession(token_hash, "f1", "u1", {"email": None}, NOW, NOW + 3600)


def versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version FROM tokenward_schema_version").fetchall()
    return sorted(r[0] for r in rows)


def test_schema_is_created_once(pg_url: str) -> None:
    async def scenario() -> None:
        store = PostgresStore(pg_url)
        await store.open()
        assert await store.schema_version() == SCHEMA_VERSION == 8
        await store.close()
        again = PostgresStore(pg_url)
        await again.open()
        await again.close()

    asyncio.run(scenario())
    assert versions(pg_url) == [2, 3, 4, 5, 6, 7, 8]
    with psycopg.connect(pg_url) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE tablename LIKE 'tokenward_%'"
            )
        }
    assert tables == {
        "tokenward_schema_version",
        "tokenward_refresh_sessions",
        "tokenward_sessions",
        "tokenward_role_assignments",
        "tokenward_resource_closure",
        "tokenward_api_keys",
        "tokenward_api_key_check",
        "tokenward_counters",
        "tokenward_users",
        "tokenward_user_tokens",
        "tokenward_linked_identities",
        "tokenward_oauth_states",
        "tokenward_passkeys",
        "tokenward_passkey_challenges",
        "tokenward_mfa_totp",
        "tokenward_mfa_recovery_codes",
        "tokenward_mfa_pending",
    }


def test_newer_schema_is_refused(pg_url: str) -> None:
    asyncio.run(PostgresStore(pg_url).close())  # nothing opened: close is harmless

    async def open_close() -> None:
        store = PostgresStore(pg_url)
        try:
            await store.open()
        finally:
            await store.close()

    asyncio.run(open_close())
    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO tokenward_schema_version (version) VALUES (99)")
    with pytest.raises(ConfigurationError, match="schema version 99"):
        asyncio.run(open_close())


def test_concurrent_open_migrates_once(pg_url: str) -> None:
    """Several pools (as several instances would have) open a fresh database at once."""

    async def scenario() -> None:
        stores = [PostgresStore(pg_url, min_size=1, max_size=2) for _ in range(6)]
        try:
            await asyncio.gather(*(s.open() for s in stores))
            for s in stores:
                assert await s.schema_version() == SCHEMA_VERSION
        finally:
            for s in stores:
                await s.close()

    asyncio.run(scenario())
    assert versions(pg_url) == [2, 3, 4, 5, 6, 7, 8]


def test_migration_from_version_2_leaves_keys_in_no_group(pg_url: str) -> None:
    """Issue 20 item 5: on open, a version-2 database migrates to version 3, where API keys
    have groups of their own; a key made before held its owner's groups and now holds none."""
    from tokenward.stores.postgres import _MIGRATIONS

    with psycopg.connect(pg_url, autocommit=True) as conn:  # a version-2 database
        conn.execute("CREATE TABLE tokenward_schema_version (version INTEGER NOT NULL)")
        for statement in dict(_MIGRATIONS)[2]:
            conn.execute(statement)
        conn.execute("INSERT INTO tokenward_schema_version (version) VALUES (2)")
        conn.execute(
            "INSERT INTO tokenward_api_keys VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            ("k1", "p1", "hash", "old", "u1", None, ["root"], ["read"], NOW, None, None, None),
        )

    async def scenario() -> None:
        store = PostgresStore(pg_url)
        await store.open()
        assert await store.schema_version() == SCHEMA_VERSION
        old = await store.get_api_key("p1")
        assert old is not None
        assert (old.groups, old.owner_groups, old.scopes) == ((), ("root",), ("read",))
        await store.close()

    asyncio.run(scenario())
    assert versions(pg_url) == [2, 3, 4, 5, 6, 7, 8]


_OPEN_IN_A_PROCESS = """
import asyncio, sys
from tokenward.stores.postgres import PostgresStore

async def main():
    store = PostgresStore(sys.argv[1])
    await store.open()
    print(await store.schema_version())
    await store.close()

asyncio.run(main())
"""


def test_two_processes_open_a_fresh_database_at_once(pg_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_IN_A_PROCESS, pg_url],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == "8"
    assert versions(pg_url) == [2, 3, 4, 5, 6, 7, 8]


def test_migration_waits_for_the_advisory_lock(pg_url: str) -> None:
    """While another session holds the migration lock, open() waits; then it goes on."""

    async def scenario() -> None:
        holder = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
        await holder.execute(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
        store = PostgresStore(pg_url)  # default timeouts: the migration has 60 s of its own
        try:
            opening = asyncio.create_task(store.open())
            done, _ = await asyncio.wait({opening}, timeout=1.0)
            assert not done  # still waiting for the lock
            await holder.execute(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
            await opening
            assert await store.schema_version() == SCHEMA_VERSION
        finally:
            await holder.close()
            await store.close()

    asyncio.run(scenario())


def test_unreadable_url_and_bad_settings() -> None:
    with pytest.raises(ConfigurationError):
        PostgresStore("postgresql://127.0.0.1/db?nonsense")
    with pytest.raises(ConfigurationError):
        PostgresStore("postgresql://127.0.0.1/db", min_size=5, max_size=2)
    with pytest.raises(ConfigurationError):
        PostgresStore("postgresql://127.0.0.1/db", pool_timeout=0)


def test_repr_hides_the_password() -> None:
    store = PostgresStore("postgresql://app:hunter2@127.0.0.1:6543/auth")
    assert repr(store) == "PostgresStore('127.0.0.1:6543/auth')"


def lock_row(url: str, token_hash: str) -> psycopg.Connection[Any]:
    """A connection holding the row lock of one refresh token until it is closed."""
    conn = psycopg.connect(url)
    conn.execute(
        "SELECT 1 FROM tokenward_refresh_sessions WHERE token_hash = %s FOR UPDATE", (token_hash,)
    )
    return conn


def test_statement_timeout(pg_url: str) -> None:
    """A statement stuck on a lock fails after statement_timeout; the pool stays usable."""

    async def scenario() -> None:
        store = PostgresStore(pg_url, statement_timeout=1.0)
        await store.add_refresh_session(token())
        holder = lock_row(pg_url, "h1")
        try:
            with pytest.raises(StoreError, match="statement timeout"):
                await rotation.rotate(
                    store,
                    "h1",
                    successor_hash="h2",
                    successor_jti="j",
                    now=NOW,
                    expires_at=NOW + 60,
                )
        finally:
            holder.close()
        result = await rotation.rotate(
            store, "h1", successor_hash="h2", successor_jti="j", now=NOW, expires_at=NOW + 60
        )
        assert result.outcome is RotateOutcome.ROTATED
        await store.close()

    asyncio.run(scenario())


def test_operation_timeout(pg_url: str) -> None:
    """With the server-side timeout off, the client-side one still ends the call."""

    async def scenario() -> None:
        store = PostgresStore(pg_url, statement_timeout=0, operation_timeout=2.0, max_size=1)
        await store.add_refresh_session(token())
        holder = lock_row(pg_url, "h1")
        try:
            with pytest.raises(StoreError, match=r"no answer within 2 s"):
                await rotation.rotate(
                    store,
                    "h1",
                    successor_hash="h2",
                    successor_jti="j",
                    now=NOW,
                    expires_at=NOW + 60,
                )
        finally:
            holder.close()
        # the one pooled connection was cancelled cleanly or replaced: the store works
        assert await store.get_refresh_session("h2") is None
        result = await rotation.rotate(
            store, "h1", successor_hash="h2", successor_jti="j", now=NOW, expires_at=NOW + 60
        )
        assert result.outcome is RotateOutcome.ROTATED
        await store.close()

    asyncio.run(scenario())


# --- outages: a server of their own, stopped and started -------------------------------------


@pytest.fixture(scope="module")
def own_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


async def eventually(call: Any, *, within: float = 90.0) -> Any:
    """The first answer of ``call()`` that is not a StoreError (a generous bound, not a
    measurement)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await call()
        except StoreError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def test_store_error_while_down_and_recovery(own_server: PostgresServer) -> None:
    url = own_server.create_database("outage")

    async def scenario() -> None:
        store = PostgresStore(url, pool_timeout=1, connect_timeout=1, min_size=2)
        await store.add_refresh_session(token())
        own_server.stop()
        try:
            with pytest.raises(StoreError):
                await store.get_refresh_session("h1")
            with pytest.raises(StoreError):
                await store.hit("k", window=60, now=NOW)
            with pytest.raises(StoreError):
                await rotation.rotate(
                    store,
                    "h1",
                    successor_hash="h2",
                    successor_jti="j",
                    now=NOW,
                    expires_at=NOW + 60,
                )
        finally:
            own_server.start()
        assert await eventually(lambda: store.get_refresh_session("h1")) == token()
        result = await rotation.rotate(
            store, "h1", successor_hash="h2", successor_jti="j", now=NOW, expires_at=NOW + 60
        )
        assert result.outcome is RotateOutcome.ROTATED  # nothing was half-written while down
        await store.close()

    asyncio.run(scenario())


def test_open_while_down_then_up(own_server: PostgresServer) -> None:
    url = own_server.create_database("late")

    async def scenario() -> None:
        store = PostgresStore(url, pool_timeout=1, connect_timeout=1)
        own_server.stop()
        try:
            with pytest.raises(StoreError):
                await store.open()
        finally:
            own_server.start()
        await eventually(store.open)
        assert await store.schema_version() == SCHEMA_VERSION
        await store.close()

    asyncio.run(scenario())


def test_without_connection_checks_the_pool_still_recovers(own_server: PostgresServer) -> None:
    url = own_server.create_database("unchecked")

    async def scenario() -> None:
        store = PostgresStore(url, pool_timeout=1, connect_timeout=1, check_connections=False)
        await store.add_refresh_session(token())
        own_server.stop()
        own_server.start()
        # the pooled connection died with the old server: at most that call fails
        assert await eventually(lambda: store.get_refresh_session("h1")) == token()
        assert await store.get_refresh_session("h1") == token()
        await store.close()

    asyncio.run(scenario())
