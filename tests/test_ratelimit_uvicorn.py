"""The login limits under real uvicorn, on SQLite and PostgreSQL: concurrent bursts of guesses
(issue 20 item 1) and the address the limits count whatever uvicorn does with X-Forwarded-For
(issue 20 item 3). The app is tests/limits_app.py.
"""

from __future__ import annotations

import asyncio
import base64
import collections
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests._fastapi_support import EMAIL, SECRET
from tests._uvicorn_support import Server, serve

TESTS = Path(__file__).resolve().parent
BURST = 60
MAX_FAILURES = 5


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tokenward.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def settings(store_url: str, **more: str) -> dict[str, str]:
    return {
        "TOKENWARD_AUTH_SECRET": SECRET,
        "TOKENWARD_STORE_URL": store_url,
        "TOKENWARD_LOGIN_MAX_FAILURES": str(MAX_FAILURES),
        **{f"TOKENWARD_{k.upper()}": v for k, v in more.items()},
    }


@pytest.fixture
def burst_server(store_url: str, tmp_path: Path) -> Iterator[Server]:
    # the per-address limit out of the way: the burst comes from one address
    with serve(
        "limits_app:app",
        settings(store_url, login_max_per_address="100000"),
        workdir=tmp_path,
        app_dir=TESTS,
        ready_path="/health",
    ) as server:
        yield server


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def burst(
    base_url: str, method: str, path: str, **request: object
) -> collections.Counter[int]:
    """``BURST`` requests at once, each on its own connection; how many got each status."""
    limits = httpx.Limits(max_connections=BURST, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        answers = await asyncio.gather(
            *(client.request(method, path, **request) for _ in range(BURST))  # type: ignore[arg-type]
        )
    return collections.Counter(a.status_code for a in answers)


def test_a_burst_of_wrong_passwords_gets_at_most_the_limit_checked(burst_server: Server) -> None:
    """Issue 20 item 1: 60 concurrent wrong passwords for one email at the debug login get at
    most LOGIN_MAX_FAILURES password checks (401s); every other one is refused (429) before its
    password is looked at. The limiter used to read the count before the check and add to it
    after, so most of a burst was checked."""
    statuses = asyncio.run(
        burst(
            burst_server.base_url,
            "POST",
            "/v1/auth/login",
            json={"email": EMAIL, "password": "wrong"},
        )
    )
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[401] <= MAX_FAILURES, statuses
    assert statuses[401] + statuses[429] == BURST
    with httpx.Client(base_url=burst_server.base_url) as client:
        right = client.post(
            "/v1/auth/login", json={"email": EMAIL, "password": "vega-debug-password"}
        )
    assert right.status_code == 429  # locked out now


def test_a_burst_of_basic_guesses_gets_at_most_the_limit_checked(burst_server: Server) -> None:
    """Issue 20 item 1 (HTTP Basic): 60 concurrent wrong passwords for one user run the
    application's password check at most LOGIN_MAX_FAILURES times."""
    statuses = asyncio.run(
        burst(burst_server.base_url, "GET", "/legacy", headers=basic("ci-bot", "guess"))
    )
    with httpx.Client(base_url=burst_server.base_url) as client:
        checks = client.get("/checks").json()["checks"]
    assert set(statuses) <= {401, 429}, statuses
    assert checks <= MAX_FAILURES, (checks, statuses)
    assert statuses[401] == checks
