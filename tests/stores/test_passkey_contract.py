"""The PasskeyStore contract (WebAuthn credentials, several per user, and the single-use
challenges of their ceremonies): every test runs on SQLite, on PostgreSQL and on the memory
store (the ``backend`` fixture)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

import pytest

from tokenward.exceptions import DuplicateKeyError, UnstorableValueError
from tokenward.stores import PasskeyRecord, PasskeyStore

if TYPE_CHECKING:
    from tests.stores.conftest import Backend

NOW = 1_700_000_000.0
KEY = bytes(range(77))  # the shape of a COSE EC2 key; the store does not parse it


def passkey(credential_id: str, user_id: str = "u1", **fields: Any) -> PasskeyRecord:
    values: dict[str, Any] = {
        "public_key": KEY,
        "sign_count": 0,
        "name": "laptop",
        "created_at": NOW,
    }
    values.update(fields)
    return PasskeyRecord(id=credential_id, user_id=user_id, **values)


def test_every_backend_is_a_passkey_store(backend: Backend) -> None:
    async def scenario(store: PasskeyStore) -> None:
        assert isinstance(store, PasskeyStore)

    backend.run(scenario)


def test_add_get_list_several_per_user(backend: Backend) -> None:
    async def scenario(store: PasskeyStore) -> None:
        first = passkey(
            "cred-b",
            transports=("internal", "hybrid", "internal"),
            aaguid="adce0002-35bc-c60a-648b-0b25f1f05503",
            backup_eligible=True,
            backed_up=True,
            sign_count=7,
        )
        await store.add_passkey(first)
        await store.add_passkey(passkey("cred-a", name="phone", created_at=NOW + 1))
        await store.add_passkey(passkey("cred-c", user_id="u2"))
        got = await store.get_passkey("cred-b")
        assert got == dataclasses.replace(first, transports=("internal", "hybrid"))
        assert isinstance(got.public_key, bytes) and got.public_key == KEY
        assert (got.last_used_at, got.backup_eligible, got.backed_up) == (None, True, True)
        assert [p.id for p in await store.list_passkeys("u1")] == ["cred-b", "cred-a"]
        assert [p.id for p in await store.list_passkeys("u2")] == ["cred-c"]
        assert await store.list_passkeys("nobody") == []
        assert await store.get_passkey("nope") is None
        with pytest.raises(DuplicateKeyError):  # credential ids are unique across users
            await store.add_passkey(passkey("cred-b", user_id="u2"))
        assert (await store.get_passkey("cred-b")) == got

    backend.run(scenario)


def test_bad_records_are_refused_before_any_write(backend: Backend) -> None:
    async def scenario(store: PasskeyStore) -> None:
        for bad in (
            passkey(""),
            passkey("c", user_id=""),
            passkey("c", public_key=b""),
            passkey("c", public_key=b"x" * 5000),
            passkey("c", sign_count=-1),
            passkey("c", sign_count=2**32),
            passkey("c", sign_count=True),
            passkey("c", name=""),
            passkey("c", name="n" * 65),
            passkey("c", transports=("usb", "")),
        ):
            with pytest.raises(ValueError):
                await store.add_passkey(bad)
        for bad in (passkey("c\x00"), passkey("c", name="a\ud800"), passkey("c", user_id="\0")):
            with pytest.raises(UnstorableValueError):
                await store.add_passkey(bad)
        assert await store.list_passkeys("u1") == []
        assert await store.get_passkey("c\x00") is None  # a look-up with one finds nothing

    backend.run(scenario)


def test_rename_and_revoke_are_owner_scoped(backend: Backend) -> None:
    async def scenario(store: PasskeyStore) -> None:
        await store.add_passkey(passkey("c1"))
        await store.add_passkey(passkey("c2"))
        assert not await store.rename_passkey("c1", user_id="u2", name="stolen")
        assert not await store.rename_passkey("nope", user_id="u1", name="x")
        assert await store.rename_passkey("c1", user_id="u1", name="YubiKey 5")
        assert (await store.get_passkey("c1")).name == "YubiKey 5"  # type: ignore[union-attr]
        with pytest.raises(ValueError):
            await store.rename_passkey("c1", user_id="u1", name="")
        assert not await store.revoke_passkey("c1", user_id="u2")
        assert await store.get_passkey("c1") is not None
        assert await store.revoke_passkey("c1", user_id="u1")
        assert not await store.revoke_passkey("c1", user_id="u1")  # once
        assert await store.get_passkey("c1") is None
        assert [p.id for p in await store.list_passkeys("u1")] == ["c2"]
        await store.add_passkey(passkey("c3"))
        assert await store.delete_passkeys("u1") == 2
        assert await store.list_passkeys("u1") == []
        assert not await store.revoke_passkey("x\0", user_id="u1")

    backend.run(scenario)


def test_the_counter_only_moves_forward(backend: Backend) -> None:
    """WebAuthn §6.1.1, as py_webauthn checks it: when either counter is non-zero the new one
    must be greater; 0 after 0 is an authenticator without a counter (synced passkeys)."""

    async def scenario(store: PasskeyStore) -> None:
        await store.add_passkey(passkey("zero"))
        assert await store.use_passkey("zero", sign_count=0, now=NOW + 1, backed_up=True)
        assert await store.use_passkey("zero", sign_count=0, now=NOW + 2, backed_up=True)
        got = await store.get_passkey("zero")
        assert got is not None and (got.sign_count, got.last_used_at) == (0, NOW + 2)
        assert got.backed_up

        await store.add_passkey(passkey("count", sign_count=5))
        assert not await store.use_passkey("count", sign_count=5, now=NOW, backed_up=False)
        assert not await store.use_passkey("count", sign_count=4, now=NOW, backed_up=False)
        assert not await store.use_passkey("count", sign_count=0, now=NOW, backed_up=False)
        assert await store.use_passkey("count", sign_count=6, now=NOW + 3, backed_up=False)
        assert not await store.use_passkey("count", sign_count=6, now=NOW + 4, backed_up=False)
        got = await store.get_passkey("count")
        assert got is not None and (got.sign_count, got.last_used_at) == (6, NOW + 3)
        # a counter that started at 0 and then moved may not go back to 0
        assert await store.use_passkey("zero", sign_count=1, now=NOW, backed_up=True)
        assert not await store.use_passkey("zero", sign_count=0, now=NOW, backed_up=True)
        assert not await store.use_passkey("nope", sign_count=9, now=NOW, backed_up=True)
        with pytest.raises(ValueError):
            await store.use_passkey("count", sign_count=-1, now=NOW, backed_up=True)

    backend.run(scenario)


def test_challenges_are_single_use_bound_and_expire(backend: Backend) -> None:
    async def scenario(store: PasskeyStore) -> None:
        add = store.add_passkey_challenge
        await add("h-reg", purpose="register", user_id="u1", expires_at=NOW + 300, now=NOW)
        await add("h-in", purpose="authenticate", user_id=None, expires_at=NOW + 300, now=NOW)
        await add("h-up", purpose="authenticate", user_id="u1", expires_at=NOW + 300, now=NOW)
        await add("h-old", purpose="register", user_id="u1", expires_at=NOW + 10, now=NOW)
        with pytest.raises(DuplicateKeyError):
            await add("h-reg", purpose="register", user_id="u2", expires_at=NOW + 1, now=NOW)
        for bad in (("", "register", None), ("h", "login", None), ("h", "register", "")):
            with pytest.raises(ValueError):
                await add(bad[0], purpose=bad[1], user_id=bad[2], expires_at=NOW, now=NOW)

        consume = store.consume_passkey_challenge
        # another purpose, another user, or none where one is bound: left as it is
        assert not await consume("h-reg", purpose="authenticate", user_id="u1", now=NOW)
        assert not await consume("h-reg", purpose="register", user_id="u2", now=NOW)
        assert not await consume("h-reg", purpose="register", user_id=None, now=NOW)
        assert not await consume("h-in", purpose="authenticate", user_id="u1", now=NOW)
        assert not await consume("h-up", purpose="authenticate", user_id=None, now=NOW)
        assert await consume("h-reg", purpose="register", user_id="u1", now=NOW + 1)
        assert not await consume("h-reg", purpose="register", user_id="u1", now=NOW + 1)
        assert await consume("h-in", purpose="authenticate", user_id=None, now=NOW + 1)
        assert await consume("h-up", purpose="authenticate", user_id="u1", now=NOW + 1)
        assert not await consume("h-old", purpose="register", user_id="u1", now=NOW + 10)
        assert not await consume("x\0", purpose="register", user_id="u1", now=NOW)
        assert await store.purge_passkey_challenges(before=NOW + 10) == 1
        assert await store.purge_passkey_challenges(before=NOW + 10) == 0

    backend.run(scenario)


def test_a_burst_consumes_one_challenge_once(backend: Backend) -> None:
    """Twenty consumers at once, on four connections (instances): exactly one wins."""

    async def scenario(*stores: PasskeyStore) -> list[bool]:
        await stores[0].add_passkey_challenge(
            "burst", purpose="authenticate", user_id="u1", expires_at=NOW + 300, now=NOW
        )
        return await asyncio.gather(
            *(
                stores[i % len(stores)].consume_passkey_challenge(
                    "burst", purpose="authenticate", user_id="u1", now=NOW + 1
                )
                for i in range(20)
            )
        )

    results = backend.run(scenario, stores=4)
    assert sorted(results) == [False] * 19 + [True]


def test_a_burst_of_one_counter_value_is_accepted_once(backend: Backend) -> None:
    """Twenty uses presenting the same counter at once (a replayed assertion racing the first):
    one moves the counter, the others find it moved."""

    async def scenario(*stores: PasskeyStore) -> list[bool]:
        await stores[0].add_passkey(passkey("raced", sign_count=3))
        return await asyncio.gather(
            *(
                stores[i % len(stores)].use_passkey(
                    "raced", sign_count=4, now=NOW + 1, backed_up=False
                )
                for i in range(20)
            )
        )

    results = backend.run(scenario, stores=4)
    assert sorted(results) == [False] * 19 + [True]
