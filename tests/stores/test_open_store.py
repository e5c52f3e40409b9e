"""open_store: a backend by URL scheme, and backends registered by others."""

from __future__ import annotations

import sys

import pytest

from tokenward import ConfigurationError
from tokenward.stores import Store, open_store, register_store
from tokenward.stores.sqlite import SQLiteStore


@pytest.mark.parametrize(
    ("url", "path"),
    [
        (":memory:", ":memory:"),
        ("sqlite://:memory:", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:////abs/olute.db", "/abs/olute.db"),
        ("SQLite:///upper.db", "upper.db"),
        ("plain/path.db", "plain/path.db"),
        ("  padded.db ", "padded.db"),
    ],
)
def test_sqlite_locations(url: str, path: str) -> None:
    store = open_store(url)
    assert isinstance(store, SQLiteStore)
    assert store.path == path


@pytest.mark.parametrize(
    "url", ["postgresql://u:secret@127.0.0.1:5999/db", "postgres://127.0.0.1/db"]
)
def test_postgres_locations(url: str) -> None:
    from tokenward.stores.postgres import PostgresStore

    store = open_store(url)  # does not connect
    assert isinstance(store, PostgresStore)
    assert "secret" not in repr(store)


@pytest.mark.parametrize("url", ["sqlite://rel.db", "sqlite://", "", "   "])
def test_unreadable_locations(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_store(url)


def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"'redis'.*postgres, postgresql, sqlite"):
        open_store("redis://127.0.0.1/0")


def test_register_store() -> None:
    made: list[str] = []

    def factory(url: str) -> Store:
        made.append(url)
        return SQLiteStore(":memory:")

    register_store("Memo", factory)
    try:
        assert isinstance(open_store("memo://anything"), SQLiteStore)
        assert made == ["memo://anything"]
        with pytest.raises(ConfigurationError, match="memo"):
            open_store("nope://x")
    finally:
        from tokenward import stores

        stores._factories.pop("memo")  # leave the registry as the other tests expect it


@pytest.mark.parametrize("scheme", ["", "a b", "x/y"])
def test_register_store_refuses_bad_schemes(scheme: str) -> None:
    with pytest.raises(ConfigurationError):
        register_store(scheme, lambda url: SQLiteStore())


def test_postgres_without_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the extra installed, the answer says how to install it."""
    monkeypatch.setitem(sys.modules, "psycopg", None)  # makes `import psycopg` fail
    monkeypatch.delitem(sys.modules, "tokenward.stores.postgres", raising=False)
    with pytest.raises(ConfigurationError, match=r"pip install 'tokenward\[postgres\]'"):
        open_store("postgresql://127.0.0.1/db")
