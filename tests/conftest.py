"""Fixtures shared across the test tree: one throwaway PostgreSQL server for the whole session
(tests/pg_server.py), and a fresh empty database on it per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from tests.pg_server import PostgresServer

_names = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """A new empty database on the session's server."""
    return pg_server.create_database(f"t{next(_names)}")
