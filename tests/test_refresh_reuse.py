"""REFRESH_REUSE_GRACE=0 under real uvicorn: a burst of concurrent refreshes of one token, on
SQLite and on the in-memory store (one instance), and on PostgreSQL (two instances sharing the
database)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import pytest

from _uvicorn_support import Server, serve

TESTS = Path(__file__).resolve().parent
SECRET = "reuse-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
LOGIN = {"email": "debug@example.com", "password": "vega-debug-password"}
BURST = 24
RACES = 40


def _settings(name: str, url: str) -> dict[str, str]:
    return {
        "INSTANCE": name,
        "TOKENWARD_AUTH_SECRET": SECRET,
        "TOKENWARD_STORE_URL": url,
        "TOKENWARD_REFRESH_REUSE_GRACE": "0",
        "TOKENWARD_LOGIN_MAX_PER_ADDRESS": "10000",
        "TOKENWARD_REFRESH_MAX_PER_ADDRESS": "10000",
    }


async def _burst(servers: list[Server], token: str, size: int) -> list[httpx.Response]:
    """``size`` refreshes of ``token`` at once, spread over ``servers``, each on its own
    connection opened beforehand; an event releases them together."""
    clients = [
        httpx.AsyncClient(base_url=servers[i % len(servers)].base_url, timeout=30)
        for i in range(size)
    ]
    go = asyncio.Event()
    try:
        for client in clients:  # open each connection before the burst
            assert (await client.get("/health")).status_code == 200

        async def send(client: httpx.AsyncClient) -> httpx.Response:
            await go.wait()
            return await client.post("/v1/auth/refresh", json={"refresh_token": token})

        tasks = [asyncio.create_task(send(c)) for c in clients]
        await asyncio.sleep(0.05)
        go.set()
        return list(await asyncio.gather(*tasks))
    finally:
        for client in clients:
            await client.aclose()


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "memory"])
def test_zero_grace_lets_exactly_one_of_a_burst_through(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    """Issue 20 item 12: with REFRESH_REUSE_GRACE=0, of 24 concurrent refreshes of one token
    exactly one gets a pair; every other is a 401 (a duplicate is reuse, and ends the family).
    Then 40 races of two (the shape that let both through on PostgreSQL, whose clock was read
    before the row lock): one pair each time. On PostgreSQL each burst is split over two
    instances."""
    if kind == "postgres":
        url = request.getfixturevalue("pg_url")
        names = ["a", "b"]
    elif kind == "memory":  # one process: the in-memory store has no rotation logic of its own
        url = "memory://"
        names = ["a"]
    else:
        url = f"sqlite:///{tmp_path / 'reuse.db'}"
        names = ["a"]
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(
                serve(
                    "multi_instance_app:app",
                    _settings(name, url),
                    workdir=tmp_path,
                    app_dir=TESTS,
                    name=name,
                    ready_path="/health",
                )
            )
            for name in names
        ]
        with httpx.Client(base_url=servers[0].base_url, timeout=30) as http:
            for size in [BURST] * 3 + [2] * RACES:  # each round with a fresh login
                response = http.post("/v1/auth/login", json=LOGIN)
                assert response.status_code == 200, response.text
                token = response.json()["refresh_token"]
                answers = asyncio.run(_burst(servers, token, size))
                codes = sorted(a.status_code for a in answers)
                assert codes == [200] + [401] * (size - 1), (size, codes)
