"""Login and refresh limits over HTTP, on SQLite and PostgreSQL, with the settable clock; and the
pieces (LoginLimiter, TrustedProxies, client_address) on their own.

The test client's socket peer is 127.0.0.1, listed in TRUSTED_PROXIES where a test needs many
client addresses: each request then names its address in X-Forwarded-For.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from tests._fastapi_support import (
    EMAIL,
    PASSWORD,
    SECRET,
    Clock,
    TestClient,
    make_app,
    store_factory,
)
from tests.pg_server import PostgresServer

from tokenward.exceptions import ConfigurationError, RateLimitError, StoreError
from tokenward.fastapi import Auth, AuthSettings, CurrentUser, authenticate
from tokenward.principal import Principal
from tokenward.ratelimit import UNVERIFIED, LoginLimiter, TrustedProxies, client_address
from tokenward.stores import Store
from tokenward.stores.postgres import PostgresStore
from tokenward.stores.sqlite import SQLiteStore

PEER = ("127.0.0.1", 50000)
WINDOW = 15 * 60

StoreMaker = Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> StoreMaker:
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    maker: StoreMaker = store_factory(request.param, tmp_path, url)
    return maker


@pytest.fixture
def clock() -> Clock:
    return Clock()


@contextlib.contextmanager
def running(store: Store, clock: Clock, **overrides: Any) -> Iterator[tuple[TestClient, Auth]]:
    app, auth = make_app(clock=clock, store=store, **overrides)
    with TestClient(app, client=PEER) as client:
        yield client, auth


def attempt(
    client: TestClient, email: str = EMAIL, password: str = PASSWORD, address: str | None = None
) -> Any:
    headers = {} if address is None else {"X-Forwarded-For": address}
    return client.post(
        "/v1/auth/login", json={"email": email, "password": password}, headers=headers
    )


def refresh(client: TestClient, token: str, address: str | None = None) -> Any:
    headers = {} if address is None else {"X-Forwarded-For": address}
    return client.post("/v1/auth/refresh", json={"refresh_token": token}, headers=headers)


def comparable(response: Any) -> tuple[int, Any, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k not in ("date",)}
    return response.status_code, response.json(), headers


# --- failed logins for one email -----------------------------------------------------------------


def test_five_failures_lock_the_email_out_for_the_window(stores: StoreMaker, clock: Clock) -> None:
    with running(stores(), clock) as (client, _):
        start = clock.now
        for _ in range(5):
            assert attempt(client, password="wrong").status_code == 401
            clock.advance(1)
        clock.advance(5)
        locked = attempt(client)  # the right password, too late
        assert locked.status_code == 429
        assert locked.headers["retry-after"] == str(int(start + WINDOW - clock.now))
        assert "Too many failed sign-in attempts" in locked.json()["detail"]
        clock.now = start + WINDOW - 1
        assert attempt(client).status_code == 429
        clock.now = start + WINDOW
        assert attempt(client).status_code == 200


def test_the_lock_out_ignores_case_and_space(stores: StoreMaker, clock: Clock) -> None:
    with running(stores(), clock) as (client, _):
        for email in ("Debug@Example.com", " debug@example.com", "DEBUG@EXAMPLE.COM ") * 2:
            attempt(client, email=email, password="wrong")
        assert attempt(client).status_code == 429


def test_the_lock_out_is_per_email(stores: StoreMaker, clock: Clock) -> None:
    with running(stores(), clock) as (client, _):
        for _ in range(5):
            attempt(client, email="someone-else@example.com", password="wrong")
        assert attempt(client, email="someone-else@example.com").status_code == 429
        assert attempt(client).status_code == 200


def test_a_success_gives_back_only_its_own_attempt(stores: StoreMaker, clock: Clock) -> None:
    """Issue 20 item 2 (debug login): a correct password no longer wipes earlier failures; they
    last until their window ends (or ``tokenward limits clear``)."""
    with running(stores(), clock) as (client, _):
        for _ in range(4):
            attempt(client, password="wrong")
        assert attempt(client).status_code == 200
        assert attempt(client).status_code == 200  # successes cost nothing
        assert attempt(client, password="wrong").status_code == 401  # the fifth failure
        assert attempt(client).status_code == 429
        clock.advance(WINDOW)
        assert attempt(client).status_code == 200


def test_unknown_email_and_wrong_password_get_the_same_answers(
    stores: StoreMaker, clock: Clock
) -> None:
    with running(stores(), clock) as (client, _):
        unknown = [attempt(client, email="nobody@example.com") for _ in range(6)]
        wrong = [attempt(client, password="wrong") for _ in range(6)]
        assert [comparable(r) for r in unknown] == [comparable(r) for r in wrong]
        assert [r.status_code for r in wrong] == [401] * 5 + [429]


def test_the_failures_count_across_instances(stores: StoreMaker, clock: Clock) -> None:
    with running(stores(), clock) as (one, _), running(stores(), clock) as (two, _):
        for i in range(5):
            attempt(one if i % 2 else two, password="wrong")
        assert attempt(one).status_code == 429
        assert attempt(two).status_code == 429


def test_the_limits_follow_the_settings(stores: StoreMaker, clock: Clock) -> None:
    settings = {"login_max_failures": 2, "login_failure_window": 60}
    with running(stores(), clock, **settings) as (client, _):
        attempt(client, password="wrong")
        attempt(client, password="wrong")
        assert attempt(client).status_code == 429
        clock.advance(60)
        assert attempt(client).status_code == 200


# --- per address ---------------------------------------------------------------------------------


def test_twenty_attempts_a_minute_per_address(stores: StoreMaker, clock: Clock) -> None:
    with running(stores(), clock, trusted_proxies="127.0.0.1") as (client, _):
        emails = [f"user{i}@example.com" for i in range(25)]
        for email in emails[:20]:  # other emails, so no email is locked out
            assert attempt(client, email, "wrong", address="203.0.113.5").status_code == 401
        clock.advance(30)
        limited = attempt(client, address="203.0.113.5")
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "30"
        assert "from this address" in limited.json()["detail"]
        assert attempt(client, address="203.0.113.6").status_code == 200
        clock.advance(30)
        assert attempt(client, address="203.0.113.5").status_code == 200


def test_without_trusted_proxies_forwarded_for_is_ignored(stores: StoreMaker, clock: Clock) -> None:
    with running(stores(), clock, login_max_per_address=2) as (client, _):
        assert attempt(client, address="203.0.113.1").status_code == 200
        assert attempt(client, address="203.0.113.2").status_code == 200
        # both counted for the socket's peer, whatever the header says
        assert attempt(client, address="203.0.113.3").status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_counts(
    stores: StoreMaker, clock: Clock
) -> None:
    settings = {"trusted_proxies": "127.0.0.1, 10.0.0.0/8", "login_max_per_address": 2}
    with running(stores(), clock, **settings) as (client, _):
        # a client can prepend anything; the right-most untrusted entry is what the proxy saw
        for forged in ("198.51.100.1", "198.51.100.2"):
            chain = f"{forged}, 203.0.113.9, 10.1.2.3"
            assert attempt(client, address=chain).status_code == 200
        assert attempt(client, address="198.51.100.3, 203.0.113.9").status_code == 429
        response = attempt(client, address="203.0.113.10, 10.0.0.1")
        assert response.status_code == 200
        sessions = client.get(
            "/v1/auth/sessions",
            headers={"Authorization": "Bearer " + response.json()["access_token"]},
        ).json()
        [current] = [s for s in sessions if s["current"]]
        assert current["client_address"] == "203.0.113.10"


def test_ten_refreshes_a_minute_per_address(stores: StoreMaker, clock: Clock) -> None:
    with running(stores(), clock, trusted_proxies="127.0.0.1") as (client, _):
        pair = attempt(client).json()
        for _ in range(10):
            assert refresh(client, "twr_" + "A" * 43, address="203.0.113.7").status_code == 401
        limited = refresh(client, pair["refresh_token"], address="203.0.113.7")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) == 60
        assert refresh(client, pair["refresh_token"], address="203.0.113.8").status_code == 200


def test_a_refused_refresh_does_not_spend_the_token(stores: StoreMaker, clock: Clock) -> None:
    with running(stores(), clock, refresh_max_per_address=1) as (client, _):
        pair = attempt(client).json()
        assert refresh(client, "twr_" + "B" * 43).status_code == 401
        assert refresh(client, pair["refresh_token"]).status_code == 429
        clock.advance(60)
        assert refresh(client, pair["refresh_token"]).status_code == 200


# --- HTTP Basic uses the same limiter ------------------------------------------------------------


def basic_app(store: Store, clock: Clock, **overrides: Any) -> FastAPI:
    async def check(username: str, password: str) -> Principal | None:
        if username == "ci-bot" and password == "s3cret":
            return Principal(subject="ci-bot", credential_type="basic")
        return None

    settings = AuthSettings.from_env(
        prefix="TOKENWARD_TEST_ISOLATED_", auth_secret=SECRET, **overrides
    )
    auth = Auth(settings, store=store, clock=clock, basic=check)
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)

    @app.get("/legacy")
    def legacy(user: Annotated[CurrentUser, Depends(authenticate("basic"))]) -> dict[str, str]:
        return {"sub": user.sub}

    return app


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def test_basic_locks_a_user_name_out_too(stores: StoreMaker, clock: Clock) -> None:
    with TestClient(basic_app(stores(), clock), client=PEER) as client:
        assert client.get("/legacy", headers=basic("ci-bot", "s3cret")).json() == {"sub": "ci-bot"}
        for _ in range(5):
            assert client.get("/legacy", headers=basic("ci-bot", "guess")).status_code == 401
        locked = client.get("/legacy", headers=basic("ci-bot", "s3cret"))
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) == WINDOW
        # the debug login shares the counters: the email is a user name like any other
        assert client.get("/legacy", headers=basic(EMAIL, "guess")).status_code == 401
        clock.advance(WINDOW)
        assert client.get("/legacy", headers=basic("ci-bot", "s3cret")).status_code == 200


def test_a_basic_success_does_not_reset_a_guessers_count(stores: StoreMaker, clock: Clock) -> None:
    """Issue 20 item 2: while the real client keeps succeeding from its address, a guesser at
    another address gets LOGIN_MAX_FAILURES wrong passwords checked, then only 429s (a success
    used to clear the user name's failures, so all 20 guesses were checked)."""
    app = basic_app(stores(), clock, trusted_proxies="127.0.0.1")
    real = {**basic("ci-bot", "s3cret"), "X-Forwarded-For": "198.51.100.7"}
    guess = {**basic("ci-bot", "guess"), "X-Forwarded-For": "203.0.113.66"}
    with TestClient(app, client=PEER) as client:
        answers = []
        for _ in range(20):
            assert client.get("/legacy", headers=real).status_code in (200, 429)
            answers.append(client.get("/legacy", headers=guess).status_code)
        assert answers == [401] * 5 + [429] * 15
        assert client.get("/legacy", headers=real).status_code == 429  # the user name is locked


def test_basic_and_the_debug_login_share_the_lock_out(stores: StoreMaker, clock: Clock) -> None:
    with TestClient(basic_app(stores(), clock), client=PEER) as client:
        for _ in range(5):
            client.get("/legacy", headers=basic(EMAIL, "guess"))
        assert attempt(client).status_code == 429


# --- a failing store fails closed ----------------------------------------------------------------


@pytest.fixture(scope="module")
def own_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def test_a_store_failure_refuses_logins_with_503(own_server: PostgresServer, clock: Clock) -> None:
    url = own_server.create_database("limits_down")
    store = PostgresStore(url, connect_timeout=1, pool_timeout=1)
    app = basic_app(store, clock)
    with TestClient(app, client=PEER) as client:
        pair = attempt(client).json()
        own_server.stop()
        try:
            answers = [
                attempt(client),
                attempt(client, password="wrong"),
                refresh(client, pair["refresh_token"]),
                client.get("/legacy", headers=basic("ci-bot", "s3cret")),
            ]
        finally:
            own_server.start()
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert "retry-after" in answer.headers
        assert answers[0].headers["cache-control"] == "no-store"


# --- unit: LoginLimiter --------------------------------------------------------------------------


def limiter(store: Store, clock: Clock, **kwargs: Any) -> LoginLimiter:
    return LoginLimiter(store, key=b"k" * 32, clock=clock, **kwargs)


def test_limiter_reserves_each_attempt(tmp_path: Path, clock: Clock) -> None:
    async def scenario() -> None:
        store = SQLiteStore(tmp_path / "c.db")
        await store.open()
        limits = limiter(store, clock, max_failures=2, failure_window=100)
        good = await limits.check("a@example.com", None)
        await good.succeeded()  # given back
        await limits.check("a@example.com", None)  # a failure: never given back
        second = await limits.check("A@example.com ", None)  # the same user name
        with pytest.raises(RateLimitError) as caught:
            await limits.check("a@example.com", None)
        assert caught.value.retry_after == 100
        await limits.check("b@example.com", None)
        await second.succeeded()  # one place free again, the failure stays
        await limits.check("a@example.com", None)
        with pytest.raises(RateLimitError):
            await limits.check("a@example.com", None)
        await limits.clear(" A@EXAMPLE.COM")
        await limits.check("a@example.com", None)
        await store.close()

    asyncio.run(scenario())


def test_limiter_address_limits_and_no_address(tmp_path: Path, clock: Clock) -> None:
    async def scenario() -> None:
        store = SQLiteStore(tmp_path / "c.db")
        await store.open()
        limits = limiter(store, clock, max_per_address=2, refresh_per_address=1, max_failures=99)
        for _ in range(2):
            await limits.check("x", "192.0.2.1")
        with pytest.raises(RateLimitError, match="login attempts"):
            await limits.check("x", "192.0.2.1")
        await limits.check_refresh("192.0.2.1")  # a counter of its own
        with pytest.raises(RateLimitError, match="refresh attempts"):
            await limits.check_refresh("192.0.2.1")
        for _ in range(10):  # no address known: nothing to count it against
            await limits.check("x", None)
            await limits.check_refresh(None)
        clock.advance(60)
        await limits.check("x", "192.0.2.1")
        await store.close()

    asyncio.run(scenario())


def test_limiter_keeps_no_email_in_the_store(tmp_path: Path, clock: Clock) -> None:
    async def scenario() -> None:
        store = SQLiteStore(tmp_path / "c.db")
        await store.open()
        await limiter(store, clock).check("secret.person@example.com", None)
        await store.close()

    asyncio.run(scenario())
    with contextlib.closing(sqlite3.connect(tmp_path / "c.db")) as conn:
        keys = [row[0] for row in conn.execute("SELECT key FROM tokenward_counters")]
    assert len(keys) == 1
    assert "secret" not in keys[0] and "example" not in keys[0]


def test_limiter_fails_closed(tmp_path: Path, clock: Clock) -> None:
    (tmp_path / "c.db").write_bytes(b"this is not a database file" * 100)

    async def scenario() -> None:
        store = SQLiteStore(tmp_path / "c.db")
        limits = limiter(store, clock)
        with pytest.raises(StoreError):
            await limits.check("a@example.com", "192.0.2.1")
        with pytest.raises(StoreError):
            await limits.check_refresh("192.0.2.1")

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_failures": 0},
        {"max_per_address": 0},
        {"refresh_per_address": 0},
        {"failure_window": 0},
        {"address_window": -1},
    ],
)
def test_limiter_refuses_bad_limits(kwargs: dict[str, Any], clock: Clock) -> None:
    with pytest.raises(ConfigurationError):
        limiter(SQLiteStore(), clock, **kwargs)


# --- unit: the client's address ------------------------------------------------------------------


def test_trusted_proxies() -> None:
    trusted = TrustedProxies(["10.0.0.0/8", " 192.0.2.1 ", "2001:db8::/32"])
    assert trusted
    assert "10.20.30.40" in trusted
    assert "192.0.2.1" in trusted
    assert "2001:DB8::1" in trusted
    assert "192.0.2.2" not in trusted
    assert "not an address" not in trusted
    assert 10 not in trusted
    assert not TrustedProxies()
    with pytest.raises(ConfigurationError, match="not an IP address"):
        TrustedProxies(["10.0.0.0/8", "proxy.example.com"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.1", ["198.51.100.1"], "203.0.113.1"),  # the peer is no proxy we trust
        ("10.0.0.1", [], "10.0.0.1"),  # a trusted proxy that forwarded nothing
        ("10.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.1", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # left entries may be forged
        ("10.0.0.1", ["198.51.100.1, 10.0.0.2"], "198.51.100.1"),  # a chain of our proxies
        ("10.0.0.1", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # several headers, in order
        ("10.0.0.1", ["10.0.0.3, 10.0.0.2"], "10.0.0.1"),  # only proxies: count the proxy
        ("10.0.0.1", ["198.51.100.1, garbage"], "10.0.0.1"),  # garbled: count the proxy
        ("10.0.0.1", [" 2001:DB8::5 "], "2001:db8::5"),
        ("10.0.0.1", [",, 198.51.100.1 ,"], "198.51.100.1"),
        (None, ["198.51.100.1"], None),
        ("10.0.0.1", ["198.51.100.1:4711, [2001:db8::7]:80"], "2001:db8::7"),  # with ports
        ("10.0.0.1", ["[2001:db8::7]x"], "10.0.0.1"),
        # the peer may have been taken from the header by the server (issue 20 item 3):
        ("198.51.100.1", ["198.51.100.1"], "198.51.100.1"),  # what a trusted proxy would pick
        ("198.51.100.1", ["6.6.6.6, 198.51.100.1, 10.0.0.2"], "198.51.100.1"),
        ("198.51.100.1", ["198.51.100.1:4711"], "198.51.100.1"),
        ("6.6.6.6", ["6.6.6.6, 198.51.100.1"], UNVERIFIED),  # another entry: the client's own
        ("6.6.6.6", ["6.6.6.6, garbage"], UNVERIFIED),
        ("6.6.6.6", ["10.0.0.3, 6.6.6.6"], "6.6.6.6"),
        ("testclient", ["198.51.100.1"], "testclient"),
        ("unknown", ["6.6.6.6, unknown"], UNVERIFIED),  # not an address, still from the header
        ("picked", ["picked:80"], UNVERIFIED),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], expected: str | None) -> None:
    trusted = TrustedProxies(["10.0.0.0/8"])
    assert client_address(peer, forwarded, trusted) == expected


def test_without_trusted_proxies_a_forwarded_peer_is_unverified() -> None:
    """Issue 20 item 3: with no proxy trusted, an address that may come from X-Forwarded-For
    (the server rewrote the peer from it) is never counted as the client's."""
    assert client_address("203.0.113.5", ["203.0.113.5"]) == UNVERIFIED
    assert client_address("203.0.113.5", ["198.51.100.1, 203.0.113.5"]) == UNVERIFIED
    assert client_address("client-picked", ["client-picked"]) == UNVERIFIED
    assert client_address("127.0.0.1", ["203.0.113.5"]) == "127.0.0.1"  # the socket's peer
    assert client_address("127.0.0.1", []) == "127.0.0.1"


def test_client_address_without_trusted_proxies_is_the_peer() -> None:
    assert client_address("10.0.0.1", ["198.51.100.1"]) == "10.0.0.1"
    assert client_address("10.0.0.1", ["198.51.100.1"], TrustedProxies()) == "10.0.0.1"
