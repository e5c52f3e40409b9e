"""ApiKeyService (tokenward.apikeys) over real stores: SQLite and a throwaway PostgreSQL.

Every test runs on both backends, each time on a fresh, empty database; a test that needs two
instances of the service opens two stores on the same database (two connections, as two
processes would). The clock is the test's, so expiry, the cache TTL and the once-a-minute
``last_used_at`` write are exact.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from tests.pg_server import PostgresServer

from tokenward._core import ApiKeyHasher
from tokenward.apikeys import MAX_KEY_LIFETIME, ApiKeyService, NewApiKey
from tokenward.exceptions import (
    AuthorizationError,
    ConfigurationError,
    InvalidApiKeyError,
    InvalidTokenError,
    StoreError,
)
from tokenward.principal import Principal
from tokenward.stores import ApiKeyRecord, Store

pytest.importorskip("psycopg")

SECRET = b"api-key service test secret, 32+ bytes long"
T0 = 1_800_000_000.0

OWNER = Principal(
    subject="user-1",
    credential_type="access_token",
    email="alice@example.com",
    groups=("operator", "root"),
    scopes=("reports:read", "reports:write"),
    provider="custom",
)
OTHER = Principal(subject="user-2", credential_type="access_token", scopes=("reports:read",))

_names = itertools.count()


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingStore:
    """An ApiKeyStore that passes every call on to a real store and counts the
    ``touch_api_key`` calls and the writes they made (the store answers True when it wrote)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.touch_calls = 0
        self.touch_writes = 0
        self.lookups = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def get_api_key(self, prefix: str) -> ApiKeyRecord | None:
        self.lookups += 1
        return await self.store.get_api_key(prefix)

    async def touch_api_key(self, key_id: str, *, now: float, min_interval: float = 60.0) -> bool:
        self.touch_calls += 1
        wrote = await self.store.touch_api_key(key_id, now=now, min_interval=min_interval)
        self.touch_writes += wrote
        return wrote


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@dataclass
class Backend:
    name: str
    make: Callable[[], Store]
    server: PostgresServer | None = None

    def run(self, scenario: Callable[..., Awaitable[Any]], *, stores: int = 1) -> Any:
        """``scenario(*stores)`` in a new event loop; the stores are opened and closed."""

        async def main() -> Any:
            opened = [self.make() for _ in range(stores)]
            try:
                for store in opened:
                    await store.open()
                return await scenario(*opened)
            finally:
                for store in opened:
                    await store.close()

        return asyncio.run(main())


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        from tokenward.stores.sqlite import SQLiteStore

        path = tmp_path / "keys.db"
        return Backend("sqlite", lambda: SQLiteStore(path))
    from tokenward.stores.postgres import PostgresStore

    server: PostgresServer = request.getfixturevalue("pg_server")
    if not server.running:  # a test that stopped it failed half-way
        server.start()
    url = server.create_database(f"k{next(_names)}")
    return Backend(
        "postgres",
        lambda: PostgresStore(url, connect_timeout=2, pool_timeout=2, operation_timeout=5),
        server,
    )


def service(store: Any, clock: Clock, **kw: Any) -> ApiKeyService:
    return ApiKeyService(ApiKeyHasher(SECRET), store, clock=clock, **kw)


async def make_key(keys: ApiKeyService, owner: Principal = OWNER, **kw: Any) -> NewApiKey:
    kw.setdefault("name", "ci")
    return await keys.create(owner, **kw)


def reason(excinfo: pytest.ExceptionInfo[InvalidApiKeyError]) -> str:
    return excinfo.value.reason


# --- create, list, revoke ------------------------------------------------------------------------


def test_create_authenticate_list_revoke(backend: Backend) -> None:
    clock = Clock()

    async def scenario(store: Store) -> None:
        keys = service(store, clock)
        made = await make_key(keys, name="  deploy bot ", scopes=["reports:read"], expires_in=3600)
        assert made.key.startswith("vk_") and made.key not in repr(made)
        record = made.record
        assert record.id.startswith("ak_")
        assert record.name == "deploy bot"
        assert made.key.startswith(record.prefix) and len(record.prefix) < len(made.key)
        assert record.key_hash != made.key and made.key not in record.key_hash
        assert record.key_hash == ApiKeyHasher(SECRET).hash(made.key)
        assert (record.owner_subject, record.owner_email) == ("user-1", "alice@example.com")
        assert record.owner_groups == ("operator", "root")
        assert record.scopes == ("reports:read",)
        assert (record.created_at, record.expires_at) == (T0, T0 + 3600)

        principal = await keys.authenticate(made.key)
        assert principal.credential_type == "api_key"
        assert principal.subject == "user-1"
        assert principal.email == "alice@example.com"
        assert principal.groups == ()  # a key is in no group unless named at creation
        assert principal.scopes == ("reports:read",)
        assert principal.credential_id == record.id

        clock.advance(1)
        second = await make_key(keys, name="second")
        await make_key(keys, OTHER, name="not alice's")
        listed = await keys.list(OWNER)
        assert [r.id for r in listed] == [second.record.id, record.id]  # newest first
        assert all(r.owner_subject == "user-1" for r in listed)

        assert await keys.revoke(OTHER, record.id) is False  # not theirs
        assert (await keys.authenticate(made.key)).subject == "user-1"
        assert await keys.revoke(OWNER, record.id) is True
        assert await keys.revoke(OWNER, record.id) is False  # already revoked
        assert await keys.revoke(OWNER, "ak_nosuchkey") is False
        with pytest.raises(InvalidApiKeyError) as excinfo:
            await keys.authenticate(made.key)
        assert reason(excinfo) == "revoked"
        listed = await keys.list(OWNER)
        assert {r.id: r.revoked_at for r in listed} == {record.id: T0 + 1, second.record.id: None}
        # the other key of the owner is untouched
        assert (await keys.authenticate(second.key)).credential_id == second.record.id

    backend.run(scenario)


def test_an_api_key_cannot_manage_api_keys(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        keys = service(store, Clock())
        made = await make_key(keys, scopes=["reports:read"])
        as_key = await keys.authenticate(made.key)
        with pytest.raises(AuthorizationError):
            await keys.create(as_key, name="child")
        with pytest.raises(AuthorizationError):
            await keys.list(as_key)
        with pytest.raises(AuthorizationError):
            await keys.revoke(as_key, made.record.id)
        assert [r.revoked_at for r in await keys.list(OWNER)] == [None]

    backend.run(scenario)


# --- scopes and lifetimes ------------------------------------------------------------------------


def test_scopes_are_a_subset_of_the_owners(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        keys = service(store, Clock())
        with pytest.raises(AuthorizationError) as excinfo:
            await make_key(keys, scopes=["reports:read", "admin"])
        assert excinfo.value.missing_scopes == ("admin",)
        assert excinfo.value.subject == "user-1"
        # allowed_scopes (the effective scopes) replaces the principal's own
        with pytest.raises(AuthorizationError):
            await make_key(keys, scopes=["reports:write"], allowed_scopes=["reports:read"])
        made = await make_key(keys, scopes=["admin"], allowed_scopes=["admin"])
        assert made.record.scopes == ("admin",)
        dup = await make_key(keys, scopes=["reports:read", "reports:read"])
        assert dup.record.scopes == ("reports:read",)
        # nothing was written for the refused requests
        assert len(await keys.list(OWNER)) == 2

    backend.run(scenario)


def test_a_key_holds_only_the_groups_named_at_creation(backend: Backend) -> None:
    """Issue 20 item 5: a key is in the groups named when it is made, a subset of its owner's
    (none by default), not in every group of its owner."""

    async def scenario(store: Store) -> None:
        keys = service(store, Clock())
        plain = await make_key(keys)
        assert plain.record.groups == () and plain.record.owner_groups == ("operator", "root")
        assert (await keys.authenticate(plain.key)).groups == ()
        operator = await make_key(keys, groups=["operator", "operator"])
        assert operator.record.groups == ("operator",)
        assert (await keys.authenticate(operator.key)).groups == ("operator",)
        assert {r.id: r.groups for r in await keys.list(OWNER)} == {
            plain.record.id: (),
            operator.record.id: ("operator",),
        }
        with pytest.raises(AuthorizationError, match="not in: auditor") as excinfo:
            await make_key(keys, groups=["operator", "auditor"])
        assert excinfo.value.groups == () and excinfo.value.missing_scopes == ()
        with pytest.raises(AuthorizationError):
            await make_key(keys, OTHER, groups=["root"])  # OTHER is in no group
        for bad in ([""], ["tab\there"], [f"g{i}" for i in range(65)]):
            with pytest.raises(ValueError):
                await make_key(keys, groups=bad)
        assert len(await keys.list(OWNER)) == 2  # nothing written for the refused ones

    backend.run(scenario)


def test_creating_a_key_under_another_secret_is_refused(backend: Backend) -> None:
    """Issue 20 item 25: the store keeps a check value of the API-key hashing key, written by
    the first creation; a creation under another AUTH_SECRET is a ConfigurationError and
    writes nothing (the key would be refused by every server)."""

    async def scenario(store_a: Store, store_b: Store) -> None:
        keys = service(store_a, Clock())
        made = await make_key(keys)
        again = service(store_b, Clock())  # another instance, the same secret
        await make_key(again)
        wrong = ApiKeyService(ApiKeyHasher(b"another secret, also 32+ bytes long"), store_b)
        with pytest.raises(ConfigurationError, match="AUTH_SECRET"):
            await make_key(wrong, name="elsewhere")
        assert [r.name for r in await keys.list(OWNER)] == ["ci", "ci"]
        assert (await keys.authenticate(made.key)).subject == "user-1"

    backend.run(scenario, stores=2)


def test_the_first_check_value_is_written_once_under_concurrency(backend: Backend) -> None:
    """Of services with different secrets creating the first keys of a store at once, exactly
    the ones under one secret succeed: the check value is written once."""
    secrets = [b"first secret, 32 bytes or more, yes", b"second secret, 32 bytes or more, ok"]

    async def scenario(*stores: Store) -> None:
        services = [
            ApiKeyService(ApiKeyHasher(secrets[i % 2]), store, clock=Clock())
            for i, store in enumerate(stores)
        ]
        results = await asyncio.gather(
            *(make_key(s, name=f"k{i}") for i, s in enumerate(services)), return_exceptions=True
        )
        won = {i % 2 for i, r in enumerate(results) if isinstance(r, NewApiKey)}
        lost = {i % 2 for i, r in enumerate(results) if isinstance(r, ConfigurationError)}
        assert len(won) == 1 and lost == {0, 1} - won, results

    backend.run(scenario, stores=6)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": "tab\there"},
        {"scopes": ["two words"]},
        {"scopes": [""]},
        {"scopes": ['quo"te']},
        {"scopes": [f"s{i}" for i in range(65)]},
        {"expires_in": 0},
        {"expires_in": -5},
        {"expires_in": MAX_KEY_LIFETIME + 1},
        {"expires_in": math.inf},
        {"expires_in": math.nan},
        {"expires_in": True},
        {"expires_in": "60"},
    ],
)
def test_bad_values_are_value_errors_and_write_nothing(
    backend: Backend, kwargs: dict[str, Any]
) -> None:
    async def scenario(store: Store) -> None:
        keys = service(store, Clock())
        args: dict[str, Any] = {"name": "ok", "allowed_scopes": None}
        args.update(kwargs)
        if "scopes" in kwargs:
            args["allowed_scopes"] = kwargs["scopes"]
        with pytest.raises(ValueError):
            await keys.create(OWNER, **args)
        assert await keys.list(OWNER) == []

    backend.run(scenario)


def test_lifetime_bounds_and_expiry(backend: Backend) -> None:
    clock = Clock()

    async def scenario(store: Store) -> None:
        keys = service(store, clock, cache_ttl=0)
        shortest = await make_key(keys, expires_in=1)
        longest = await make_key(keys, expires_in=MAX_KEY_LIFETIME)
        forever = await make_key(keys, expires_in=None)
        minute = await make_key(keys, expires_in=60)
        assert shortest.record.expires_at == T0 + 1
        assert longest.record.expires_at == T0 + MAX_KEY_LIFETIME
        assert forever.record.expires_at is None

        clock.advance(59.5)
        assert (await keys.authenticate(minute.key)).subject == "user-1"
        with pytest.raises(InvalidApiKeyError) as excinfo:
            await keys.authenticate(shortest.key)
        assert reason(excinfo) == "expired"
        clock.advance(0.5)  # exactly at expires_at: expired
        with pytest.raises(InvalidApiKeyError) as excinfo:
            await keys.authenticate(minute.key)
        assert reason(excinfo) == "expired"
        clock.advance(MAX_KEY_LIFETIME - 61)
        assert (await keys.authenticate(longest.key)).subject == "user-1"
        assert (await keys.authenticate(forever.key)).subject == "user-1"
        clock.advance(2)
        with pytest.raises(InvalidApiKeyError):
            await keys.authenticate(longest.key)
        assert (await keys.authenticate(forever.key)).subject == "user-1"

    backend.run(scenario)


def test_expiry_is_checked_on_cached_keys_too(backend: Backend) -> None:
    clock = Clock()

    async def scenario(store: Store) -> None:
        keys = service(store, clock, cache_ttl=3600)
        made = await make_key(keys, expires_in=10)
        await keys.authenticate(made.key)  # now cached
        clock.advance(10)
        with pytest.raises(InvalidApiKeyError) as excinfo:
            await keys.authenticate(made.key)
        assert reason(excinfo) == "expired"

    backend.run(scenario)


# --- wrong keys ----------------------------------------------------------------------------------


def _flip(char: str) -> str:
    return "A" if char != "A" else "B"


def test_unknown_tampered_malformed_and_foreign_keys(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        keys = service(store, Clock())
        made = await make_key(keys)
        key, prefix = made.key, made.record.prefix
        # a well-formed key nobody created (unknown prefix)
        stranger, _ = ApiKeyHasher(SECRET).new_key()
        # the right prefix, one character of the secret part changed
        at = len(prefix) + 5
        tampered = key[:at] + _flip(key[at]) + key[at + 1 :]
        assert tampered.startswith(prefix) and tampered != key
        # a real key whose row was hashed under another AUTH_SECRET (the service refuses to
        # create one in this store, so the row is written directly)
        other = ApiKeyHasher(b"another secret, also 32+ bytes long")
        foreign_key, foreign_prefix = other.new_key()
        await store.add_api_key(
            replace(
                made.record,
                id="ak_foreign",
                prefix=foreign_prefix,
                key_hash=other.hash(foreign_key),
            )
        )
        for bad, why in ((stranger, "unknown"), (tampered, "unknown"), (foreign_key, "unknown")):
            with pytest.raises(InvalidApiKeyError) as excinfo:
                await keys.authenticate(bad)
            assert reason(excinfo) == why, bad
        for bad in ("", "vk_", "vk_short", key + "A", key[:-1], "vk_" + "!" * 43, "Bearer " + key):
            with pytest.raises(InvalidApiKeyError) as excinfo:
                await keys.authenticate(bad)
            assert reason(excinfo) in ("malformed", "unknown")
            assert isinstance(excinfo.value, InvalidTokenError)  # a 401, invalid_token
        # the real key still works; nothing above changed its record
        assert (await keys.authenticate(key)).subject == "user-1"
        assert (await keys.list(OWNER))[0].revoked_at is None

    backend.run(scenario)


class RecordingHasher:
    """The real hasher, recording the hashes ``matches`` is asked to compare against."""

    def __init__(self) -> None:
        self.real = ApiKeyHasher(SECRET)
        self.compared: list[str] = []

    def new_key(self) -> tuple[str, str]:
        return self.real.new_key()

    def hash(self, key: str) -> str:
        return self.real.hash(key)

    def matches(self, key: str, key_hash: str) -> bool:
        self.compared.append(key_hash)
        return self.real.matches(key, key_hash)


def test_an_unknown_prefix_still_costs_an_hmac(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        hasher = RecordingHasher()
        keys = ApiKeyService(hasher, store, clock=Clock())  # type: ignore[arg-type]
        made = await make_key(keys)
        hasher.compared.clear()  # the creation checked the store's check value
        stranger, _ = ApiKeyHasher(SECRET).new_key()
        with pytest.raises(InvalidApiKeyError):
            await keys.authenticate(stranger)
        await keys.authenticate(made.key)
        unknown, known = hasher.compared
        assert known == made.record.key_hash
        # a well-formed hash (so the C++ side computes the HMAC before comparing) that no key has
        assert len(unknown) == len(known) == 64 and int(unknown, 16) >= 0
        assert not ApiKeyHasher(SECRET).matches(stranger, unknown)

    backend.run(scenario)


# --- the cache and revocation across instances ---------------------------------------------------


@pytest.mark.parametrize("ttl", [5.0, 0.0])
def test_revocation_on_another_instance_takes_effect_within_the_ttl(
    backend: Backend, ttl: float
) -> None:
    clock = Clock()

    async def scenario(store_a: Store, store_b: Store) -> None:
        counted = CountingStore(store_a)
        a = service(counted, clock, cache_ttl=ttl)
        b = service(store_b, clock, cache_ttl=ttl)
        made = await make_key(b)
        assert (await a.authenticate(made.key)).subject == "user-1"  # a caches it (ttl > 0)
        clock.advance(1)
        assert await b.revoke(OWNER, made.record.id) is True
        with pytest.raises(InvalidApiKeyError):  # b forgets its own copy at once
            await b.authenticate(made.key)
        if ttl == 0:
            with pytest.raises(InvalidApiKeyError) as excinfo:
                await a.authenticate(made.key)
            assert reason(excinfo) == "revoked"
            assert counted.lookups == 2  # every request asked the store
            return
        # a's cached answer holds until ttl seconds after a read it ...
        clock.advance(ttl - 1 - 0.001)
        assert (await a.authenticate(made.key)).subject == "user-1"
        assert counted.lookups == 1
        # ... and not a moment longer
        clock.advance(0.001)
        with pytest.raises(InvalidApiKeyError) as excinfo:
            await a.authenticate(made.key)
        assert reason(excinfo) == "revoked"
        assert counted.lookups == 2

    backend.run(scenario, stores=2)


@pytest.mark.parametrize("ttl", [5.0, 0.0])
def test_unknown_prefix_and_wrong_secret_take_the_same_path(backend: Backend, ttl: float) -> None:
    """Issue 20 item 9: an unknown prefix and a known prefix with a wrong secret cost the same,
    with the key cache on and off: the same store look-ups (an absent key is remembered as
    long as a present one) and the same HMAC comparison. Timing itself is measured by
    ``make bench`` (benchmarks/api_keys.py), not asserted here."""
    clock = Clock()

    async def scenario(store: Store) -> None:
        counted = CountingStore(store)
        hasher = RecordingHasher()
        keys = ApiKeyService(hasher, counted, clock=clock, cache_ttl=ttl)  # type: ignore[arg-type]
        made = await make_key(keys)
        hasher.compared.clear()
        stranger, _ = ApiKeyHasher(SECRET).new_key()
        at = len(made.record.prefix) + 5
        wrong_secret = made.key[:at] + _flip(made.key[at]) + made.key[at + 1 :]
        paths = {}
        for name, key in (("unknown prefix", stranger), ("wrong secret", wrong_secret)):
            before, compared = counted.lookups, len(hasher.compared)
            for _ in range(3):
                with pytest.raises(InvalidApiKeyError) as excinfo:
                    await keys.authenticate(key)
                assert reason(excinfo) == "unknown"
            clock.advance(ttl or 1)  # past the TTL: each is looked up again, once
            with pytest.raises(InvalidApiKeyError):
                await keys.authenticate(key)
            paths[name] = (counted.lookups - before, len(hasher.compared) - compared)
        # cache on: one look-up per TTL for each; off: one per request for each. Four HMACs.
        expected = (2, 4) if ttl else (4, 4)
        assert paths == {"unknown prefix": expected, "wrong secret": expected}

    backend.run(scenario)


def test_negative_cache_ttl_is_refused(backend: Backend) -> None:
    async def scenario(store: Store) -> None:
        with pytest.raises(ConfigurationError):
            service(store, Clock(), cache_ttl=-1)
        with pytest.raises(ConfigurationError):
            service(store, Clock(), touch_interval=-1)

    backend.run(scenario)


# --- last_used_at --------------------------------------------------------------------------------


def test_last_used_is_written_at_most_once_a_minute(backend: Backend) -> None:
    clock = Clock()

    async def scenario(store_a: Store, store_b: Store) -> None:
        counted_a, counted_b = CountingStore(store_a), CountingStore(store_b)
        a = service(counted_a, clock, cache_ttl=0)
        b = service(counted_b, clock, cache_ttl=0)
        made = await make_key(a)
        assert made.record.last_used_at is None

        for _ in range(20):  # a burst: one write
            await a.authenticate(made.key)
            clock.advance(1)
        assert (counted_a.touch_calls, counted_a.touch_writes) == (1, 1)
        stored = await store_a.get_api_key_by_id(made.record.id)
        assert stored is not None and stored.last_used_at == T0

        # the other instance sees the recent write and does not even try
        await b.authenticate(made.key)
        assert counted_b.touch_calls == 0

        clock.now = T0 + 59.999
        await a.authenticate(made.key)
        assert counted_a.touch_writes == 1
        clock.now = T0 + 60
        await a.authenticate(made.key)
        await a.authenticate(made.key)
        assert counted_a.touch_writes == 2
        stored = await store_a.get_api_key_by_id(made.record.id)
        assert stored is not None and stored.last_used_at == T0 + 60

        # two instances that both decide to write (each holds a cached record saying the last
        # use is old): the store's conditional write lets one through
        counted_c, counted_d = CountingStore(store_a), CountingStore(store_b)
        c = service(counted_c, clock, cache_ttl=3600)
        d = service(counted_d, clock, cache_ttl=3600)
        await c.authenticate(made.key)
        await d.authenticate(made.key)
        assert counted_c.touch_calls == counted_d.touch_calls == 0  # T0 + 60 is recent
        clock.now = T0 + 130
        await c.authenticate(made.key)
        await d.authenticate(made.key)  # its cached copy still says T0 + 60
        assert (counted_c.touch_calls, counted_d.touch_calls) == (1, 1)
        assert counted_c.touch_writes + counted_d.touch_writes == 1
        listed = await a.list(OWNER)
        assert listed[0].last_used_at == T0 + 130

    backend.run(scenario, stores=2)


# --- the store going away ------------------------------------------------------------------------


async def _eventually(call: Callable[[], Awaitable[Any]], within: float = 60.0) -> Any:
    """``call()``'s answer once it stops raising StoreError (bounded: ``within`` seconds)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await call()
        except StoreError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)


async def _take_down(backend: Backend, store: Store) -> Callable[[], Awaitable[None]]:
    """Make the database unusable under ``store``; returns how to bring it back."""
    if backend.server is not None:  # PostgreSQL: the server stops, connections are cut
        server = backend.server
        await asyncio.to_thread(server.stop)
        return lambda: asyncio.to_thread(server.start)
    # SQLite: the file is moved away under a closed store and a directory takes its place, so the
    # store's next connection attempt fails
    from tokenward.stores.sqlite import SQLiteStore

    assert isinstance(store, SQLiteStore)
    await store.close()
    path = Path(store.path)
    away = path.with_name(path.name + ".away")
    path.rename(away)
    path.mkdir()

    async def bring_back() -> None:
        path.rmdir()
        away.rename(path)

    return bring_back


def test_store_down_is_a_store_error(backend: Backend) -> None:
    clock = Clock()

    async def scenario(store: Store) -> None:
        keys = service(store, clock, cache_ttl=0)
        cached = service(store, clock, cache_ttl=120)
        made = await make_key(keys)
        await cached.authenticate(made.key)
        bring_back = await _take_down(backend, store)
        try:
            with pytest.raises(StoreError):
                await keys.authenticate(made.key)
            with pytest.raises(StoreError):
                await make_key(keys, name="while down")
            with pytest.raises(StoreError):
                await keys.list(OWNER)
            with pytest.raises(StoreError):
                await keys.revoke(OWNER, made.record.id)
            # a key checked within the TTL is still served from memory, and the failed
            # last_used_at write does not turn a good key into an error
            clock.advance(61)
            assert (await cached.authenticate(made.key)).subject == "user-1"
        finally:
            await bring_back()
        # the store comes back by itself (a pool may wait out its reconnection back-off first),
        # and nothing was written while it was down
        principal = await _eventually(lambda: keys.authenticate(made.key))
        assert principal.subject == "user-1"
        assert [(r.name, r.revoked_at) for r in await keys.list(OWNER)] == [("ci", None)]

    backend.run(scenario)
