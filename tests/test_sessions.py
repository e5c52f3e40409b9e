"""Sessions over HTTP: a login is a session (a refresh-token family) the user can list and end.

Every test runs against SQLite and against PostgreSQL (a throwaway server), with the settable
clock; two apps on one database stand for two instances of a deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests._fastapi_support import (
    EMAIL,
    PASSWORD,
    Clock,
    TestClient,
    bearer,
    make_app,
    store_factory,
)

from tokenward.exceptions import ConfigurationError, InvalidTokenError, RefreshTokenError
from tokenward.fastapi import Auth
from tokenward.principal import Principal
from tokenward.providers import SessionCheck
from tokenward.sessions import SessionLifecycle
from tokenward.stores import SessionInfo, Store
from tokenward.stores.sqlite import SQLiteStore
from tokenward.tokens import DebugTokens, TokenPair, TokenService, device_name

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
PEER = ("127.0.0.1", 50000)

StoreMaker = Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> StoreMaker:
    """Makes store instances on one fresh database (each one another connection)."""
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    maker: StoreMaker = store_factory(request.param, tmp_path, url)
    return maker


@pytest.fixture
def clock() -> Clock:
    return Clock()


@contextlib.contextmanager
def running(
    stores: StoreMaker, clock: Clock, **overrides: Any
) -> Iterator[tuple[TestClient, Auth]]:
    """An app (one instance) on the shared database, started and stopped around the block."""
    app, auth = make_app(clock=clock, store=stores(), **overrides)
    app.include_router(auth.api_keys_router)
    with TestClient(app, client=PEER) as client:
        yield client, auth


def sign_in(client: TestClient, agent: str = FIREFOX_LINUX, **extra: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/auth/login",
        json={"email": EMAIL, "password": PASSWORD, **extra},
        headers={"User-Agent": agent},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refresh(client: TestClient, token: str) -> Any:
    return client.post("/v1/auth/refresh", json={"refresh_token": token})


def list_sessions(client: TestClient, access: str) -> list[dict[str, Any]]:
    response = client.get("/v1/auth/sessions", headers=bearer(access))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def when(value: str) -> float:
    return dt.datetime.fromisoformat(value).timestamp()


# --- what a session records ----------------------------------------------------------------------


def test_a_login_is_a_session_with_its_device(stores: StoreMaker, clock: Clock) -> None:
    with running(stores, clock) as (client, auth):
        started = clock.now
        pair = sign_in(client)
        assert auth.tokens is not None
        sid = auth.tokens.verify_access(pair["access_token"])["sid"]
        [session] = list_sessions(client, pair["access_token"])
        assert session["id"] == sid
        assert session["current"] is True
        assert session["device"] == "Firefox on Linux"
        assert session["user_agent"] == FIREFOX_LINUX
        assert session["client_address"] == "127.0.0.1"
        assert when(session["started_at"]) == when(session["last_used_at"]) == started


def test_a_refresh_keeps_the_session_and_moves_its_last_use(
    stores: StoreMaker, clock: Clock
) -> None:
    with running(stores, clock) as (client, auth):
        started = clock.now
        first = sign_in(client)
        clock.advance(120)
        response = refresh(client, first["refresh_token"])
        assert response.status_code == 200
        second = response.json()
        assert auth.tokens is not None
        sid = auth.tokens.verify_access(first["access_token"])["sid"]
        assert auth.tokens.verify_access(second["access_token"])["sid"] == sid
        [session] = list_sessions(client, second["access_token"])
        assert session["id"] == sid
        assert when(session["started_at"]) == started
        assert when(session["last_used_at"]) == started + 120
        assert session["current"] is True


def test_current_marks_only_the_requests_session(stores: StoreMaker, clock: Clock) -> None:
    with running(stores, clock) as (client, _):
        firefox = sign_in(client, FIREFOX_LINUX)
        clock.advance(1)
        chrome = sign_in(client, CHROME_WINDOWS)
        seen = list_sessions(client, firefox["access_token"])
        assert [s["device"] for s in seen] == ["Chrome on Windows", "Firefox on Linux"]
        assert [s["current"] for s in seen] == [False, True]
        seen = list_sessions(client, chrome["access_token"])
        assert [s["current"] for s in seen] == [True, False]


def test_sessions_need_a_signed_in_caller(stores: StoreMaker, clock: Clock) -> None:
    with running(stores, clock) as (client, _):
        assert client.get("/v1/auth/sessions").status_code == 401
        assert client.delete("/v1/auth/sessions").status_code == 401
        assert client.delete("/v1/auth/sessions/whatever").status_code == 401
        bad = bearer("not-a-token")
        assert client.get("/v1/auth/sessions", headers=bad).status_code == 401


# --- ending sessions -----------------------------------------------------------------------------


def test_ending_a_session_spends_its_refresh_token_at_once(
    stores: StoreMaker, clock: Clock
) -> None:
    with running(stores, clock) as (client, auth):
        phone = sign_in(client, CHROME_WINDOWS)
        laptop = sign_in(client, FIREFOX_LINUX)
        assert auth.tokens is not None
        phone_sid = auth.tokens.verify_access(phone["access_token"])["sid"]
        response = client.delete(
            f"/v1/auth/sessions/{phone_sid}", headers=bearer(laptop["access_token"])
        )
        assert response.status_code == 204
        assert refresh(client, phone["refresh_token"]).status_code == 401
        assert [s["id"] for s in list_sessions(client, laptop["access_token"])] != [phone_sid]
        assert len(list_sessions(client, laptop["access_token"])) == 1
        again = client.delete(
            f"/v1/auth/sessions/{phone_sid}", headers=bearer(laptop["access_token"])
        )
        assert again.status_code == 404
        assert refresh(client, laptop["refresh_token"]).status_code == 200


def test_another_users_session_is_404_like_an_unknown_one(stores: StoreMaker, clock: Clock) -> None:
    with (
        running(stores, clock) as (mine, _),
        running(stores, clock, debug_email="other@example.com") as (theirs, other_auth),
    ):
        me = sign_in(mine)
        response = theirs.post(
            "/v1/auth/login", json={"email": "other@example.com", "password": PASSWORD}
        )
        assert response.status_code == 200
        victim = response.json()
        assert other_auth.tokens is not None
        victim_sid = other_auth.tokens.verify_access(victim["access_token"])["sid"]
        foreign = mine.delete(f"/v1/auth/sessions/{victim_sid}", headers=bearer(me["access_token"]))
        unknown = mine.delete("/v1/auth/sessions/" + "0" * 22, headers=bearer(me["access_token"]))
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.json() == unknown.json()
        assert foreign.headers.get("content-length") == unknown.headers.get("content-length")
        # ... and the other user's session lives on
        assert refresh(theirs, victim["refresh_token"]).status_code == 200


def test_ending_all_others_keeps_the_current(stores: StoreMaker, clock: Clock) -> None:
    with running(stores, clock) as (client, _):
        pairs = []
        for _ in range(3):
            pairs.append(sign_in(client))
            clock.advance(1)
        keep = pairs[1]
        response = client.delete("/v1/auth/sessions", headers=bearer(keep["access_token"]))
        assert response.status_code == 200
        assert response.json() == {"ended": 2}
        assert refresh(client, pairs[0]["refresh_token"]).status_code == 401
        assert refresh(client, pairs[2]["refresh_token"]).status_code == 401
        fresh = refresh(client, keep["refresh_token"])
        assert fresh.status_code == 200
        [left] = list_sessions(client, fresh.json()["access_token"])
        assert left["current"] is True
        again = client.delete("/v1/auth/sessions", headers=bearer(fresh.json()["access_token"]))
        assert again.json() == {"ended": 0}


def test_an_ended_session_ends_on_every_instance(stores: StoreMaker, clock: Clock) -> None:
    with running(stores, clock) as (one, auth), running(stores, clock) as (two, _):
        pair = sign_in(one)
        other = sign_in(two)
        assert auth.tokens is not None
        sid = auth.tokens.verify_access(pair["access_token"])["sid"]
        ended = two.delete(f"/v1/auth/sessions/{sid}", headers=bearer(other["access_token"]))
        assert ended.status_code == 204
        assert refresh(one, pair["refresh_token"]).status_code == 401


def test_past_the_session_limit_a_login_ends_the_oldest(stores: StoreMaker, clock: Clock) -> None:
    with running(stores, clock, max_sessions_per_user=3) as (client, _):
        pairs = []
        for _ in range(4):
            pairs.append(sign_in(client))
            clock.advance(1)
        assert refresh(client, pairs[0]["refresh_token"]).status_code == 401
        live = list_sessions(client, pairs[3]["access_token"])
        assert len(live) == 3
        for pair in pairs[1:]:
            assert refresh(client, pair["refresh_token"]).status_code == 200


def test_the_session_limit_defaults_to_fifty(stores: StoreMaker, clock: Clock) -> None:
    with running(stores, clock, login_max_per_address=1000) as (client, auth):
        assert auth.tokens is not None and auth.tokens.max_sessions == 50
        first = sign_in(client)
        for _ in range(49):
            clock.advance(1)
            sign_in(client)
        assert refresh(client, first["refresh_token"]).status_code == 200
        clock.advance(1)
        last = sign_in(client)
        assert len(list_sessions(client, last["access_token"])) == 50
        # the first one's refresh moved it to a later token, but it started first: it ends
        assert not any(
            s["id"] == auth.tokens.verify_access(first["access_token"])["sid"]
            for s in list_sessions(client, last["access_token"])
        )


# --- access tokens: stateless, or checked against the session (REVOKE_ACCESS_TOKENS) -------------


def test_access_tokens_are_stateless_by_default(stores: StoreMaker, clock: Clock) -> None:
    with running(stores, clock) as (client, _):
        pair = sign_in(client)
        assert client.post("/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
        # the session has ended, yet its access token holds until it expires
        assert client.get("/async", headers=bearer(pair["access_token"])).status_code == 200
        clock.advance(15 * 60)
        assert client.get("/async", headers=bearer(pair["access_token"])).status_code == 401


def test_revoked_access_tokens_stop_on_this_instance_at_once(
    stores: StoreMaker, clock: Clock
) -> None:
    with running(stores, clock, revoke_access_tokens=True) as (client, auth):
        assert auth.tokens is not None
        victim = sign_in(client)
        me = sign_in(client)
        headers = bearer(victim["access_token"])
        assert client.get("/async", headers=headers).status_code == 200  # now cached as live
        sid = auth.tokens.verify_access(victim["access_token"])["sid"]
        ended = client.delete(f"/v1/auth/sessions/{sid}", headers=bearer(me["access_token"]))
        assert ended.status_code == 204
        response = client.get("/async", headers=headers)
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        assert client.get("/async", headers=bearer(me["access_token"])).status_code == 200


def test_with_revocation_a_session_ended_by_the_limit_stops_here_at_once(
    stores: StoreMaker, clock: Clock
) -> None:
    # The session check remembers "live" for session_check_cache_ttl; a login that ends the
    # oldest session (MAX_SESSIONS_PER_USER) tells it, as a logout does.
    settings = {"revoke_access_tokens": True, "max_sessions_per_user": 2}
    with running(stores, clock, **settings) as (client, _):
        oldest = sign_in(client)
        headers = bearer(oldest["access_token"])
        assert client.get("/async", headers=headers).status_code == 200  # now cached as live
        clock.advance(1)
        sign_in(client)
        assert client.get("/async", headers=headers).status_code == 200
        clock.advance(1)
        newest = sign_in(client)  # the third: the oldest ends
        assert client.get("/async", headers=headers).status_code == 401
        assert client.get("/async", headers=bearer(newest["access_token"])).status_code == 200


def test_with_revocation_a_logout_stops_the_access_token_here_at_once(
    stores: StoreMaker, clock: Clock
) -> None:
    with running(stores, clock, revoke_access_tokens=True) as (client, _):
        pair = sign_in(client)
        headers = bearer(pair["access_token"])
        assert client.get("/async", headers=headers).status_code == 200  # now cached as live
        logout = client.post("/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
        assert logout.status_code == 204
        assert client.get("/async", headers=headers).status_code == 401


def test_reuse_detection_stops_the_sessions_access_tokens_here_at_once(
    stores: StoreMaker, clock: Clock
) -> None:
    """Issue 20 item 14: a spent refresh token presented again ends its session, and with
    REVOKE_ACCESS_TOKENS the session's access tokens are refused on this instance at once, though
    the session check's 5 s cache had just seen the session live."""
    settings = {"revoke_access_tokens": True, "session_check_cache_ttl": 5}
    with running(stores, clock, **settings) as (client, _):
        first = sign_in(client)
        second = refresh(client, first["refresh_token"])
        assert second.status_code == 200
        clock.advance(11)  # past REFRESH_REUSE_GRACE (10 s): a duplicate is now a reuse
        headers = bearer(second.json()["access_token"])
        assert client.get("/async", headers=headers).status_code == 200  # now cached as live
        reused = refresh(client, first["refresh_token"])
        assert reused.status_code == 401
        response = client.get("/async", headers=headers)
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        assert refresh(client, second.json()["refresh_token"]).status_code == 401


def test_auth_logout_in_code_stops_the_access_token_here_at_once(
    stores: StoreMaker, clock: Clock
) -> None:
    """Issue 20 item 14: auth.logout() called by application code ends the session as the
    logout route does, so with REVOKE_ACCESS_TOKENS its access token is refused on this instance
    at once, within the session check's 5 s cache."""
    settings = {"revoke_access_tokens": True, "session_check_cache_ttl": 5}
    with running(stores, clock, **settings) as (client, auth):
        pair = sign_in(client)
        headers = bearer(pair["access_token"])
        assert client.get("/async", headers=headers).status_code == 200  # now cached as live
        assert client.portal is not None
        assert client.portal.call(auth.logout, pair["refresh_token"]) is True
        assert client.get("/async", headers=headers).status_code == 401
        assert client.portal.call(auth.logout, pair["refresh_token"]) is True  # known, ended
        assert client.portal.call(auth.logout, "twr_unknown") is False


def test_with_revocation_ending_all_others_stops_their_access_tokens_here_at_once(
    stores: StoreMaker, clock: Clock
) -> None:
    settings = {"revoke_access_tokens": True, "session_check_cache_ttl": 5}
    with running(stores, clock, **settings) as (client, _):
        other = sign_in(client)
        me = sign_in(client)
        headers = bearer(other["access_token"])
        assert client.get("/async", headers=headers).status_code == 200  # now cached as live
        response = client.delete("/v1/auth/sessions", headers=bearer(me["access_token"]))
        assert response.json() == {"ended": 1}
        assert client.get("/async", headers=headers).status_code == 401
        assert client.get("/async", headers=bearer(me["access_token"])).status_code == 200


def test_revoked_access_tokens_stop_elsewhere_within_the_cache_ttl(
    stores: StoreMaker, clock: Clock
) -> None:
    settings = {"revoke_access_tokens": True, "session_check_cache_ttl": 5}
    with (
        running(stores, clock, **settings) as (one, _),
        running(stores, clock, **settings) as (two, _),
    ):
        pair = sign_in(one)
        headers = bearer(pair["access_token"])
        assert two.get("/async", headers=headers).status_code == 200
        assert one.post("/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
        clock.advance(4)
        assert two.get("/async", headers=headers).status_code == 200  # the cache still says live
        clock.advance(1)
        assert two.get("/async", headers=headers).status_code == 401


def test_uncached_session_checks_see_the_end_at_once(stores: StoreMaker, clock: Clock) -> None:
    settings = {"revoke_access_tokens": True, "session_check_cache_ttl": 0}
    with (
        running(stores, clock, **settings) as (one, _),
        running(stores, clock, **settings) as (
            two,
            _,
        ),
    ):
        pair = sign_in(one)
        headers = bearer(pair["access_token"])
        assert two.get("/async", headers=headers).status_code == 200
        assert one.post("/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
        assert two.get("/async", headers=headers).status_code == 401


def test_with_revocation_a_token_without_a_session_is_401(stores: StoreMaker, clock: Clock) -> None:
    with running(stores, clock, revoke_access_tokens=True) as (client, auth):
        assert auth.tokens is not None
        loose = auth.tokens.issue_access(
            Principal(subject="someone", credential_type="access_token")
        )
        assert client.get("/async", headers=bearer(loose)).status_code == 401
        made_up = auth.tokens.issue_access(
            Principal(subject="someone", credential_type="access_token"), sid="no-such-session"
        )
        assert client.get("/async", headers=bearer(made_up)).status_code == 401


# --- a refresh re-reads the debug user -----------------------------------------------------------


def test_a_refresh_picks_up_changed_groups_and_scopes(stores: StoreMaker, clock: Clock) -> None:
    with running(stores, clock, debug_groups="operator") as (before, _):
        pair = sign_in(before)
        assert before.get("/root", headers=bearer(pair["access_token"])).status_code == 403
    # the app restarts with other settings; the session carries over in the store
    changed = {"debug_groups": "root", "debug_scopes": "reports:read reports:write"}
    with running(stores, clock, **changed) as (after, _):
        response = refresh(after, pair["refresh_token"])
        assert response.status_code == 200
        fresh = response.json()["access_token"]
        me = after.get("/v1/auth/me", headers=bearer(fresh)).json()
        assert me["groups"] == ["root"]
        assert set(me["scopes"]) == {"reports:read", "reports:write"}
        assert after.get("/root", headers=bearer(fresh)).status_code == 200


def test_a_refresh_keeps_the_scope_the_login_asked_for(stores: StoreMaker, clock: Clock) -> None:
    wide = {"debug_scopes": "reports:read reports:write"}
    with running(stores, clock, **wide) as (client, _):
        pair = sign_in(client, scope="reports:read")
        fresh = refresh(client, pair["refresh_token"]).json()["access_token"]
        me = client.get("/v1/auth/me", headers=bearer(fresh)).json()
        assert me["scopes"] == ["reports:read"]


# --- every auth answer is no-store ---------------------------------------------------------------


def assert_no_store(response: Any) -> None:
    assert response.headers.get("cache-control") == "no-store", response.request.url
    assert response.headers.get("pragma") == "no-cache", response.request.url


def test_every_auth_answer_is_no_store(stores: StoreMaker, clock: Clock) -> None:
    with running(stores, clock) as (client, _):
        good = client.post("/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
        pair = good.json()
        headers = bearer(pair["access_token"])
        answers = [
            good,
            client.post("/v1/auth/login", json={"email": EMAIL, "password": "wrong"}),
            client.post("/v1/auth/login", json={"email": EMAIL}),
            client.post("/v1/auth/login", content=b"{", headers={"content-type": "text/plain"}),
            client.get("/v1/auth/me", headers=headers),
            client.get("/v1/auth/me"),
            client.get("/v1/auth/sessions", headers=headers),
            client.delete("/v1/auth/sessions/nope", headers=headers),
            client.delete("/v1/auth/sessions", headers=headers),
            client.post("/v1/api-keys", json={"name": "ci"}, headers=headers),
            client.get("/v1/api-keys", headers=headers),
            client.get("/v1/api-keys"),
            client.delete("/v1/api-keys/nope", headers=headers),
            refresh(client, "twr_" + "A" * 43),
        ]
        fresh = refresh(client, pair["refresh_token"])
        answers += [
            fresh,
            client.post("/v1/auth/logout", json={"refresh_token": fresh.json()["refresh_token"]}),
        ]
        assert {a.status_code for a in answers} >= {200, 201, 204, 401, 404, 415, 422}
        for answer in answers:
            assert_no_store(answer)


def test_rate_limited_answers_are_no_store(stores: StoreMaker, clock: Clock) -> None:
    with running(stores, clock, login_max_failures=1) as (client, _):
        client.post("/v1/auth/login", json={"email": EMAIL, "password": "wrong"})
        limited = client.post("/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
        assert limited.status_code == 429
        assert_no_store(limited)


# --- unit: device names and the session check ----------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        (FIREFOX_LINUX, "Firefox on Linux"),
        (CHROME_WINDOWS, "Chrome on Windows"),
        (CHROME_WINDOWS + " Edg/120.0.0.0", "Edge on Windows"),
        (CHROME_WINDOWS + " OPR/105.0.0.0", "Opera on Windows"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:120.0) Gecko/20100101 Firefox/120.0",
            "Firefox on macOS",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.1 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("curl/8.5.0", "curl"),
        ("python-httpx/0.27.0", "httpx"),
        ("MyApp/1.2 (build 7)", "MyApp"),
        ("Mozilla/5.0 (X11; Linux x86_64)", "Linux"),
        ("", "unknown device"),
        (None, "unknown device"),
        ("\x00\x01\x7f", "unknown device"),
        ("é" * 10 + "x" * 100, "x" * 40),
    ],
)
def test_device_name(agent: str | None, name: str) -> None:
    assert device_name(agent) == name


def test_a_long_user_agent_is_cut_in_the_store(stores: StoreMaker, clock: Clock) -> None:
    with running(stores, clock) as (client, _):
        pair = sign_in(client, "curl/8 " + "x" * 2000)
        [session] = list_sessions(client, pair["access_token"])
        assert len(session["user_agent"]) == 512
        assert session["device"] == "curl"


def service(store: Store, clock: Clock, **kwargs: Any) -> TokenService:
    tokens = DebugTokens(b"k" * 32, issuer="test")
    return TokenService(tokens, store, clock=clock, **kwargs)


def test_session_check_remembers_for_its_ttl(clock: Clock) -> None:
    async def scenario() -> None:
        store = SQLiteStore()
        await store.open()
        tokens = service(store, clock)
        check = SessionCheck(tokens.lifecycle, ttl=5, clock=clock)
        pair = await tokens.start(Principal(subject="u1", credential_type="access_token"))
        sid = tokens.verify_access(pair.access_token)["sid"]
        who = Principal(subject="u1", credential_type="access_token", session_id=sid)
        await check.check(who)
        elsewhere = service(store, clock)  # another instance: its life cycle is not this one's
        assert await elsewhere.end_session("u1", sid)
        clock.advance(4.9)
        await check.check(who)  # still cached as live
        clock.advance(0.1)
        with pytest.raises(InvalidTokenError, match="ended"):
            await check.check(who)
        with pytest.raises(InvalidTokenError, match="names no session"):
            await check.check(Principal(subject="u1", credential_type="access_token"))
        await store.close()

    asyncio.run(scenario())


def test_session_check_forget_takes_effect_at_once(clock: Clock) -> None:
    async def scenario() -> None:
        store = SQLiteStore()
        await store.open()
        tokens = service(store, clock)
        check = SessionCheck(tokens.lifecycle, ttl=60, clock=clock)
        pair = await tokens.start(Principal(subject="u1", credential_type="access_token"))
        sid = tokens.verify_access(pair.access_token)["sid"]
        who = Principal(subject="u1", credential_type="access_token", session_id=sid)
        await check.check(who)
        check.forget(sid)
        with pytest.raises(InvalidTokenError):
            await check.check(who)
        await store.close()

    asyncio.run(scenario())


class PausedReads(SQLiteStore):
    """SQLite whose session reads wait, once read, until the test lets them return: a store
    read in flight while the session ends."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = asyncio.Event()
        self.go_on = asyncio.Event()

    async def get_session(self, session_id: str) -> SessionInfo | None:
        found = await super().get_session(session_id)
        self.reading.set()
        await self.go_on.wait()
        return found


def test_a_session_ended_during_the_checks_store_read_stays_ended(clock: Clock) -> None:
    """Issue 20 item 14: a check whose store read began before the session ended here does not
    write "live" over the end it was told of."""

    async def scenario() -> None:
        store = PausedReads()
        await store.open()
        tokens = service(store, clock)
        check = SessionCheck(tokens.lifecycle, ttl=60, clock=clock)
        pair = await tokens.start(Principal(subject="u1", credential_type="access_token"))
        sid = tokens.verify_access(pair.access_token)["sid"]
        who = Principal(subject="u1", credential_type="access_token", session_id=sid)
        pending = asyncio.create_task(check.check(who))
        await store.reading.wait()  # the store said "live"; the answer is on its way
        assert await tokens.end_session("u1", sid)
        store.go_on.set()
        with pytest.raises(InvalidTokenError, match="ended"):
            await pending  # answered after the end: refused
        with pytest.raises(InvalidTokenError, match="ended"):
            await check.check(who)  # and so is the next one, within the 60 s cache
        await store.close()

    asyncio.run(scenario())


def test_every_way_a_session_ends_tells_the_life_cycles_listeners(clock: Clock) -> None:
    async def scenario() -> None:
        store = SQLiteStore()
        await store.open()
        lifecycle = SessionLifecycle(store, clock=clock)
        heard: list[str] = []
        lifecycle.listen(heard.append)
        tokens = service(store, clock, lifecycle=lifecycle, max_sessions=2, reuse_grace=0)
        user = Principal(subject="u1", credential_type="access_token")

        def sid(pair: TokenPair) -> str:
            found: str = tokens.verify_access(pair.access_token)["sid"]
            return found

        a = await tokens.start(user)
        clock.advance(1)
        b = await tokens.start(user)
        clock.advance(1)
        c = await tokens.start(user)  # past max_sessions: a ends
        assert heard == [sid(a)]
        assert await tokens.end_session("u1", sid(b))  # DELETE /sessions/{id}
        assert not await tokens.end_session("u2", sid(c))  # not theirs: nobody told
        assert heard == [sid(a), sid(b)]
        d = await tokens.start(user)
        assert await tokens.end_other_sessions("u1", keep=sid(d)) == 1  # DELETE /sessions
        assert heard == [sid(a), sid(b), sid(c)]
        rotated = await tokens.refresh(d.refresh_token)
        clock.advance(1)
        with pytest.raises(RefreshTokenError):  # reuse detection
            await tokens.refresh(d.refresh_token)
        assert heard[-1] == sid(d) == sid(rotated)
        e = await tokens.start(user)
        assert await tokens.revoke(e.refresh_token)  # logout
        assert heard[-1] == sid(e)
        for ended in (a, b, c, d, e):
            assert not await lifecycle.is_live(sid(ended))
        await store.close()

    asyncio.run(scenario())


def test_the_life_cycle_must_work_on_the_services_store(clock: Clock) -> None:
    with pytest.raises(ConfigurationError, match="store"):
        service(SQLiteStore(), clock, lifecycle=SessionLifecycle(SQLiteStore()))


def test_session_is_live_until_its_last_token_expires(clock: Clock) -> None:
    async def scenario() -> None:
        store = SQLiteStore()
        await store.open()
        tokens = service(store, clock, refresh_lifetime=3600)
        pair = await tokens.start(Principal(subject="u1", credential_type="access_token"))
        sid = tokens.verify_access(pair.access_token)["sid"]
        assert await tokens.session_is_live(sid)
        clock.advance(3599)
        assert await tokens.session_is_live(sid)
        clock.advance(1)
        assert not await tokens.session_is_live(sid)
        assert not await tokens.session_is_live("unknown")
        await store.close()

    asyncio.run(scenario())


def test_max_sessions_must_be_positive(clock: Clock) -> None:
    with pytest.raises(ConfigurationError):
        service(SQLiteStore(), clock, max_sessions=0)
