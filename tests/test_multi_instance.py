"""Two uvicorn processes of one app (tests/multi_instance_app.py) on one throwaway PostgreSQL.

What one instance does, the other sees: a login on one refreshes on the other, a key made on one
works on the other, a revocation on one reaches the other within API_KEY_CACHE_TTL (1 s here),
the same refresh token raced against both has one outcome, and the database stopping and coming
back costs 503s (with Retry-After) for what needs it while access tokens keep verifying, then
nothing. The tables are read directly at the end: no raw key or refresh token is in them.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.pg_server import PostgresServer

from _uvicorn_support import Server, serve

psycopg = pytest.importorskip("psycopg")

TESTS = Path(__file__).resolve().parent
SECRET = "multi-instance-secret-0123456789-abcdefghijklmnop"
EMAIL = "debug@example.com"
PASSWORD = "vega-debug-password"
CACHE_TTL = 1.0
GRACE = 2.0
LOGIN = {"email": EMAIL, "password": PASSWORD}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def eventually(check: Callable[[], bool], *, within: float, what: str) -> float:
    """Poll ``check`` until it holds (bounded by ``within`` seconds); returns how long it took."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within:
            pytest.fail(f"{what}: not within {within:g} s")
        time.sleep(0.05)
    return time.monotonic() - start


@dataclass
class Instance:
    name: str
    http: httpx.Client
    server: Server


@dataclass
class Cluster:
    server: PostgresServer
    url: str
    a: Instance
    b: Instance


def _settings(name: str, url: str) -> dict[str, str]:
    return {
        "INSTANCE": name,
        "TOKENWARD_AUTH_SECRET": SECRET,
        "TOKENWARD_STORE_URL": url,
        "TOKENWARD_DEBUG_SCOPES": "reports:read",
        "TOKENWARD_API_KEY_CACHE_TTL": str(CACHE_TTL),
        "TOKENWARD_REFRESH_REUSE_GRACE": str(int(GRACE)),
        "TOKENWARD_LOGIN_MAX_PER_ADDRESS": "10000",
        "TOKENWARD_REFRESH_MAX_PER_ADDRESS": "10000",
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("multi")
    with PostgresServer() as server:
        url = server.create_database("multi")
        try:
            with contextlib.ExitStack() as stack:
                instances: list[Instance] = []
                for name in ("a", "b"):
                    running = stack.enter_context(
                        serve(
                            "multi_instance_app:app",
                            _settings(name, url),
                            workdir=tmp,
                            app_dir=TESTS,
                            name=name,
                            ready_path="/health",
                        )
                    )
                    http = stack.enter_context(httpx.Client(base_url=running.base_url, timeout=20))
                    instances.append(Instance(name, http, running))
                yield Cluster(server, url, instances[0], instances[1])
        finally:
            # the instances have stopped; the last test may have left the database stopped
            if not server.running:
                server.start()


def login(instance: Instance) -> dict[str, Any]:
    response = instance.http.post("/v1/auth/login", json=LOGIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refresh(instance: Instance, token: str) -> httpx.Response:
    return instance.http.post("/v1/auth/refresh", json={"refresh_token": token})


def new_key(instance: Instance, token: str, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "ci")
    response = instance.http.post("/v1/api-keys", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def race_refresh(cluster: Cluster, token: str) -> tuple[httpx.Response, httpx.Response]:
    """The same refresh sent to both instances at the same moment (a barrier releases both)."""
    barrier = threading.Barrier(2)
    answers: dict[str, httpx.Response] = {}

    def send(instance: Instance) -> None:
        barrier.wait(timeout=30)
        answers[instance.name] = refresh(instance, token)

    threads = [threading.Thread(target=send, args=(i,)) for i in (cluster.a, cluster.b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers["a"], answers["b"]


# --- the tests (in file order: the last one stops the database) ------------------------------


def test_login_on_one_refresh_on_the_other(cluster: Cluster) -> None:
    pair = login(cluster.a)
    who = cluster.b.http.get("/whoami", headers=bearer(pair["access_token"])).json()
    assert who == {"instance": "b", "sub": who["sub"], "credential_type": "access_token"}
    rotated = refresh(cluster.b, pair["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    again = refresh(cluster.a, rotated.json()["refresh_token"])
    assert again.status_code == 200, again.text
    assert cluster.a.http.get("/whoami", headers=bearer(again.json()["access_token"])).is_success


def test_a_key_made_on_one_works_on_the_other_and_dies_everywhere(cluster: Cluster) -> None:
    token = login(cluster.a)["access_token"]
    made = new_key(cluster.a, token, scopes=["reports:read"])
    key = bearer(made["key"])
    for instance in (cluster.b, cluster.a):
        answer = instance.http.get("/reports", headers=key)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"instance": instance.name, "scopes": ["reports:read"]}
    who = cluster.b.http.get("/whoami", headers=key).json()
    assert who["credential_type"] == "api_key"
    listed = cluster.b.http.get("/v1/api-keys", headers=bearer(token)).json()
    assert made["id"] in {k["id"] for k in listed}

    # a has the key in its cache now; b revokes it
    assert cluster.a.http.get("/whoami", headers=key).status_code == 200
    revoked = cluster.b.http.delete(f"/v1/api-keys/{made['id']}", headers=bearer(token))
    assert revoked.status_code == 204
    assert cluster.b.http.get("/whoami", headers=key).status_code == 401  # b: at once

    def refused_on_a() -> bool:
        return cluster.a.http.get("/whoami", headers=key).status_code == 401

    eventually(refused_on_a, within=CACHE_TTL + 4, what="the revocation reaching instance a")
    answer = cluster.a.http.get("/whoami", headers=key)
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    # an API key manages no keys on either instance
    other = new_key(cluster.b, token)
    for instance in (cluster.a, cluster.b):
        response = instance.http.get("/v1/api-keys", headers=bearer(other["key"]))
        assert response.status_code == 403


def test_the_same_refresh_raced_against_both_has_one_outcome(cluster: Cluster) -> None:
    for _ in range(3):
        pair = login(cluster.a)
        a, b = race_refresh(cluster, pair["refresh_token"])
        assert a.status_code == b.status_code == 200, (a.text, b.text)
        assert a.json()["refresh_token"] == b.json()["refresh_token"]  # one new pair
        new = a.json()
        # the new refresh token works (once) on either instance
        assert refresh(cluster.b, new["refresh_token"]).status_code == 200

    # after the grace window, the old token coming back revokes the whole family, everywhere
    pair = login(cluster.b)
    first = refresh(cluster.a, pair["refresh_token"])
    assert first.status_code == 200
    successor = first.json()["refresh_token"]

    def reuse_detected() -> bool:
        answer = refresh(cluster.b, pair["refresh_token"])
        if answer.status_code == 200:  # still within the grace window: the same pair again
            assert answer.json()["refresh_token"] == successor
            return False
        assert answer.status_code == 401, answer.text
        return True

    eventually(reuse_detected, within=GRACE + 10, what="reuse detection after the grace window")
    for instance in (cluster.a, cluster.b):
        answer = refresh(instance, successor)
        assert answer.status_code == 401, answer.text
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]


def _dump(url: str) -> str:
    """Every row of every tokenward table, as text."""
    with psycopg.connect(url, connect_timeout=10) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE tablename LIKE 'tokenward_%'"
            ).fetchall()
        ]
        assert {"tokenward_api_keys", "tokenward_refresh_sessions"} <= set(tables)
        parts = []
        for table in tables:
            rows = conn.execute(f"SELECT t::text FROM {table} t").fetchall()
            parts.extend(row[0] for row in rows)
        return "\n".join(parts)


def test_the_database_never_holds_a_raw_key_or_refresh_token(cluster: Cluster) -> None:
    pair = login(cluster.a)
    made = [new_key(cluster.a, pair["access_token"], name=f"key {i}") for i in range(3)]
    rotated = refresh(cluster.b, pair["refresh_token"]).json()
    for key in made:
        assert cluster.b.http.get("/whoami", headers=bearer(key["key"])).status_code == 200
    dump = _dump(cluster.url)
    with psycopg.connect(cluster.url, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT prefix, key_hash FROM tokenward_api_keys WHERE id = ANY(%s)",
            ([k["id"] for k in made],),
        ).fetchall()
    assert len(rows) == 3
    for prefix, key_hash in rows:
        assert len(key_hash) == 64 and int(key_hash, 16) >= 0  # a hex HMAC-SHA256
        assert prefix in dump
    for key in made:
        secret_part = key["key"][len(key["prefix"]) :]
        assert key["key"] not in dump
        assert secret_part not in dump
        assert secret_part[:16] not in dump
    for token in (pair["refresh_token"], rotated["refresh_token"]):
        assert token not in dump


def test_the_database_going_away_and_coming_back(cluster: Cluster) -> None:
    pair = login(cluster.a)
    access = bearer(pair["access_token"])
    made = new_key(cluster.a, pair["access_token"], name="survivor")
    key = bearer(made["key"])
    assert cluster.b.http.get("/whoami", headers=key).status_code == 200

    cluster.server.stop()
    try:
        time.sleep(CACHE_TTL)  # let both caches of the key expire
        # Each of these waits for the store's pool timeout before its 503, so they go at once.
        calls: list[tuple[str, Callable[[], httpx.Response]]] = []
        for instance in (cluster.a, cluster.b):
            http = instance.http
            calls += [
                (instance.name, lambda h=http: h.post("/v1/auth/login", json=LOGIN)),
                (instance.name, lambda i=instance: refresh(i, pair["refresh_token"])),
                (
                    instance.name,
                    lambda h=http: h.post("/v1/api-keys", json={"name": "x"}, headers=access),
                ),
                (instance.name, lambda h=http: h.get("/v1/api-keys", headers=access)),
                (
                    instance.name,
                    lambda h=http: h.delete(f"/v1/api-keys/{made['id']}", headers=access),
                ),
                # the key's cached copy is too old: it must be looked up, and cannot be
                (instance.name, lambda h=http: h.get("/whoami", headers=key)),
            ]
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            answers = list(pool.map(lambda call: (call[0], call[1]()), calls))
        for name, response in answers:
            assert response.status_code == 503, (name, response.request.url, response.text)
            assert response.headers["retry-after"].isdigit()
        for instance in (cluster.a, cluster.b):  # access tokens need no database
            who = instance.http.get("/whoami", headers=access)
            assert who.status_code == 200, who.text
            assert who.json()["instance"] == instance.name
    finally:
        cluster.server.start()

    # both instances come back by themselves (their pools reconnect), and nothing was lost
    for instance in (cluster.a, cluster.b):

        def key_works(instance: Instance = instance) -> bool:
            return instance.http.get("/whoami", headers=key).status_code == 200

        eventually(key_works, within=90, what=f"instance {instance.name} reconnecting")
    rotated = refresh(cluster.b, pair["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    assert login(cluster.b)["token_type"] == "bearer"
    listed = cluster.a.http.get("/v1/api-keys", headers=access).json()
    survivor = next(k for k in listed if k["id"] == made["id"])
    assert survivor["revoked_at"] is None
    assert cluster.a.http.delete(f"/v1/api-keys/{made['id']}", headers=access).status_code == 204
