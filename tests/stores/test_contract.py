"""The store contract: every test runs on SQLite, on PostgreSQL and on the memory store (the
``backend`` fixture). Rotation is :func:`tokenward.rotation.rotate` over each store's one
primitive, ``spend_refresh_session``: the memory store has no rotation logic of its own."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import TYPE_CHECKING, Any

import pytest

from tokenward import rotation
from tokenward.principal import Principal
from tokenward.stores import (
    ApiKeyRecord,
    ApiKeyStore,
    Counter,
    CounterStore,
    DuplicateKeyError,
    RefreshSession,
    RefreshSessionStore,
    Reservation,
    RotateOutcome,
    SessionInfo,
    Store,
    StoreError,
    UnstorableValueError,
)
from tokenward.tokens import DebugTokens, RefreshTokenError, TokenService

if TYPE_CHECKING:
    from tests.stores.conftest import Backend

NOW = 1_800_000_000.0
HOUR = 3600.0


def token(token_hash: str = "h1", family: str = "f1", **changes: Any) -> RefreshSession:
    values: dict[str, Any] = {
        "token_hash": token_hash,
        "family_id": family,
        "subject": "u1",
        "identity": {"email": "u1@example.com", "groups": ["root"], "scopes": []},
        "issued_at": NOW,
        "expires_at": NOW + HOUR,
    }
    values.update(changes)
    return RefreshSession(**values)


def info(session_id: str, subject: str = "u1", started: float = NOW, **changes: Any) -> SessionInfo:
    return SessionInfo(
        id=session_id, subject=subject, started_at=started, last_used_at=started, **changes
    )


async def login(
    store: Store,
    session_id: str,
    *,
    subject: str = "u1",
    at: float = NOW,
    max_sessions: int = 10,
    lifetime: float = HOUR,
    **changes: Any,
) -> tuple[str, ...]:
    first = token(
        f"{session_id}-t0", session_id, subject=subject, issued_at=at, expires_at=at + lifetime
    )
    return await store.start_session(
        info(session_id, subject, at, **changes), first, max_sessions=max_sessions, now=at
    )


async def rotate(store: Store, old: str, new: str, now: float, lifetime: float = HOUR) -> Any:
    return await rotation.rotate(
        store, old, successor_hash=new, successor_jti="j-" + new, now=now, expires_at=now + lifetime
    )


def key(key_id: str = "k1", prefix: str = "twk_aaaa", **changes: Any) -> ApiKeyRecord:
    values: dict[str, Any] = {
        "id": key_id,
        "prefix": prefix,
        "key_hash": "hash-" + key_id,
        "name": "ci " + key_id,
        "owner_subject": "u1",
        "owner_email": "u1@example.com",
        "owner_groups": ("admins", "ops"),
        "scopes": ("read", "write"),
        "created_at": NOW,
    }
    values.update(changes)
    return ApiKeyRecord(**values)


def test_implements_every_protocol(backend: Backend) -> None:
    store = backend.make()
    for protocol in (Store, RefreshSessionStore, ApiKeyStore, CounterStore):
        assert isinstance(store, protocol)


def test_open_twice_and_reopen_after_close(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await store.open()  # a second open is harmless
        await store.add_refresh_session(token())
        await store.close()
        assert await store.get_refresh_session("h1") == token()  # opens again by itself

    backend.run(scenario)
    # and a new store on the same database sees the data, the schema not created twice
    assert backend.run(lambda s: s.get_refresh_session("h1")) == token()


# --- refresh tokens -------------------------------------------------------------------------


def test_add_and_get(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        assert await store.get_refresh_session("h1") is None
        await store.add_refresh_session(token())
        assert await store.get_refresh_session("h1") == token()
        with pytest.raises(StoreError):
            await store.add_refresh_session(token())  # same hash twice
        odd = token("h2", identity={"email": None, "nested": {"a": [1, 2]}, "ü": "✓"})
        await store.add_refresh_session(odd)
        assert await store.get_refresh_session("h2") == odd

    backend.run(scenario)


def test_rotate_outcomes(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await store.add_refresh_session(token())
        result = await rotate(store, "h1", "h2", NOW + 10)
        assert result.outcome is RotateOutcome.ROTATED
        assert result.session == token()
        spent = await store.get_refresh_session("h1")
        assert spent is not None
        assert (spent.spent_at, spent.successor_hash, spent.successor_jti) == (
            NOW + 10,
            "h2",
            "j-h2",
        )
        successor = await store.get_refresh_session("h2")
        assert successor is not None
        assert (successor.family_id, successor.subject) == ("f1", "u1")
        assert successor.identity == token().identity
        assert (successor.issued_at, successor.expires_at) == (NOW + 10, NOW + 10 + HOUR)
        assert successor.is_live(NOW + 11)

        again = await rotate(store, "h1", "h3", NOW + 11)
        assert again.outcome is RotateOutcome.SPENT
        assert again.session == spent
        assert await store.get_refresh_session("h3") is None

        assert (await rotate(store, "nope", "h4", NOW)).outcome is RotateOutcome.UNKNOWN
        expired = await rotate(store, "h2", "h5", NOW + 10 + HOUR)  # exactly at expiry
        assert expired.outcome is RotateOutcome.EXPIRED

        assert await store.revoke_refresh_family("f1", now=NOW + 20) == 2
        assert await store.revoke_refresh_family("f1", now=NOW + 30) == 0
        assert (await rotate(store, "h2", "h6", NOW + 40)).outcome is RotateOutcome.REVOKED
        assert (await rotate(store, "h1", "h7", NOW + 40)).outcome is RotateOutcome.REVOKED

    backend.run(scenario)


def test_a_failed_rotation_changes_nothing(backend: Backend) -> None:
    """The successor insert fails (its hash exists): the spend and the session update are rolled
    back with it."""

    async def scenario(store: Store) -> None:
        await login(store, "f1")
        await store.add_refresh_session(token("taken", family="f2"))
        with pytest.raises(StoreError):
            await rotate(store, "f1-t0", "taken", NOW + 5)
        still = await store.get_refresh_session("f1-t0")
        assert still is not None
        assert still.spent_at is None
        assert await store.get_session("f1") == info("f1", expires_at=NOW + HOUR)

    backend.run(scenario)


def test_revoke_touches_one_family_only(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await store.add_refresh_session(token("a", family="f1"))
        await store.add_refresh_session(token("b", family="f2"))
        assert await store.revoke_refresh_family("f1", now=NOW) == 1
        b = await store.get_refresh_session("b")
        assert b is not None
        assert b.revoked_at is None

    backend.run(scenario)


def test_purge(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await store.add_refresh_session(token("old", expires_at=NOW - 1))
        await store.add_refresh_session(token("edge", expires_at=NOW))
        await store.add_refresh_session(token("new", expires_at=NOW + 1))
        assert await store.purge_refresh_sessions(before=NOW) == 1
        assert await store.get_refresh_session("old") is None
        assert await store.get_refresh_session("edge") is not None
        assert await store.get_refresh_session("new") is not None

    backend.run(scenario)


def test_purge_deletes_sessions_without_tokens(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await login(store, "gone", at=NOW - 2 * HOUR)  # its only token expired an hour ago
        await login(store, "kept", at=NOW - 2 * HOUR)
        await rotate(store, "kept-t0", "kept-t1", NOW - 1.5 * HOUR, lifetime=2 * HOUR)
        assert await store.purge_refresh_sessions(before=NOW) == 2  # gone-t0 and kept-t0
        assert await store.get_session("gone") is None
        assert await store.get_session("kept") is not None
        assert await store.get_refresh_session("kept-t1") is not None

    backend.run(scenario)


def test_concurrent_rotations_rotate_once(backend: Backend) -> None:
    """Many coroutines over several stores (separate connections) rotate one token at once."""

    async def scenario(*stores: Store) -> None:
        await login(stores[0], "f1")
        results = await asyncio.gather(
            *(rotate(stores[i % len(stores)], "f1-t0", f"s{i}", NOW + 1) for i in range(24))
        )
        outcomes = [r.outcome for r in results]
        assert outcomes.count(RotateOutcome.ROTATED) == 1
        assert outcomes.count(RotateOutcome.SPENT) == 23
        winner = next(i for i, r in enumerate(results) if r.outcome is RotateOutcome.ROTATED)
        spent = await stores[1].get_refresh_session("f1-t0")
        assert spent is not None
        assert spent.successor_hash == f"s{winner}"
        for i in range(24):
            assert (await stores[2].get_refresh_session(f"s{i}") is None) == (i != winner)

    backend.run(scenario, stores=4)


def test_two_stores_see_each_others_writes(backend: Backend) -> None:
    async def scenario(a: Store, b: Store) -> None:
        await a.add_refresh_session(token())
        assert (await rotate(b, "h1", "h2", NOW)).outcome is RotateOutcome.ROTATED
        spent = await a.get_refresh_session("h1")
        assert spent is not None
        assert spent.spent_at == NOW

    backend.run(scenario, stores=2)


# --- sessions -------------------------------------------------------------------------------


def test_start_and_get_session(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        assert await store.get_session("s1") is None
        ended = await login(store, "s1", client_address="127.0.0.1", user_agent="curl/8")
        assert ended == ()
        expected = info(
            "s1", client_address="127.0.0.1", user_agent="curl/8", expires_at=NOW + HOUR
        )
        assert await store.get_session("s1") == expected
        first = await store.get_refresh_session("s1-t0")
        assert first is not None
        assert first.family_id == "s1"
        with pytest.raises(StoreError):
            await login(store, "s1")  # the id is taken: nothing is written
        assert await store.list_sessions("u1", now=NOW) == [expected]

    backend.run(scenario)


def test_start_session_checks_its_arguments(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        with pytest.raises(ValueError, match="family"):
            await store.start_session(info("s1"), token("t", "other"), max_sessions=3, now=NOW)
        with pytest.raises(ValueError, match="subject"):
            await store.start_session(
                info("s1"), token("t", "s1", subject="u2"), max_sessions=3, now=NOW
            )
        with pytest.raises(ValueError, match="max_sessions"):
            await store.start_session(info("s1"), token("t", "s1"), max_sessions=0, now=NOW)
        assert await store.get_session("s1") is None
        assert await store.get_refresh_session("t") is None

    backend.run(scenario)


def test_rotation_updates_the_session(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await login(store, "s1")
        await rotate(store, "s1-t0", "s1-t1", NOW + 100, lifetime=2 * HOUR)
        session = await store.get_session("s1")
        assert session is not None
        assert (session.started_at, session.last_used_at) == (NOW, NOW + 100)
        assert session.expires_at == NOW + 100 + 2 * HOUR
        # outcomes other than ROTATED leave it alone
        await rotate(store, "s1-t0", "s1-x", NOW + 200)
        assert await store.get_session("s1") == session

    backend.run(scenario)


def test_session_limit_ends_the_oldest(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        for i in range(3):
            assert await login(store, f"s{i}", at=NOW + i, max_sessions=3) == ()
        await login(store, "other", subject="u2", at=NOW + 3, max_sessions=1)
        assert await login(store, "s3", at=NOW + 4, max_sessions=3) == ("s0",)
        assert await login(store, "s4", at=NOW + 5, max_sessions=2) == ("s1", "s2")
        live = await store.list_sessions("u1", now=NOW + 6)
        assert [s.id for s in live] == ["s4", "s3"]
        ended = await store.get_session("s1")
        assert ended is not None
        assert ended.revoked_at == NOW + 5
        old_token = await store.get_refresh_session("s1-t0")
        assert old_token is not None
        assert old_token.revoked_at == NOW + 5
        assert (await rotate(store, "s1-t0", "x", NOW + 6)).outcome is RotateOutcome.REVOKED
        # another subject's sessions never count
        assert [s.id for s in await store.list_sessions("u2", now=NOW + 6)] == ["other"]

    backend.run(scenario)


def test_session_limit_counts_only_live_sessions(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await login(store, "expired", at=NOW - 2 * HOUR)  # its token expired at NOW - HOUR
        await login(store, "spent", at=NOW - 10)
        await rotate(store, "spent-t0", "spent-t1", NOW - 5)
        await store.revoke_refresh_family("spent", now=NOW - 1)
        await login(store, "live", at=NOW - 3)
        assert await login(store, "new", at=NOW, max_sessions=2) == ()
        assert await login(store, "newer", at=NOW + 1, max_sessions=2) == ("live",)

    backend.run(scenario)


def test_concurrent_logins_respect_the_limit(backend: Backend) -> None:
    async def scenario(*stores: Store) -> None:
        await asyncio.gather(
            *(
                login(stores[i % len(stores)], f"s{i:02}", at=NOW + i, max_sessions=3)
                for i in range(12)
            )
        )
        assert len(await stores[0].list_sessions("u1", now=NOW + 20)) == 3

    backend.run(scenario, stores=3)


def test_list_sessions_shows_live_ones_newest_first(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await login(store, "a", at=NOW)
        await login(store, "b", at=NOW + 2)
        await login(store, "c", at=NOW + 1)
        await login(store, "short", at=NOW + 3, lifetime=10)
        await login(store, "revoked", at=NOW + 4)
        await store.revoke_refresh_family("revoked", now=NOW + 5)
        await store.add_refresh_session(token("legacy", "legacy-family"))  # no session row
        assert [s.id for s in await store.list_sessions("u1", now=NOW + 6)] == [
            "short",
            "b",
            "c",
            "a",
        ]
        # a session whose token expires drops out exactly at its expiry
        assert [s.id for s in await store.list_sessions("u1", now=NOW + 13)] == ["b", "c", "a"]
        assert await store.list_sessions("nobody", now=NOW) == []
        revoked = await store.get_session("revoked")
        assert revoked is not None
        assert revoked.revoked_at == NOW + 5

    backend.run(scenario)


def test_a_rotated_session_stays_live(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await login(store, "s1", at=NOW)
        await rotate(store, "s1-t0", "s1-t1", NOW + HOUR - 1)
        assert [s.id for s in await store.list_sessions("u1", now=NOW + HOUR + 1)] == ["s1"]

    backend.run(scenario)


def test_revoke_session(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await login(store, "mine")
        await login(store, "theirs", subject="u2")
        await login(store, "old", at=NOW - 2 * HOUR)
        assert await store.revoke_session("theirs", subject="u1", now=NOW) is False
        assert await store.revoke_session("nope", subject="u1", now=NOW) is False
        assert await store.revoke_session("old", subject="u1", now=NOW) is False  # not live
        assert await store.revoke_session("mine", subject="u1", now=NOW + 1) is True
        assert await store.revoke_session("mine", subject="u1", now=NOW + 2) is False
        mine = await store.get_session("mine")
        assert mine is not None
        assert mine.revoked_at == NOW + 1
        tok = await store.get_refresh_session("mine-t0")
        assert tok is not None
        assert tok.revoked_at == NOW + 1
        theirs = await store.get_session("theirs")
        assert theirs is not None
        assert theirs.revoked_at is None

    backend.run(scenario)


def test_revoke_sessions_keeps_one(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        for name in ("a", "b", "c"):
            await login(store, name)
        await login(store, "x", subject="u2")
        await store.revoke_refresh_family("c", now=NOW)  # already ended: not counted
        assert await store.revoke_sessions("u1", now=NOW + 1, keep="b") == 1
        assert [s.id for s in await store.list_sessions("u1", now=NOW + 2)] == ["b"]
        assert await store.revoke_sessions("u1", now=NOW + 3) == 1
        assert await store.list_sessions("u1", now=NOW + 4) == []
        assert await store.revoke_sessions("u1", now=NOW + 5) == 0
        assert [s.id for s in await store.list_sessions("u2", now=NOW + 4)] == ["x"]

    backend.run(scenario)


# --- API keys -------------------------------------------------------------------------------


def test_api_key_add_and_get(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        assert await store.get_api_key("twk_aaaa") is None
        assert await store.get_api_key_by_id("k1") is None
        record = key(expires_at=NOW + HOUR)
        await store.add_api_key(record)
        assert await store.get_api_key("twk_aaaa") == record
        assert await store.get_api_key_by_id("k1") == record
        bare = key("k2", "twk_bbbb", owner_email=None, owner_groups=(), scopes=())
        await store.add_api_key(bare)
        assert await store.get_api_key("twk_bbbb") == bare

    backend.run(scenario)


def test_api_key_duplicates(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await store.add_api_key(key())
        with pytest.raises(DuplicateKeyError):
            await store.add_api_key(key("k2", "twk_aaaa"))  # prefix taken
        with pytest.raises(DuplicateKeyError):
            await store.add_api_key(key("k1", "twk_cccc"))  # id taken
        assert await store.get_api_key_by_id("k2") is None
        assert await store.get_api_key("twk_cccc") is None
        assert issubclass(DuplicateKeyError, StoreError)

    backend.run(scenario)


def test_api_key_is_live() -> None:
    record = key(expires_at=NOW + 10)
    assert record.is_live(NOW + 9.9)
    assert not record.is_live(NOW + 10)
    assert key().is_live(NOW * 10)
    assert not dataclasses.replace(record, revoked_at=NOW).is_live(NOW)


def test_list_and_revoke_api_keys(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await store.add_api_key(key("k1", "p1", created_at=NOW))
        await store.add_api_key(key("k2", "p2", created_at=NOW + 2))
        await store.add_api_key(key("k3", "p3", created_at=NOW + 1))
        await store.add_api_key(key("k4", "p4", owner_subject="u2"))
        assert [k.id for k in await store.list_api_keys("u1")] == ["k2", "k3", "k1"]
        assert await store.list_api_keys("nobody") == []

        assert await store.revoke_api_key("k4", owner_subject="u1", now=NOW) is False  # not theirs
        assert await store.revoke_api_key("nope", owner_subject=None, now=NOW) is False
        assert await store.revoke_api_key("k3", owner_subject="u1", now=NOW + 5) is True
        assert await store.revoke_api_key("k3", owner_subject="u1", now=NOW + 6) is False
        assert await store.revoke_api_key("k4", owner_subject=None, now=NOW + 7) is True  # CLI
        listed = {k.id: k for k in await store.list_api_keys("u1")}
        assert listed["k3"].revoked_at == NOW + 5
        assert listed["k2"].revoked_at is None
        k4 = await store.get_api_key("p4")
        assert k4 is not None
        assert k4.revoked_at == NOW + 7
        assert not k4.is_live(NOW + 8)

    backend.run(scenario)


def test_api_key_groups_are_stored_apart_from_the_owners(backend: Backend) -> None:
    """Issue 20 item 5: a key's own groups (schema version 3) round-trip on every backend,
    apart from the owner's groups recorded at creation."""

    async def scenario(store: Store) -> None:
        record = key(groups=("ops",))
        await store.add_api_key(record)
        await store.add_api_key(key("k2", "twk_bbbb"))
        found = await store.get_api_key("twk_aaaa")
        assert found == record and found is not None
        assert (found.groups, found.owner_groups) == (("ops",), ("admins", "ops"))
        assert [k.groups for k in await store.list_api_keys("u1")] == [(), ("ops",)]

    backend.run(scenario)


def test_list_api_keys_of_every_owner(backend: Backend) -> None:
    """Issue 20 item 25: ``list_api_keys(None)`` lists every owner's keys (the CLI's listing
    without --owner), newest first."""

    async def scenario(store: Store) -> None:
        await store.add_api_key(key("k1", "p1", created_at=NOW))
        await store.add_api_key(key("k2", "p2", created_at=NOW + 1, owner_subject="u2"))
        await store.add_api_key(key("k3", "p3", created_at=NOW + 2, revoked_at=NOW + 3))
        assert [k.id for k in await store.list_api_keys(None)] == ["k3", "k2", "k1"]
        assert [k.id for k in await store.list_api_keys("u2")] == ["k2"]

    backend.run(scenario)


def test_api_key_check_is_written_once(backend: Backend) -> None:
    """Issue 20 item 25: the check value of the API-key hashing key is written by the first
    call and returned unchanged to every later one, concurrent first calls included."""

    async def scenario(store: Store, other: Store) -> None:
        first = await asyncio.gather(
            *(
                (store if i % 2 else other).claim_api_key_check(f"probe{i}", f"hash{i}", now=NOW)
                for i in range(8)
            )
        )
        assert len(set(first)) == 1
        probe, probe_hash = first[0]
        assert probe_hash == "hash" + probe.removeprefix("probe")
        assert await store.claim_api_key_check("later", "later-hash", now=NOW + 1) == first[0]

    backend.run(scenario, stores=2)


def test_touch_api_key_writes_at_most_once_an_interval(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await store.add_api_key(key())

        async def last_used() -> float | None:
            record = await store.get_api_key_by_id("k1")
            assert record is not None
            return record.last_used_at

        assert await store.touch_api_key("k1", now=NOW) is True  # never used: writes
        assert await last_used() == NOW
        assert await store.touch_api_key("k1", now=NOW + 59.5) is False
        assert await last_used() == NOW
        assert await store.touch_api_key("k1", now=NOW + 60) is True  # exactly the interval
        assert await last_used() == NOW + 60
        assert await store.touch_api_key("k1", now=NOW + 65, min_interval=5) is True
        assert await store.touch_api_key("k1", now=NOW + 66, min_interval=5) is False
        assert await store.touch_api_key("k1", now=NOW + 66, min_interval=0) is True
        assert await store.touch_api_key("nope", now=NOW) is False

    backend.run(scenario)


# --- counters -------------------------------------------------------------------------------


def test_counter_window(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        assert await store.peek("login:u1", now=NOW) is None
        assert await store.hit("login:u1", window=60, now=NOW) == Counter(1, NOW + 60)
        assert await store.hit("login:u1", window=60, now=NOW + 30) == Counter(2, NOW + 60)
        assert await store.hit("login:u1", window=60, now=NOW + 59, amount=3) == Counter(
            5, NOW + 60
        )
        assert await store.peek("login:u1", now=NOW + 59.9) == Counter(5, NOW + 60)
        # exactly at reset_at the window has ended: peek sees nothing, a hit starts anew
        assert await store.peek("login:u1", now=NOW + 60) is None
        assert await store.hit("login:u1", window=10, now=NOW + 60) == Counter(1, NOW + 70)
        assert await store.hit("other", window=5, now=NOW + 60, amount=0) == Counter(0, NOW + 65)

    backend.run(scenario)


def test_counter_arguments(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        with pytest.raises(ValueError, match="window"):
            await store.hit("k", window=0, now=NOW)
        with pytest.raises(ValueError, match="amount"):
            await store.hit("k", window=1, now=NOW, amount=-1)
        assert await store.peek("k", now=NOW) is None

    backend.run(scenario)


def test_counter_clear_and_purge(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        await store.hit("a", window=10, now=NOW)  # ends NOW + 10
        await store.hit("b", window=20, now=NOW)  # ends NOW + 20
        await store.hit("c", window=30, now=NOW)  # ends NOW + 30
        await store.clear("a")
        await store.clear("never-there")
        assert await store.peek("a", now=NOW) is None
        assert await store.purge_counters(before=NOW + 20) == 1  # b ended at exactly NOW + 20
        assert await store.peek("c", now=NOW + 25) == Counter(1, NOW + 30)
        assert await store.hit("b", window=5, now=NOW + 25) == Counter(1, NOW + 30)
        assert await store.purge_counters(before=NOW) == 0

    backend.run(scenario)


def test_concurrent_hits_all_count(backend: Backend) -> None:
    async def scenario(*stores: Store) -> None:
        results = await asyncio.gather(
            *(stores[i % len(stores)].hit("k", window=60, now=NOW) for i in range(40))
        )
        assert sorted(r.count for r in results) == list(range(1, 41))
        assert {r.reset_at for r in results} == {NOW + 60}
        assert await stores[0].peek("k", now=NOW + 1) == Counter(40, NOW + 60)

    backend.run(scenario, stores=4)


# --- strings no store can hold ------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"], ids=["nul", "lone-surrogate"])
def test_unstorable_strings_are_the_inputs_fault(backend: Backend, bad: str) -> None:
    """Issue 20 item 11: a NUL or a lone surrogate in an id, a subject, a key or an identity is
    never a StoreError (a 503): a look-up finds nothing or raises UnstorableValueError (a
    ValueError), a write stores it or raises UnstorableValueError; the store works on after."""

    async def scenario(store: Store) -> None:
        await login(store, "s1")
        look_ups = {
            "get_session": lambda: store.get_session(bad),
            "revoke_session": lambda: store.revoke_session(bad, subject="u1", now=NOW),
            "list_sessions": lambda: store.list_sessions(bad, now=NOW),
            "revoke_sessions": lambda: store.revoke_sessions(bad, now=NOW),
            "get_refresh_session": lambda: store.get_refresh_session(bad),
            "revoke_refresh_family": lambda: store.revoke_refresh_family(bad, now=NOW),
            "get_api_key": lambda: store.get_api_key(bad),
            "get_api_key_by_id": lambda: store.get_api_key_by_id(bad),
            "list_api_keys": lambda: store.list_api_keys(bad),
            "revoke_api_key": lambda: store.revoke_api_key(bad, owner_subject="u1", now=NOW),
            "touch_api_key": lambda: store.touch_api_key(bad, now=NOW),
            "peek": lambda: store.peek(bad, now=NOW),
            "clear": lambda: store.clear(bad),
        }
        for what, call in look_ups.items():
            try:
                found = await call()
            except UnstorableValueError:
                continue
            assert found in (None, False, 0, []), (what, found)
        attempt = rotation.rotate(
            store, bad, successor_hash="h2", successor_jti="j2", now=NOW, expires_at=NOW + HOUR
        )
        with contextlib.suppress(UnstorableValueError):
            assert (await attempt).outcome is RotateOutcome.UNKNOWN
        writes = {
            "identity": lambda: store.add_refresh_session(
                token("h9", "f9", identity={"requested_scope": bad})
            ),
            "subject": lambda: login(store, "s9", subject=bad),
        }
        for _what, call in writes.items():
            with contextlib.suppress(UnstorableValueError):
                await call()
        assert [s.id for s in await store.list_sessions("u1", now=NOW)] == ["s1"]

    backend.run(scenario)


# --- the refresh reuse grace window, over each store ---------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("grace", "after", "same_pair"),
    [(0.0, 0.0, False), (0.0, 0.001, False), (5.0, 4.999, True), (5.0, 5.0, False)],
)
def test_reuse_grace_edge(backend: Backend, grace: float, after: float, same_pair: bool) -> None:
    """Issue 20 item 12: a duplicate of a rotated refresh token gets the same pair only less than
    ``reuse_grace`` seconds after the rotation: with grace 0 never, not even at the very same
    clock reading (``<=`` let that one through); with 5 s, at 4.999 s but not at 5 s. Past the
    window it is reuse: the family is revoked."""

    async def scenario(store: Store) -> None:
        clock = _Clock()
        tokens = DebugTokens(b"contract-secret-0123456789abcdef")
        service = TokenService(tokens, store, reuse_grace=grace, clock=clock)
        first = await service.start(Principal(subject="u1", credential_type="access_token"))
        pair = await service.refresh(first.refresh_token)
        clock.now += after
        if same_pair:
            again = await service.refresh(first.refresh_token)
            assert (again.access_token, again.refresh_token) == (
                pair.access_token,
                pair.refresh_token,
            )
            return
        with pytest.raises(RefreshTokenError) as info:
            await service.refresh(first.refresh_token)
        assert info.value.reason == "reused"
        with pytest.raises(RefreshTokenError) as info:
            await service.refresh(pair.refresh_token)
        assert info.value.reason == "revoked"

    backend.run(scenario)


# --- reserving limited attempts -----------------------------------------------------------------


def test_reserve_grants_up_to_the_limit_per_window(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        for n in (1, 2, 3):
            assert await store.reserve("r", limit=3, window=60, now=NOW + n) == Reservation(
                True, n, NOW + 61
            )
        # full: refused, nothing written
        assert await store.reserve("r", limit=3, window=60, now=NOW + 10) == Reservation(
            False, 3, NOW + 61
        )
        assert await store.peek("r", now=NOW + 10) == Counter(3, NOW + 61)
        # a larger limit on the same counter grants again
        assert await store.reserve("r", limit=4, window=60, now=NOW + 10) == Reservation(
            True, 4, NOW + 61
        )
        # exactly at reset_at the window has ended: a new one starts at 1
        assert await store.reserve("r", limit=1, window=5, now=NOW + 61) == Reservation(
            True, 1, NOW + 66
        )
        # hit and reserve share the counter
        await store.hit("r", window=5, now=NOW + 62)
        assert await store.reserve("r", limit=2, window=5, now=NOW + 62) == Reservation(
            False, 2, NOW + 66
        )

    backend.run(scenario)


def test_release_gives_one_reservation_back_in_its_window_only(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        first = await store.reserve("r", limit=2, window=60, now=NOW)
        await store.reserve("r", limit=2, window=60, now=NOW)
        assert await store.release("r", reset_at=first.reset_at) is True
        assert await store.peek("r", now=NOW) == Counter(1, NOW + 60)
        assert await store.release("r", reset_at=first.reset_at) is True
        assert await store.release("r", reset_at=first.reset_at) is False  # never below 0
        assert await store.peek("r", now=NOW) == Counter(0, NOW + 60)
        assert await store.release("absent", reset_at=NOW) is False
        # a reservation of an ended window leaves the next window alone
        later = await store.reserve("r", limit=2, window=60, now=NOW + 60)
        assert later == Reservation(True, 1, NOW + 120)
        assert await store.release("r", reset_at=first.reset_at) is False
        assert await store.peek("r", now=NOW + 60) == Counter(1, NOW + 120)

    backend.run(scenario)


def test_reserve_arguments(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        with pytest.raises(ValueError, match="limit"):
            await store.reserve("k", limit=0, window=1, now=NOW)
        with pytest.raises(ValueError, match="window"):
            await store.reserve("k", limit=1, window=0, now=NOW)
        assert await store.peek("k", now=NOW) is None

    backend.run(scenario)


def test_concurrent_reservations_never_pass_the_limit(backend: Backend) -> None:
    """Issue 20 item 1: of 60 reservations at once, over 4 connections, exactly the limit is
    granted (the old read-then-hit let most of a burst through)."""

    async def scenario(*stores: Store) -> None:
        results = await asyncio.gather(
            *(stores[i % len(stores)].reserve("k", limit=5, window=60, now=NOW) for i in range(60))
        )
        granted = [r for r in results if r.granted]
        assert sorted(r.count for r in granted) == [1, 2, 3, 4, 5]
        assert all(r == Reservation(False, 5, NOW + 60) for r in results if not r.granted)
        assert await stores[0].peek("k", now=NOW + 1) == Counter(5, NOW + 60)

    backend.run(scenario, stores=4)
