"""Fixtures of the store tests: ``backend``, which runs a contract test once on SQLite, once on
PostgreSQL (the session's throwaway server, tests/conftest.py) and once on the in-memory store
(``memory://``), each time on a fresh, empty database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tokenward.stores import Store


@dataclass
class Backend:
    """How to make stores on one fresh database (several stores = several connections)."""

    name: str
    make: Callable[..., Store]

    def run(self, scenario: Callable[..., Awaitable[Any]], *, stores: int = 1) -> Any:
        """``scenario(*stores)`` in a new event loop, with the stores opened and closed around
        it."""

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


@pytest.fixture(params=["sqlite", "postgres", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "memory":
        from tokenward.stores.memory import MemoryStore

        name = f"contract-{uuid.uuid4().hex}"  # one database, shared by the test's stores
        return Backend("memory", lambda **kw: MemoryStore(name, **kw))
    if request.param == "sqlite":
        from tokenward.stores.sqlite import SQLiteStore

        path = tmp_path / "tokenward.db"
        return Backend("sqlite", lambda **kw: SQLiteStore(path, **kw))
    from tokenward.stores.postgres import PostgresStore

    url = request.getfixturevalue("pg_url")
    return Backend("postgres", lambda **kw: PostgresStore(url, **kw))
