"""Secret rotation (tokenward.authsecrets, AUTH_SECRET_PREVIOUS): what was made under an older
``AUTH_SECRET`` keeps working while that secret is listed, and everything new uses the current one.

The API-key case runs end to end under real uvicorn (examples/app.py), three starts of the app on
one SQLite file: under A; under B with A previous; under B alone. The rest runs the services over
real stores (SQLite; PostgreSQL for the store's key check)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.pg_server import PostgresServer

from _uvicorn_support import serve
from tokenward._core import ApiKeyHasher, DebugTokens
from tokenward.apikeys import ApiKeyService
from tokenward.authsecrets import Secrets
from tokenward.exceptions import (
    ConfigurationError,
    ExpiredTokenError,
    InvalidApiKeyError,
    InvalidSignatureError,
    RateLimitError,
    RefreshTokenError,
)
from tokenward.principal import Principal
from tokenward.ratelimit import LoginLimiter, limiter_key
from tokenward.settings import AuthSettings
from tokenward.stores import Store, open_store
from tokenward.stores.sqlite import SQLiteStore
from tokenward.tokens import DebugAccessTokens, TokenService

A = "secret A: the one before the rotation: 0123456789"
B = "secret B: the one after the rotation: abcdefghijkl"
C = "secret C: never configured anywhere: ABCDEFGHIJKLMN"
T0 = 1_800_000_000.0
EMAIL = "debug@example.com"
PASSWORD = "vega-debug-password"
OWNER = Principal(
    subject="user-1",
    credential_type="access_token",
    email="alice@example.com",
    groups=("operator",),
    scopes=("reports:read",),
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def run(path: Path, scenario: Callable[[Store], Awaitable[Any]]) -> Any:
    """``scenario(store)`` on a fresh connection to the SQLite file ``path``."""

    async def main() -> Any:
        store = SQLiteStore(path)
        await store.open()
        try:
            return await scenario(store)
        finally:
            await store.close()

    return asyncio.run(main())


# --- API keys under real uvicorn ----------------------------------------------------------------


def test_an_api_key_made_under_a_previous_secret_keeps_working(tmp_path: Path) -> None:
    """An API key, an HS256 access token and a refresh token made under AUTH_SECRET=A keep
    working once the app runs under B with AUTH_SECRET_PREVIOUS=A, and a lock-out made under A
    still holds; a key made then is under B. Once A is removed, A's key is refused and B's works
    (and creating keys still works: the store's key check was moved to B)."""
    url = f"sqlite:///{tmp_path / 'rotation.db'}"
    locked = "locked-out@example.com"

    def start(name: str, **env: str) -> Any:
        settings = {"TOKENWARD_STORE_URL": url, "TOKENWARD_LOGIN_MAX_FAILURES": "3", **env}
        return serve("app:app", settings, workdir=tmp_path, name=name)

    def me(http: httpx.Client, credential: str) -> int:
        answer = http.get("/v1/auth/me", headers={"Authorization": f"Bearer {credential}"})
        return answer.status_code

    def login(http: httpx.Client, email: str = EMAIL, password: str = PASSWORD) -> httpx.Response:
        return http.post("/v1/auth/login", json={"email": email, "password": password})

    def new_key(http: httpx.Client, access: str) -> str:
        made = http.post(
            "/v1/api-keys", json={"name": "ci"}, headers={"Authorization": f"Bearer {access}"}
        )
        assert made.status_code == 201, made.text
        return str(made.json()["key"])

    with start("under-a", TOKENWARD_AUTH_SECRET=A) as server:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            tokens = login(http).json()
            key_a = new_key(http, tokens["access_token"])
            assert me(http, key_a) == 200
            for _ in range(3):
                assert login(http, locked, "wrong").status_code == 401
            assert login(http, locked, "wrong").status_code == 429

    with start("b-with-a", TOKENWARD_AUTH_SECRET=B, TOKENWARD_AUTH_SECRET_PREVIOUS=A) as server:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            assert me(http, key_a) == 200  # the API key made under A
            assert me(http, tokens["access_token"]) == 200  # A's HS256 access token
            refreshed = http.post(
                "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            assert refreshed.status_code == 200, refreshed.text  # A's refresh token
            assert login(http, locked, "wrong").status_code == 429  # A's lock-out holds
            key_b = new_key(http, refreshed.json()["access_token"])
            assert me(http, key_b) == 200

    with start("b-alone", TOKENWARD_AUTH_SECRET=B) as server:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            assert me(http, key_a) == 401  # A is no longer listed
            assert me(http, tokens["access_token"]) == 401
            assert me(http, key_b) == 200
            access = login(http).json()["access_token"]
            assert me(http, new_key(http, access)) == 200  # the key check names B now


# --- the services, over a real store -----------------------------------------------------------


def test_api_keys_follow_the_listed_secrets(tmp_path: Path) -> None:
    """A key made under A is accepted by a service under B with A previous (an unknown prefix
    and a wrong key still refused), and by none under B alone or B with C previous."""
    path = tmp_path / "keys.db"

    async def scenario(store: Store) -> None:
        made = await ApiKeyService(ApiKeyHasher(A), store).create(OWNER, name="ci")
        rotated = ApiKeyService(ApiKeyHasher(B), store, previous=[ApiKeyHasher(A)])
        assert (await rotated.authenticate(made.key)).subject == "user-1"
        wrong = made.key[:-4] + ("AAAA" if not made.key.endswith("AAAA") else "BBBB")
        for key in (wrong, ApiKeyHasher(A).new_key()[0]):
            with pytest.raises(InvalidApiKeyError):
                await rotated.authenticate(key)
        for service in (
            ApiKeyService(ApiKeyHasher(B), store),
            ApiKeyService(ApiKeyHasher(B), store, previous=[ApiKeyHasher(C)]),
        ):
            with pytest.raises(InvalidApiKeyError) as caught:
                await service.authenticate(made.key)
            assert caught.value.reason == "unknown"
        fresh = await rotated.create(OWNER, name="after")  # hashed under B
        assert (await ApiKeyService(ApiKeyHasher(B), store).authenticate(fresh.key)).subject

    run(path, scenario)


@pytest.fixture(scope="module")
def pg_server() -> Any:
    with PostgresServer() as server:
        yield server


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "memory"])
def test_the_store_key_check_moves_to_the_current_secret(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The store's API-key check value made under A is accepted under B with A previous and
    replaced by one under B, so that B alone then passes it; C with nothing previous never does.
    Two services replacing it at once: both pass, one writes."""
    if backend == "sqlite":
        path = tmp_path / "check.db"

        def make() -> Store:
            return SQLiteStore(path)
    elif backend == "memory":
        name = f"memory://{tmp_path.name}"  # one database, shared by the stores of this name

        def make() -> Store:
            return open_store(name)
    else:
        pytest.importorskip("psycopg")
        from tokenward.stores.postgres import PostgresStore

        server: PostgresServer = request.getfixturevalue("pg_server")
        url = server.create_database("rotation_check")

        def make() -> Store:
            return PostgresStore(url)

    async def main() -> None:
        first, second = make(), make()
        await first.open()
        await second.open()
        try:
            assert await ApiKeyService(ApiKeyHasher(A), first).verify_secret()
            assert not await ApiKeyService(ApiKeyHasher(B), first).verify_secret()
            both = await asyncio.gather(
                ApiKeyService(ApiKeyHasher(B), first, previous=[ApiKeyHasher(A)]).verify_secret(),
                ApiKeyService(ApiKeyHasher(B), second, previous=[ApiKeyHasher(A)]).verify_secret(),
            )
            assert both == [True, True]
            assert await ApiKeyService(ApiKeyHasher(B), second).verify_secret()
            assert not await ApiKeyService(ApiKeyHasher(A), second).verify_secret()
            assert not await ApiKeyService(ApiKeyHasher(C), first).verify_secret()
            replaced = await first.replace_api_key_check("no such hash", "p", "h", now=T0)  # type: ignore[attr-defined]
            assert replaced is False
        finally:
            await first.close()
            await second.close()

    asyncio.run(main())


def _service(store: Store, secret: str, *previous: str, clock: Clock) -> TokenService:
    return TokenService(
        DebugTokens(secret),
        store,
        previous=[DebugTokens(old) for old in previous],
        clock=clock,
    )


def test_refresh_tokens_made_under_a_previous_secret_rotate(tmp_path: Path) -> None:
    """A refresh token stored under A is rotated by a service under B with A previous (its
    successor is then under B alone), a duplicate within the grace window gets the same pair,
    and logout finds it; under B alone it is unknown."""
    clock = Clock()

    async def scenario(store: Store) -> None:
        first = await _service(store, A, clock=clock).start(OWNER)
        second = await _service(store, A, clock=clock).start(OWNER)
        with pytest.raises(RefreshTokenError) as caught:
            await _service(store, B, clock=clock).refresh(first.refresh_token)
        assert caught.value.reason == "unknown"
        rotated = _service(store, B, A, clock=clock)
        pair = await rotated.refresh(first.refresh_token)
        clock.now += 1
        again = await rotated.refresh(first.refresh_token)  # a duplicate, within the grace
        assert (again.access_token, again.refresh_token) == (pair.access_token, pair.refresh_token)
        later = await _service(store, B, clock=clock).refresh(pair.refresh_token)  # under B
        assert later.refresh_token != pair.refresh_token
        assert await rotated.revoke(second.refresh_token)  # logout, with A's token
        with pytest.raises(RefreshTokenError) as caught:
            await rotated.refresh(second.refresh_token)
        assert caught.value.reason == "revoked"

    run(tmp_path / "refresh.db", scenario)


def test_hs256_access_tokens_made_under_a_previous_secret_verify_until_they_expire() -> None:
    """DebugAccessTokens under B with A previous verify A's tokens (and B's), refuse C's with a
    signature error, and refuse A's once expired; without A listed A's are refused."""
    who = OWNER
    made = {
        name: DebugAccessTokens(DebugTokens(secret)).issue(
            who, iat=int(T0), lifetime=60, jti=None, sid=None
        )
        for name, secret in (("A", A), ("B", B), ("C", C))
    }
    rotated = DebugAccessTokens(DebugTokens(B), [DebugTokens(C + "-other"), DebugTokens(A)])
    for name in ("A", "B"):
        assert rotated.verify(made[name], now=T0 + 1)["sub"] == "user-1"
        rotated.check(made[name], now=T0 + 1)
    with pytest.raises(InvalidSignatureError):
        rotated.verify(made["C"], now=T0 + 1)
    with pytest.raises(InvalidSignatureError):
        rotated.check(made["C"], now=T0 + 1)
    with pytest.raises(ExpiredTokenError):
        rotated.verify(made["A"], now=T0 + 120)
    with pytest.raises(InvalidSignatureError):
        DebugAccessTokens(DebugTokens(B)).verify(made["A"], now=T0 + 1)


def test_a_lock_out_made_under_a_previous_secret_survives_the_rotation(tmp_path: Path) -> None:
    """Failures counted under A's limiter key lock the user name out under B with A's key
    previous, until their window ends; failures split across both add up; clearing under B
    clears both."""
    clock = Clock()

    def limiter(store: Store, secret: str, *previous: str) -> LoginLimiter:
        key, older = Secrets(secret, previous).derive(limiter_key)
        return LoginLimiter(
            store, key=key, previous_keys=older, max_failures=3, failure_window=60, clock=clock
        )

    async def scenario(store: Store) -> None:
        for _ in range(3):
            await limiter(store, A).check("Alice@example.com", None)  # failures under A
        rotated = limiter(store, B, A)
        with pytest.raises(RateLimitError) as caught:
            await rotated.check("alice@example.com", None)
        assert 0 < caught.value.retry_after <= 60
        # B alone would not know them: its counter starts afresh (what the previous key stops)
        await (await limiter(store, B).check("alice@example.com", None)).succeeded()
        clock.now += 61  # A's window has ended
        for _ in range(2):
            await rotated.check("bob@example.com", None)
        await limiter(store, A).check("bob@example.com", None)  # one more, under A
        with pytest.raises(RateLimitError):
            await rotated.check("bob@example.com", None)
        assert await rotated.clear("bob@example.com") == 3
        await rotated.check("bob@example.com", None)

    run(tmp_path / "limits.db", scenario)


# --- settings and the command line --------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "says"),
    [
        ("short", "secret 1 of 1 is 5 bytes long"),
        (A + ", " + C, "secret 2 of 2 begins or ends with white space"),
        (A + ",", "secret 2 of 2 is empty or blank"),
        (B, "is TOKENWARD_AUTH_SECRET itself"),
        (A + "," + A, "secret 2 of 2 repeats an earlier one"),
        (" " * 40, "secret 1 of 1 is empty or blank"),
    ],
)
def test_auth_secret_previous_is_parsed_strictly(previous: str, says: str) -> None:
    settings = AuthSettings(auth_secret=B, auth_secret_previous=previous)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError) as caught:
        settings.check()
    assert "TOKENWARD_AUTH_SECRET_PREVIOUS" in str(caught.value)
    assert says in str(caught.value)
    assert A not in str(caught.value) and (previous.strip() or "\0") not in str(caught.value)


def test_auth_secret_previous_needs_auth_secret() -> None:
    with pytest.raises(ConfigurationError, match="TOKENWARD_AUTH_SECRET is not"):
        AuthSettings(auth_secret_previous=A).check()  # type: ignore[arg-type]
    good = AuthSettings(auth_secret=B, auth_secret_previous=f"{A},{C}")  # type: ignore[arg-type]
    good.check()
    assert good.previous_secrets == (A.encode(), C.encode())
    assert repr(good.secrets()) == "<Secrets current=*** previous=2>"


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
    return subprocess.run(
        [sys.executable, "-m", "tokenward.cli", *args],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_settings_check_shows_the_previous_secrets_masked() -> None:
    done = _cli(
        "settings", "check", "--json", TOKENWARD_AUTH_SECRET=B, TOKENWARD_AUTH_SECRET_PREVIOUS=A
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["settings"]["auth_secret_previous"] == f"1 set ({len(A)} bytes)"
    assert A not in done.stdout and B not in done.stdout


def test_secret_rotate_prints_a_new_secret_and_the_steps() -> None:
    done = _cli("secret", "rotate", TOKENWARD_REFRESH_TOKEN_LIFETIME="86400")
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip()
    assert len(secret.encode()) >= 32 and "\n" not in secret
    AuthSettings(auth_secret=secret, auth_secret_previous=A).check()  # type: ignore[arg-type]
    for words in (
        "TOKENWARD_AUTH_SECRET_PREVIOUS to the current TOKENWARD_AUTH_SECRET",
        "86400 s here",
        "keeps working only while the old secret is listed",
        "tokenward api-key revoke ID",
    ):
        assert words in done.stderr
    again = json.loads(_cli("secret", "rotate", "--json").stdout)
    assert again["secret"] != secret and len(again["steps"]) == 5
