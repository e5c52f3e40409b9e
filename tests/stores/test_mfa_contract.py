"""The MfaStore contract (TOTP factors, the last accepted step, recovery codes, sign-ins waiting
for a second factor): every test runs on SQLite, on PostgreSQL and on the memory store (the
``backend`` fixture), the bursts over several connections (instances) at once."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tokenward.exceptions import DuplicateKeyError, UnstorableValueError
from tokenward.mfa import RecoveryCodeStore, TotpSteps
from tokenward.stores import MfaStore, PendingSignIn

if TYPE_CHECKING:
    from tests.stores.conftest import Backend

NOW = 1_700_000_000.0
SECRET = "tw1.ciphertext-of-a-totp-secret"


def test_every_backend_is_an_mfa_store(backend: Backend) -> None:
    async def scenario(store: MfaStore) -> None:
        assert isinstance(store, MfaStore)
        steps: TotpSteps = store  # structurally both (mypy checks it)
        codes: RecoveryCodeStore = store
        assert steps is codes

    backend.run(scenario)


def test_enrol_confirm_and_delete(backend: Backend) -> None:
    async def scenario(store: MfaStore) -> None:
        assert await store.get_totp("u1") is None
        assert await store.confirm_totp("u1", now=NOW) is False
        assert await store.begin_totp("u1", SECRET, ["h1", "h2"], now=NOW)
        found = await store.get_totp("u1")
        assert found is not None and not found.confirmed
        assert (found.user_id, found.secret, found.created_at) == ("u1", SECRET, NOW)
        assert found.last_step is None
        assert sorted(await store.recovery_code_hashes("u1")) == ["h1", "h2"]
        # a pending factor is replaced by a new enrolment, its codes too, its step reset
        assert await store.accept_totp_step("u1", 10)
        assert await store.begin_totp("u1", "tw1.other", ["h3"], now=NOW + 1)
        found = await store.get_totp("u1")
        assert found is not None and found.secret == "tw1.other" and found.last_step is None
        assert await store.recovery_code_hashes("u1") == ["h3"]
        assert await store.confirm_totp("u1", now=NOW + 2)
        assert await store.confirm_totp("u1", now=NOW + 3) is False  # once
        found = await store.get_totp("u1")
        assert found is not None and found.confirmed and found.confirmed_at == NOW + 2
        # a confirmed factor is not replaced: it must be removed first
        assert await store.begin_totp("u1", "tw1.third", ["h4"], now=NOW + 4) is False
        found = await store.get_totp("u1")
        assert found is not None and found.secret == "tw1.other"
        assert await store.recovery_code_hashes("u1") == ["h3"]
        assert await store.delete_totp("u1")
        assert await store.delete_totp("u1") is False
        assert await store.get_totp("u1") is None
        assert await store.recovery_code_hashes("u1") == []
        assert await store.begin_totp("u1", SECRET, [], now=NOW + 5)  # again, from scratch

    backend.run(scenario)


def test_steps_are_accepted_only_upwards(backend: Backend) -> None:
    async def scenario(store: MfaStore) -> None:
        assert await store.accept_totp_step("u1", 5) is False  # no factor: nothing to remember
        await store.begin_totp("u1", SECRET, [], now=NOW)
        assert await store.accept_totp_step("u1", 5)
        assert await store.accept_totp_step("u1", 5) is False  # the same step: a replay
        assert await store.accept_totp_step("u1", 4) is False  # an older one
        assert await store.accept_totp_step("u1", 2**40)  # large steps (BIGINT)
        found = await store.get_totp("u1")
        assert found is not None and found.last_step == 2**40

    backend.run(scenario)


def test_recovery_codes_are_used_once_and_only_by_their_owner(backend: Backend) -> None:
    async def scenario(store: MfaStore) -> None:
        await store.begin_totp("u1", SECRET, ["a", "b"], now=NOW)
        await store.begin_totp("u2", SECRET, ["c"], now=NOW)
        assert await store.use_recovery_code("u2", "a") is False
        assert await store.use_recovery_code("u1", "a")
        assert await store.use_recovery_code("u1", "a") is False
        assert await store.recovery_code_hashes("u1") == ["b"]
        assert await store.recovery_code_hashes("u2") == ["c"]

    backend.run(scenario)


def test_pending_sign_ins_are_consumed_once_before_they_expire(backend: Backend) -> None:
    async def scenario(store: MfaStore) -> None:
        pending = PendingSignIn("u1", NOW + 300, "127.0.0.1", "curl/8", "read write")
        await store.add_pending_sign_in("t1", pending)
        with pytest.raises(DuplicateKeyError):
            await store.add_pending_sign_in("t1", pending)
        await store.add_pending_sign_in("t2", PendingSignIn("u1", NOW + 10))
        await store.add_pending_sign_in("t3", PendingSignIn("u2", NOW + 10))
        assert await store.get_pending_sign_in("t1", now=NOW) == pending
        assert await store.get_pending_sign_in("t1", now=NOW + 300) is None  # expired
        assert await store.get_pending_sign_in("nope", now=NOW) is None
        assert await store.consume_pending_sign_in("t1", now=NOW + 300) is None
        assert await store.consume_pending_sign_in("t1", now=NOW + 1) == pending
        assert await store.consume_pending_sign_in("t1", now=NOW + 1) is None
        assert await store.get_pending_sign_in("t1", now=NOW) is None
        assert await store.purge_pending_sign_ins(before=NOW + 10) == 2
        await store.add_pending_sign_in("t4", PendingSignIn("u1", NOW + 99))
        await store.add_pending_sign_in("t5", PendingSignIn("u2", NOW + 99))
        assert await store.delete_pending_sign_ins("u1") == 1
        assert await store.get_pending_sign_in("t5", now=NOW) is not None

    backend.run(scenario)


def test_unstorable_values_are_refused_or_find_nothing(backend: Backend) -> None:
    async def scenario(store: MfaStore) -> None:
        with pytest.raises(UnstorableValueError):
            await store.begin_totp("u\x00", SECRET, [], now=NOW)
        with pytest.raises(UnstorableValueError):
            await store.add_pending_sign_in("t", PendingSignIn("u1", NOW, user_agent="\ud800"))
        with pytest.raises(ValueError):
            await store.begin_totp("u1", SECRET, ["h"] * 33, now=NOW)
        assert await store.get_totp("\ud800") is None
        assert await store.use_recovery_code("u1", "\x00") is False
        assert await store.consume_pending_sign_in("\x00", now=NOW) is None
        assert await store.accept_totp_step("\ud800", 1) is False

    backend.run(scenario)


def test_bursts_of_the_same_step_code_and_token_get_exactly_one_success(backend: Backend) -> None:
    """Many callers at once, over three connections (instances, for the SQL stores), with one
    time step, one recovery code, one mfa_token: exactly one of each wins."""

    async def scenario(*stores: MfaStore) -> None:
        first = stores[0]
        await first.begin_totp("u1", SECRET, ["code"], now=NOW)
        await first.add_pending_sign_in("tok", PendingSignIn("u1", NOW + 300))
        n = 24
        steps = await asyncio.gather(
            *(stores[i % len(stores)].accept_totp_step("u1", 77) for i in range(n))
        )
        codes = await asyncio.gather(
            *(stores[i % len(stores)].use_recovery_code("u1", "code") for i in range(n))
        )
        tokens = await asyncio.gather(
            *(stores[i % len(stores)].consume_pending_sign_in("tok", now=NOW) for i in range(n))
        )
        assert steps.count(True) == 1
        assert codes.count(True) == 1
        assert sum(t is not None for t in tokens) == 1

    backend.run(scenario, stores=3)


def test_a_version_5_sqlite_file_gains_the_mfa_tables(tmp_path: Path) -> None:
    """A file at versions 1 to 5 is migrated to 6 on open; its users stay."""
    from tokenward.stores import _sqlite_schema as schema
    from tokenward.stores.sqlite import SQLiteStore

    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE tokenward_schema_version (version INTEGER NOT NULL)")
    for number, statements in schema.MIGRATIONS:
        if number <= 5:
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO tokenward_schema_version VALUES (?)", (number,))
    conn.execute(
        "INSERT INTO tokenward_users (id, email, created_at, updated_at)"
        " VALUES ('u1', 'a@example.com', 1, 1)"
    )
    conn.commit()
    conn.close()

    async def scenario() -> None:
        store = SQLiteStore(path)
        try:
            assert await store.schema_version() == 8
            assert await store.get_user("u1") is not None
            assert await store.begin_totp("u1", SECRET, ["h"], now=NOW)
        finally:
            await store.close()

    asyncio.run(scenario())
    versions = sqlite3.connect(path).execute("SELECT version FROM tokenward_schema_version")
    assert sorted(v for (v,) in versions) == [1, 2, 3, 4, 5, 6, 7, 8]
