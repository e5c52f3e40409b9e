"""External sign-in end to end (issue 24): examples/app.py under uvicorn with
``OAUTH_PROVIDERS=github,oidc``, the generic ``oidc`` provider being the loopback
``oidc-provider-mock`` (a subprocess: discovery, its authorization form, its token endpoint,
ID tokens signed by its key) and ``github`` the stand-in of tests/github_server.py (a real HTTP
server whose token endpoint checks the PKCE verifier). httpx plays the browser: it follows the
redirects and keeps the cookies. Each test counts under its own client address
(``X-Forwarded-For`` through ``TRUSTED_PROXIES=127.0.0.1``), so the per-address limit of one
does not touch another's.

The mock provider does not check PKCE (it registers no code-challenge extension; see
``test_the_mock_provider_does_not_check_pkce``): the refused verifier is shown with the GitHub
stand-in."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

if importlib.util.find_spec("oidc_provider_mock") is None:
    pytest.skip("oidc-provider-mock is not installed (the test extra)", allow_module_level=True)

import _oidc_mock
from _uvicorn_support import HOST, Server, free_port, serve
from github_server import GitHubServer
from tokenward.oauth import COOKIE_NAME

SECRET = "oauth-uvicorn-secret-0123456789-abcdefghijklmnop"
CLIENT_ID = "orders-web"
NOW = time.time()


def mock_provider(log: Path) -> contextlib.AbstractContextManager[str]:
    """``python -m oidc_provider_mock`` on a free loopback port; yields its issuer."""
    return _oidc_mock.mock_provider(free_port(), log)


@dataclass
class World:
    app: Server
    issuer: str
    github: GitHubServer
    db: Path
    closed: Server


def app_settings(
    db: Path, port: int, issuer: str, github: GitHubServer, signup: str
) -> dict[str, str]:
    return {
        "TOKENWARD_AUTH_SECRET": SECRET,
        "TOKENWARD_STORE_URL": f"sqlite:///{db}",
        "TOKENWARD_TRUSTED_PROXIES": "127.0.0.1",
        "TOKENWARD_OAUTH_PROVIDERS": "github,oidc",
        "TOKENWARD_OAUTH_OIDC_ISSUER": issuer,
        "TOKENWARD_OAUTH_OIDC_CLIENT_ID": CLIENT_ID,
        "TOKENWARD_OAUTH_OIDC_CLIENT_SECRET": "any-secret-the-mock-takes",
        "TOKENWARD_OAUTH_SIGNUP": signup,
        "TOKENWARD_OAUTH_REDIRECT_BASE_URL": f"http://{HOST}:{port}",
        **github.settings(),
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("oauth-uvicorn")
    github = GitHubServer().start()
    try:
        with mock_provider(tmp / "mock.log") as issuer:
            port, closed_port = free_port(), free_port()
            db = tmp / "tokenward.db"
            open_settings = app_settings(db, port, issuer, github, "open")
            closed_settings = app_settings(tmp / "closed.db", closed_port, issuer, github, "closed")
            with (
                serve("app:app", open_settings, workdir=tmp, port=port) as app,
                serve(
                    "app:app", closed_settings, workdir=tmp, port=closed_port, name="closed"
                ) as closed,
            ):
                yield World(app, issuer, github, db, closed)
    finally:
        github.stop()


_address = iter(range(1, 250))


def browser(base_url: str) -> httpx.Client:
    """A client of its own address (X-Forwarded-For), with its own cookie jar."""
    return httpx.Client(
        base_url=base_url, timeout=30, headers={"X-Forwarded-For": f"10.24.0.{next(_address)}"}
    )


def set_user(issuer: str, sub: str, **claims: Any) -> None:
    assert httpx.put(f"{issuer}/users/{sub}", json=claims).status_code == 204


def to_mock(client: httpx.Client, provider: str = "oidc") -> str:
    """Start a sign-in; the provider's authorization URL (the state cookie is in the jar)."""
    start = client.get(f"/v1/auth/oauth/{provider}")
    assert start.status_code == 302, start.text
    assert start.headers["cache-control"] == "no-store"
    cookie = start.headers["set-cookie"]
    assert (
        cookie.startswith(f"{COOKIE_NAME}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    )
    assert "Max-Age=600" in cookie and "Path=/v1/auth/oauth" in cookie
    return start.headers["location"]


def authorize(authorization_url: str, sub: str) -> str:
    """The mock's consent form, submitted for ``sub``: the callback URL it redirects to."""
    answer = httpx.post(authorization_url, data={"sub": sub})
    assert answer.status_code == 302, answer.text
    return str(answer.headers["location"])


def error_of(answer: httpx.Response) -> str:
    assert answer.headers["cache-control"] == "no-store"
    return str(answer.json().get("error"))


def create_user(db: Path, user_id: str, email: str, verified: bool) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO tokenward_users (id, email, password_hash, created_at, updated_at,"
            " email_verified, disabled, user_groups, user_roles, attributes)"
            " VALUES (?, ?, NULL, ?, ?, ?, 0, '[]', '[]', '{}')",
            (user_id, email, NOW, NOW, int(verified)),
        )
    conn.close()


# --- the generic OIDC provider: oidc-provider-mock ----------------------------------------------


def test_sign_in_with_the_mock_provider_makes_an_account_and_a_session(world: World) -> None:
    set_user(world.issuer, "alice", email="alice@example.com", email_verified=True)
    with browser(world.app.base_url) as client:
        callback = authorize(to_mock(client), "alice")
        assert callback.startswith(world.app.base_url + "/v1/auth/oauth/oidc/callback?")
        answer = client.get(callback)
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        assert f"{COOKIE_NAME}=;" in answer.headers["set-cookie"]  # the state cookie is cleared
        pair = answer.json()
        me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
        assert me.status_code == 200 and me.json()["email"] == "alice@example.com"
        # the verifier and the nonce never travel in a URL; the state and the challenge do
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(to_mock(client)).query))
        assert query["code_challenge_method"] == "S256" and "code_verifier" not in query
        assert {"state", "nonce", "code_challenge"} <= set(query)
    with browser(world.app.base_url) as client:  # the second time, the link finds the account
        again = client.get(authorize(to_mock(client), "alice")).json()
        headers = {"Authorization": f"Bearer {again['access_token']}"}
        assert client.get("/v1/auth/me", headers=headers).json()["sub"] == me.json()["sub"]


def test_a_replayed_state_is_refused(world: World) -> None:
    set_user(world.issuer, "bob", email="bob@example.com", email_verified=True)
    with browser(world.app.base_url) as client:
        callback = authorize(to_mock(client), "bob")
        first = client.get(callback)
        assert first.status_code == 200, first.text
        client.cookies.set(COOKIE_NAME, "whatever", domain=HOST)
        replayed = client.get(callback)
        assert replayed.status_code == 401 and error_of(replayed) == "invalid_state"


def test_a_wrong_nonce_is_refused(world: World) -> None:
    """The authorization request's nonce is swapped on its way to the provider: the ID token
    carries the swapped one, which is not the sign-in's."""
    set_user(world.issuer, "carol", email="carol@example.com", email_verified=True)
    with browser(world.app.base_url) as client:
        parts = urllib.parse.urlsplit(to_mock(client))
        query = dict(urllib.parse.parse_qsl(parts.query))
        query["nonce"] = "a-nonce-of-the-attacker"
        crafted = parts._replace(query=urllib.parse.urlencode(query)).geturl()
        answer = client.get(authorize(crafted, "carol"))
        assert answer.status_code == 401 and error_of(answer) == "invalid_nonce"


def test_the_mock_provider_does_not_check_pkce(world: World) -> None:
    """Noted, not relied on: the mock exchanges a code whatever the verifier; the refused
    verifier is therefore tested against the GitHub stand-in, which checks it."""
    set_user(world.issuer, "dave", email="dave@example.com", email_verified=True)
    with browser(world.app.base_url) as client:
        callback = authorize(to_mock(client), "dave")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))
    answer = httpx.post(
        world.issuer + "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": callback.split("?", 1)[0],
            "code_verifier": "certainly-not-the-verifier-of-this-code-0123456789",
        },
        auth=(CLIENT_ID, "x"),
    )
    assert answer.status_code == 200 and "id_token" in answer.json()


def test_a_state_cookie_of_another_browser_is_refused(world: World) -> None:
    set_user(world.issuer, "erin", email="erin@example.com", email_verified=True)
    with browser(world.app.base_url) as victim, browser(world.app.base_url) as attacker:
        to_mock(victim)  # the victim's browser has a state cookie of its own
        callback = authorize(to_mock(attacker), "erin")
        answer = victim.get(callback)  # the attacker's callback, in the victim's browser
        assert answer.status_code == 401 and error_of(answer) == "state_not_bound"
        assert attacker.get(callback).status_code == 401  # and the state is spent


def test_an_unverified_email_does_not_link(world: World) -> None:
    create_user(world.db, "u-frank", "frank@example.com", verified=True)
    set_user(world.issuer, "frank", email="frank@example.com", email_verified=False)
    with browser(world.app.base_url) as client:
        answer = client.get(authorize(to_mock(client), "frank"))
        assert answer.status_code == 403, answer.text
    with sqlite3.connect(world.db) as conn:
        links = conn.execute(
            "SELECT COUNT(*) FROM tokenward_linked_identities WHERE user_id = ?", ("u-frank",)
        )
        assert links.fetchone()[0] == 0
    conn.close()


def test_a_verified_email_links_the_existing_account(world: World) -> None:
    create_user(world.db, "u-gina", "gina@example.com", verified=True)
    set_user(world.issuer, "gina", email="Gina@Example.com", email_verified=True)
    with browser(world.app.base_url) as client:
        pair = client.get(authorize(to_mock(client), "gina")).json()
        me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
        assert me.json()["sub"] == "u-gina"


def test_closed_sign_up_is_403(world: World) -> None:
    set_user(world.issuer, "hank", email="hank@example.com", email_verified=True)
    with browser(world.closed.base_url) as client:
        answer = client.get(authorize(to_mock(client), "hank"))
        assert answer.status_code == 403 and "sign-up is closed" in answer.text


def test_an_unknown_provider_is_404(world: World) -> None:
    with browser(world.app.base_url) as client:
        assert client.get("/v1/auth/oauth/facebook").status_code == 404
        assert client.get("/v1/auth/oauth/facebook/callback?state=x&code=y").status_code == 404


# --- GitHub (the stand-in) ----------------------------------------------------------------------


def test_sign_in_with_github_following_the_redirects(world: World) -> None:
    with browser(world.app.base_url) as client:
        answer = client.get("/v1/auth/oauth/github", follow_redirects=True)
        assert answer.status_code == 200, answer.text
        assert [r.status_code for r in answer.history] == [302, 302]
        token = answer.json()["access_token"]
        me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["email"] == "octo@example.com"


def test_a_wrong_pkce_verifier_is_refused(world: World) -> None:
    """A code obtained in one sign-in, delivered to another browser's callback (with that
    browser's state and cookie): exchanged with the other sign-in's verifier, which the
    provider refuses."""
    with browser(world.app.base_url) as victim, browser(world.app.base_url) as attacker:
        stolen = attacker.get(attacker.get("/v1/auth/oauth/github").headers["location"])
        code = dict(
            urllib.parse.parse_qsl(urllib.parse.urlsplit(stolen.headers["location"]).query)
        )["code"]
        victim_state = dict(
            urllib.parse.parse_qsl(
                urllib.parse.urlsplit(victim.get("/v1/auth/oauth/github").headers["location"]).query
            )
        )["state"]
        before = world.github.refusals.get("invalid_code_verifier", 0)
        answer = victim.get(
            "/v1/auth/oauth/github/callback", params={"state": victim_state, "code": code}
        )
        assert answer.status_code == 401 and error_of(answer) == "provider_error"
        assert world.github.refusals["invalid_code_verifier"] == before + 1


def test_a_provider_that_is_down_is_503(world: World) -> None:
    world.github.token_status = 503
    try:
        with browser(world.app.base_url) as client:
            answer = client.get("/v1/auth/oauth/github", follow_redirects=True)
            assert answer.status_code == 503 and answer.headers.get("retry-after")
    finally:
        world.github.token_status = None


def test_a_burst_on_one_state_signs_in_once(world: World) -> None:
    with browser(world.app.base_url) as client:
        start = client.get("/v1/auth/oauth/github")
        callback = httpx.get(start.headers["location"]).headers["location"]
        cookie = client.cookies.get(COOKIE_NAME)
        headers = dict(client.headers)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=60, headers=headers) as many:
            many.cookies.set(COOKIE_NAME, cookie or "", domain=HOST)
            # ten: the callbacks of one address are limited to ten per five minutes too
            answers = await asyncio.gather(*(many.get(callback) for _ in range(10)))
        return [a.status_code for a in answers]

    statuses = asyncio.run(burst())
    assert statuses.count(200) == 1 and statuses.count(401) == 9, statuses


def test_starts_are_limited_to_ten_per_address(world: World) -> None:
    async def burst() -> list[int]:
        headers = {"X-Forwarded-For": "10.24.1.1"}
        async with httpx.AsyncClient(base_url=world.app.base_url, timeout=60, headers=headers) as c:
            answers = await asyncio.gather(*(c.get("/v1/auth/oauth/github") for _ in range(13)))
        return [a.status_code for a in answers]

    statuses = asyncio.run(burst())
    assert statuses.count(302) == 10 and statuses.count(429) == 3, statuses
