"""The UserStore contract (accounts, unique by normalised email, and their single-use tokens):
every test runs on SQLite, on PostgreSQL and on the memory store (the ``backend`` fixture)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tokenward.exceptions import DuplicateKeyError, DuplicateUserError, UnstorableValueError
from tokenward.stores import UserRecord, UserStore
from tokenward.users import normalize_email

if TYPE_CHECKING:
    from tests.stores.conftest import Backend

NOW = 1_700_000_000.0
FULLWIDTH_ALICE = "\uff21\uff2c\uff29\uff23\uff25"  # ALICE in fullwidth letters (NFKC: ALICE)
FULLWIDTH_EXAMPLE = "\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45"
HASH = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"


def user(user_id: str, email: str, **fields: Any) -> UserRecord:
    return UserRecord(
        id=user_id,
        email=normalize_email(email),
        password_hash=fields.pop("password_hash", HASH),
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )


def test_every_backend_is_a_user_store(backend: Backend) -> None:
    async def scenario(store: UserStore) -> None:
        assert isinstance(store, UserStore)

    backend.run(scenario)


def test_normalize_email_trims_folds_case_and_nfkc() -> None:
    assert normalize_email("  Alice@Example.COM \n") == "alice@example.com"
    fullwidth = FULLWIDTH_ALICE + "@" + FULLWIDTH_EXAMPLE + ".com"
    assert normalize_email(fullwidth) == "alice@example.com"
    assert normalize_email("Straße@example.com") == "strasse@example.com"
    assert normalize_email("\u212bngstr\u00f6m@x.se") == normalize_email("\u00c5ngstro\u0308m@x.se")


def test_create_and_get_by_id_and_by_email(backend: Backend) -> None:
    async def scenario(store: UserStore) -> None:
        made = await store.create_user(
            user(
                "u1",
                "Alice@Example.com",
                groups=("staff", "staff", "ops"),
                roles=("admin",),
                attributes={"name": "Alice", "newsletter": True, "age": 30},
            )
        )
        assert made.groups == ("staff", "ops")  # repeats dropped, order kept
        got = await store.get_user("u1")
        assert got == made
        assert got.email == "alice@example.com"
        assert got.password_hash == HASH
        assert (got.email_verified, got.disabled, got.last_sign_in_at) == (False, False, None)
        assert got.roles == ("admin",)
        assert got.attributes == {"name": "Alice", "newsletter": True, "age": 30}
        assert await store.get_user_by_email("alice@example.com") == made
        assert await store.get_user_by_email("Alice@Example.com") is None  # stores compare as given
        assert await store.get_user("nobody") is None
        assert await store.get_user_by_email("nobody@example.com") is None
        bare = await store.create_user(user("u2", "b@example.com", password_hash=None))
        assert (await store.get_user("u2")) == bare and bare.password_hash is None

    backend.run(scenario)


@pytest.mark.parametrize(
    "second",
    [
        "alice@example.com",
        " ALICE@example.com",
        FULLWIDTH_ALICE + "@example.com",
        "alice@EXAMPLE.COM",
    ],
)
def test_a_taken_email_is_a_duplicate_however_spelled(backend: Backend, second: str) -> None:
    async def scenario(store: UserStore) -> None:
        await store.create_user(user("u1", "Alice@example.com"))
        with pytest.raises(DuplicateUserError):
            await store.create_user(user("u2", second))
        with pytest.raises(DuplicateUserError):  # a taken id too
            await store.create_user(user("u1", "other@example.com"))
        assert [u.id for u in await store.list_users()] == ["u1"]

    backend.run(scenario)


def test_concurrent_sign_ups_with_one_email_make_one_user(backend: Backend) -> None:
    async def scenario(*stores: UserStore) -> None:
        async def one(i: int) -> bool:
            try:
                await stores[i % len(stores)].create_user(user(f"u{i}", "race@example.com"))
            except DuplicateUserError:
                return False
            return True

        results = await asyncio.gather(*(one(i) for i in range(12)))
        assert results.count(True) == 1
        assert len(await stores[0].list_users()) == 1

    backend.run(scenario, stores=3)


def test_bad_records_are_refused_before_anything_is_written(backend: Backend) -> None:
    async def scenario(store: UserStore) -> None:
        with pytest.raises(ValueError):
            await store.create_user(user("", "a@example.com"))
        with pytest.raises(ValueError):
            await store.create_user(user("u1", ""))
        with pytest.raises(ValueError):
            await store.create_user(user("u1", "a@example.com", groups="staff"))
        with pytest.raises(ValueError):
            await store.create_user(user("u1", "a@example.com", attributes={"x": [1]}))
        with pytest.raises(ValueError):
            await store.create_user(user("u1", "a@example.com", attributes={"x": float("nan")}))
        with pytest.raises(ValueError):
            await store.update_user("u1", now=NOW, attributes={"x": float("inf")})
        for bad in ("a\x00b", "a\ud800b"):
            with pytest.raises(UnstorableValueError):
                await store.create_user(user("u1", f"{bad}@example.com"))
            with pytest.raises(UnstorableValueError):
                await store.create_user(user("u1", "a@example.com", roles=(bad,)))
            assert await store.get_user(bad) is None
            assert await store.get_user_by_email(bad) is None
            assert await store.consume_user_token(bad, purpose="verify-email", now=NOW) is None
            with pytest.raises(UnstorableValueError):
                await store.update_user("u1", now=NOW, password_hash=bad)
        assert await store.list_users() == []

    backend.run(scenario)


def test_update_changes_only_the_fields_given(backend: Backend) -> None:
    async def scenario(store: UserStore) -> None:
        await store.create_user(user("u1", "a@example.com", attributes={"name": "A"}))
        new = await store.update_user("u1", now=NOW + 5, email_verified=True, groups=["g1"])
        assert new is not None
        assert (new.email_verified, new.groups, new.updated_at) == (True, ("g1",), NOW + 5)
        assert (new.password_hash, new.disabled, new.roles) == (HASH, False, ())
        assert new.attributes == {"name": "A"} and new.created_at == NOW
        new = await store.update_user(
            "u1",
            now=NOW + 6,
            password_hash="$argon2id$v=19$new",
            disabled=True,
            roles=("r1", "r2"),
            groups=(),
            attributes={"name": "B"},
        )
        assert new is not None
        assert (new.password_hash, new.disabled, new.roles, new.groups) == (
            "$argon2id$v=19$new",
            True,
            ("r1", "r2"),
            (),
        )
        assert new.email_verified is True and new.attributes == {"name": "B"}
        cleared = await store.update_user("u1", now=NOW + 7, password_hash=None)
        assert cleared is not None and cleared.password_hash is None
        assert await store.get_user("u1") == cleared
        assert await store.update_user("nobody", now=NOW, disabled=True) is None

    backend.run(scenario)


def test_record_sign_in(backend: Backend) -> None:
    async def scenario(store: UserStore) -> None:
        await store.create_user(user("u1", "a@example.com"))
        assert await store.record_sign_in("u1", now=NOW + 9) is True
        found = await store.get_user("u1")
        assert found is not None
        assert (found.last_sign_in_at, found.updated_at) == (NOW + 9, NOW)
        assert await store.record_sign_in("nobody", now=NOW) is False

    backend.run(scenario)


def test_list_users_pages_by_id(backend: Backend) -> None:
    async def scenario(store: UserStore) -> None:
        ids = [f"u{i:02d}" for i in range(7)] + ["U-upper", "u_x", "é"]
        for i in reversed(ids):
            await store.create_user(user(i, f"{i}@example.com"))
        expected = sorted(ids)  # code-point order
        seen: list[str] = []
        after: str | None = None
        while True:
            page = await store.list_users(limit=3, after=after)
            seen += [u.id for u in page]
            if len(page) < 3:
                break
            after = page[-1].id
        assert seen == expected
        assert [u.id for u in await store.list_users(limit=1000)] == expected
        for bad in (0, 1001):
            with pytest.raises(ValueError):
                await store.list_users(limit=bad)

    backend.run(scenario)


def test_a_token_is_consumed_once_for_its_purpose_before_it_expires(backend: Backend) -> None:
    async def scenario(store: UserStore) -> None:
        await store.add_user_token(
            "h1", user_id="u1", purpose="verify-email", expires_at=NOW + 60, now=NOW
        )
        await store.add_user_token(
            "h2", user_id="u1", purpose="reset-password", expires_at=NOW + 60, now=NOW
        )
        with pytest.raises(DuplicateKeyError):
            await store.add_user_token(
                "h1", user_id="u2", purpose="verify-email", expires_at=NOW + 60, now=NOW
            )
        # another purpose neither finds nor spends it
        assert await store.consume_user_token("h1", purpose="reset-password", now=NOW) is None
        assert await store.consume_user_token("h2", purpose="verify-email", now=NOW) is None
        assert await store.consume_user_token("h1", purpose="verify-email", now=NOW) == "u1"
        assert await store.consume_user_token("h1", purpose="verify-email", now=NOW) is None
        assert await store.consume_user_token("h2", purpose="reset-password", now=NOW) == "u1"
        assert await store.consume_user_token("nope", purpose="verify-email", now=NOW) is None

    backend.run(scenario)


def test_an_expired_token_is_never_consumed_and_purge_removes_it(backend: Backend) -> None:
    async def scenario(store: UserStore) -> None:
        for h, expires in (("old", NOW + 10), ("new", NOW + 100)):
            await store.add_user_token(
                h, user_id="u1", purpose="reset-password", expires_at=expires, now=NOW
            )
        assert await store.consume_user_token("old", purpose="reset-password", now=NOW + 10) is None
        assert await store.consume_user_token("old", purpose="reset-password", now=NOW + 11) is None
        assert await store.purge_user_tokens(before=NOW + 10) == 1
        assert await store.purge_user_tokens(before=NOW + 10) == 0
        assert await store.consume_user_token("new", purpose="reset-password", now=NOW + 99) == "u1"

    backend.run(scenario)


def test_deleting_a_users_tokens(backend: Backend) -> None:
    async def scenario(store: UserStore) -> None:
        for h, owner, purpose in (
            ("a", "u1", "reset-password"),
            ("b", "u1", "reset-password"),
            ("c", "u1", "verify-email"),
            ("d", "u2", "reset-password"),
        ):
            await store.add_user_token(
                h, user_id=owner, purpose=purpose, expires_at=NOW + 60, now=NOW
            )
        assert await store.delete_user_tokens("u1", purpose="reset-password") == 2
        assert await store.consume_user_token("a", purpose="reset-password", now=NOW) is None
        assert await store.delete_user_tokens("u1") == 1
        assert await store.consume_user_token("d", purpose="reset-password", now=NOW) == "u2"

    backend.run(scenario)


def test_a_burst_of_concurrent_consumes_gets_exactly_one_success(backend: Backend) -> None:
    """Many consumers of one token at once, over several connections (instances, for the SQL
    stores): exactly one gets the user id."""

    async def scenario(*stores: UserStore) -> None:
        for round_ in range(5):
            token = f"burst-{round_}"
            await stores[0].add_user_token(
                token, user_id="u1", purpose="reset-password", expires_at=NOW + 60, now=NOW
            )
            results = await asyncio.gather(
                *(
                    stores[i % len(stores)].consume_user_token(
                        token, purpose="reset-password", now=NOW
                    )
                    for i in range(24)
                )
            )
            assert results.count("u1") == 1
            assert results.count(None) == 23

    backend.run(scenario, stores=4)


def test_a_version_4_sqlite_file_gains_the_user_tables(tmp_path: Path) -> None:
    """A file at versions 1 to 4, with data, is migrated to 5 on open; what it held stays."""
    from tokenward.stores._sqlite_schema import MIGRATIONS
    from tokenward.stores.sqlite import SQLiteStore

    path = tmp_path / "v4.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE tokenward_schema_version (version INTEGER NOT NULL)")
    for number, statements in MIGRATIONS:
        if number <= 4:
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO tokenward_schema_version VALUES (?)", (number,))
    conn.execute(
        "INSERT INTO tokenward_role_assignments VALUES ('u1', 'organization', 'o1', 'owner')"
    )
    conn.close()

    async def scenario() -> None:
        store = SQLiteStore(path)
        try:
            await store.open()
            assert await store.schema_version() == 8
            assert len(await store.role_assignments("u1")) == 1
            await store.create_user(user("u1", "a@example.com"))
            assert await store.get_user_by_email("a@example.com") is not None
        finally:
            await store.close()

    asyncio.run(scenario())
    versions = sqlite3.connect(path).execute("SELECT version FROM tokenward_schema_version")
    assert sorted(v for (v,) in versions) == [1, 2, 3, 4, 5, 6, 7, 8]


def test_a_version_4_postgres_database_gains_the_user_tables(pg_url: str) -> None:
    """A database at versions 2 to 4, with data, is migrated to 5 on open."""
    psycopg = pytest.importorskip("psycopg")
    from tokenward.stores.postgres import _MIGRATIONS, PostgresStore

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE tokenward_schema_version (version INTEGER NOT NULL)")
        for number, statements in _MIGRATIONS:
            if number <= 4:
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO tokenward_schema_version VALUES (%s)", (number,))
        conn.execute(
            "INSERT INTO tokenward_role_assignments VALUES ('u1', 'organization', 'o1', 'owner')"
        )

    async def scenario() -> None:
        store = PostgresStore(pg_url)
        try:
            await store.open()
            assert await store.schema_version() == 8
            assert len(await store.role_assignments("u1")) == 1
            await store.create_user(user("u1", "a@example.com"))
            assert await store.get_user_by_email("a@example.com") is not None
        finally:
            await store.close()

    asyncio.run(scenario())
    with psycopg.connect(pg_url) as conn:
        found = sorted(v for (v,) in conn.execute("SELECT version FROM tokenward_schema_version"))
    assert found == [2, 3, 4, 5, 6, 7, 8]
