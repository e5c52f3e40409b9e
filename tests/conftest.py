"""Project-wide pytest hooks and fixtures: the banner for missing shared test vectors, and one
throwaway PostgreSQL server for the whole session (tests/pg_server.py) with a fresh empty
database on it per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


ROOT = Path(__file__).resolve().parents[1]
SHARED_VECTORS = ROOT.parent / "shared" / "vectors"
# The suites that read ../shared/vectors, and the directory each needs.
VECTOR_SUITES = {
    "tests/vectors/test_wycheproof_aead.py": "wycheproof",
    "tests/vectors/test_wycheproof_jws.py": "wycheproof",
    "tests/vectors/test_wycheproof_primitives.py": "wycheproof",
    "tests/vectors/test_ignis_vectors.py": "ignis",
}


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say loudly, last, when the shared test vectors were absent and their suites did not run.

    A clone without ../shared passes `make test` while skipping thousands of known-answer tests;
    this banner makes that impossible to miss.
    """
    missing = sorted({d for d in VECTOR_SUITES.values() if not (SHARED_VECTORS / d).is_dir()})
    if not missing:
        return
    suites = [s for s, d in VECTOR_SUITES.items() if d in missing]
    terminalreporter.write_sep("!", "TEST VECTORS MISSING: these suites did not run", red=True)
    terminalreporter.write_line(f"not found: {', '.join(str(SHARED_VECTORS / d) for d in missing)}")
    for suite in suites:
        terminalreporter.write_line(f"  skipped: {suite}")
    if "wycheproof" in missing:
        terminalreporter.write_line(
            "get the Wycheproof vectors (needs a network): bash scripts/fetch-vectors.sh"
        )
    if "ignis" in missing:
        terminalreporter.write_line(
            "the Ignis vectors come with the project's shared directory (../shared/vectors/ignis);"
            " their known answers also run from tests/test_ignis_format.py"
        )
    terminalreporter.write_sep("!", "the run above is incomplete", red=True)
