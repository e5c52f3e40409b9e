"""The LinkedIdentityStore contract (accounts at external providers linked to users, and the
sign-in states of external sign-in, consumed once): every test runs on SQLite, on PostgreSQL and
on the memory store (the ``backend`` fixture)."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tokenward.exceptions import DuplicateKeyError, UnstorableValueError
from tokenward.stores import LinkedIdentity, LinkedIdentityStore, OAuthState

if TYPE_CHECKING:
    from tests.stores.conftest import Backend

NOW = 1_700_000_000.0


def link(provider: str, subject: str, user_id: str, **fields: object) -> LinkedIdentity:
    return LinkedIdentity(provider, subject, user_id, created_at=NOW, **fields)  # type: ignore[arg-type]


def state(provider: str = "github", *, ttl: float = 600.0, **fields: object) -> OAuthState:
    base = OAuthState(
        provider=provider,
        code_verifier="v" * 64,
        nonce="n" * 32,
        binding_hash="b" * 64,
        created_at=NOW,
        expires_at=NOW + ttl,
        redirect_to="/home",
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_every_backend_is_a_linked_identity_store(backend: Backend) -> None:
    async def scenario(store: LinkedIdentityStore) -> None:
        assert isinstance(store, LinkedIdentityStore)

    backend.run(scenario)


def test_a_link_is_unique_both_ways_per_provider(backend: Backend) -> None:
    async def scenario(store: LinkedIdentityStore) -> None:
        first = link("github", "1001", "u1", email="a@example.com")
        assert await store.link_identity(first)
        assert await store.get_linked_identity("github", "1001") == first
        # the same provider subject cannot name a second user
        assert not await store.link_identity(link("github", "1001", "u2"))
        # a user has one link per provider
        assert not await store.link_identity(link("github", "2002", "u1"))
        # another provider, or another user, is fine
        assert await store.link_identity(link("google", "1001", "u1"))
        assert await store.link_identity(link("github", "2002", "u2"))
        assert await store.get_linked_identity("github", "1001") == first
        found = await store.linked_identities("u1")
        assert [(x.provider, x.subject) for x in found] == [("github", "1001"), ("google", "1001")]
        assert await store.linked_identities("nobody") == []
        assert await store.get_linked_identity("github", "9999") is None

    backend.run(scenario)


def test_touch_and_unlink(backend: Backend) -> None:
    async def scenario(store: LinkedIdentityStore) -> None:
        assert await store.link_identity(link("oidc", "s-1", "u1"))
        assert await store.touch_linked_identity("oidc", "s-1", now=NOW + 5)
        found = await store.get_linked_identity("oidc", "s-1")
        assert found is not None and found.last_used_at == NOW + 5
        assert not await store.touch_linked_identity("oidc", "s-2", now=NOW)
        assert await store.unlink_identity("oidc", "u1")
        assert not await store.unlink_identity("oidc", "u1")
        assert await store.get_linked_identity("oidc", "s-1") is None
        # once unlinked, the subject and the user may be linked anew
        assert await store.link_identity(link("oidc", "s-1", "u2"))
        assert await store.link_identity(link("oidc", "s-3", "u1"))

    backend.run(scenario)


def test_bad_links_and_states_are_refused_before_anything_is_written(backend: Backend) -> None:
    async def scenario(store: LinkedIdentityStore) -> None:
        for bad in (
            link("", "s", "u"),
            link("p", "", "u"),
            link("p", "s", ""),
            link("p" * 65, "s", "u"),
        ):
            with pytest.raises(ValueError):
                await store.link_identity(bad)
        with pytest.raises(UnstorableValueError):
            await store.link_identity(link("p", "s\x00", "u"))
        assert await store.get_linked_identity("p", "s\x00") is None
        assert await store.get_linked_identity("p", "\ud800") is None
        with pytest.raises(ValueError):
            await store.add_oauth_state("", state())
        with pytest.raises(ValueError):
            await store.add_oauth_state("h", state(code_verifier=""))
        with pytest.raises(UnstorableValueError):
            await store.add_oauth_state("h", state(redirect_to="/\x00"))
        assert await store.consume_oauth_state("h\x00", now=NOW) is None
        assert await store.consume_oauth_state("h", now=NOW) is None

    backend.run(scenario)


def test_a_state_is_consumed_once_before_it_expires(backend: Backend) -> None:
    async def scenario(store: LinkedIdentityStore) -> None:
        kept = state(redirect_to=None)
        await store.add_oauth_state("h1", kept)
        with pytest.raises(DuplicateKeyError):
            await store.add_oauth_state("h1", state())
        assert await store.consume_oauth_state("h1", now=NOW + 1) == kept
        assert await store.consume_oauth_state("h1", now=NOW + 1) is None
        # expired: never consumed, then purged
        await store.add_oauth_state("h2", state(ttl=10))
        assert await store.consume_oauth_state("h2", now=NOW + 10) is None
        await store.add_oauth_state("h3", state(ttl=100))
        assert await store.purge_oauth_states(before=NOW + 10) == 1
        assert await store.consume_oauth_state("h3", now=NOW + 50) is not None

    backend.run(scenario)


def test_a_burst_of_concurrent_consumes_of_one_state_gets_exactly_one(backend: Backend) -> None:
    """Many callbacks presenting one state at once, over several connections (instances, for
    the SQL stores): exactly one gets the state."""

    async def scenario(*stores: LinkedIdentityStore) -> None:
        for round_ in range(5):
            key = f"burst-{round_}"
            await stores[0].add_oauth_state(key, state())
            results = await asyncio.gather(
                *(stores[i % len(stores)].consume_oauth_state(key, now=NOW) for i in range(24))
            )
            assert sum(r is not None for r in results) == 1

    backend.run(scenario, stores=4)


def test_concurrent_links_of_one_subject_make_one(backend: Backend) -> None:
    async def scenario(*stores: LinkedIdentityStore) -> None:
        results = await asyncio.gather(
            *(
                stores[i % len(stores)].link_identity(link("github", "42", f"u{i}"))
                for i in range(12)
            )
        )
        assert results.count(True) == 1
        found = await stores[0].get_linked_identity("github", "42")
        assert found is not None and found.user_id == f"u{results.index(True)}"

    backend.run(scenario, stores=3)


def test_a_version_5_sqlite_file_gains_the_linked_identity_tables(tmp_path: Path) -> None:
    """A file made before version 8 (here: up to 5) gets the tables when it is opened."""
    from tokenward.stores import _sqlite_schema as schema
    from tokenward.stores.sqlite import SQLiteStore

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE tokenward_schema_version (version INTEGER NOT NULL)")
    for number, statements in schema.MIGRATIONS:
        if number <= 5:
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO tokenward_schema_version VALUES (?)", (number,))
    conn.close()

    async def scenario() -> None:
        store = SQLiteStore(path)
        try:
            assert await store.link_identity(link("github", "1", "u1"))
            assert await store.schema_version() == 8
        finally:
            await store.close()

    asyncio.run(scenario())
    versions = sqlite3.connect(path).execute("SELECT version FROM tokenward_schema_version")
    assert sorted(v for (v,) in versions) == [1, 2, 3, 4, 5, 6, 7, 8]
