"""tokenward/fastapi/transports.py: where a credential is read (Authorization, X-API-Key, the
access cookie, a WebSocket handshake), how a login answer is written (JSON body; Set-Cookie with
cookie sessions), and the CSRF rule for requests a cookie authenticates. In process, through
Starlette's TestClient; tests/test_fastapi_cookies_uvicorn.py runs the same over real uvicorn
and headless Chromium."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends
from starlette.websockets import WebSocketDisconnect
from tests._fastapi_support import EMAIL, PASSWORD, Clock, TestClient, bearer, login, make_app
from tests._websocket_app import PATHS, add_websocket_routes

from tokenward.exceptions import ConfigurationError, CsrfError
from tokenward.fastapi import AuthSettings, CurrentUser, require_current_user
from tokenward.fastapi.transports import csrf_problems, origin_of

SITE = "http://127.0.0.1:8000"  # the app's own origin in these tests (a loopback host)
OTHER = "http://127.0.0.1:9000"  # another origin: another port of the same host
CSRF = {"X-Tokenward-CSRF": "1"}
ORIGIN_MISSING = "an Origin (or Referer) header"
ORIGIN_WRONG = "an Origin listed in TOKENWARD_TEST_ISOLATED_ALLOWED_ORIGINS"
REFERER_WRONG = "an Referer listed in TOKENWARD_TEST_ISOLATED_ALLOWED_ORIGINS"
HEADER_MISSING = "the header X-Tokenward-CSRF: 1"
ACCESS_LIFETIME = 900
REFRESH_LIFETIME = 7 * 24 * 3600


@contextlib.contextmanager
def running(
    base_url: str = SITE, *, account: tuple[str, str] | None = None, **overrides: Any
) -> Iterator[TestClient]:
    """The test app with a protected POST and the WebSocket routes, cookie sessions on;
    ``account`` (email, password) is created once it has started (outside development the
    debug login is off: accounts sign in)."""
    overrides.setdefault("cookie_sessions", True)
    overrides.setdefault("allowed_origins", SITE)
    app, auth = make_app(clock=Clock(), **overrides)
    app.include_router(auth.api_keys_router)
    add_websocket_routes(app)

    @app.api_route("/things", methods=["POST", "PUT", "PATCH", "DELETE"])
    async def make_thing(
        user: Annotated[CurrentUser, Depends(require_current_user)],
    ) -> dict[str, Any]:
        return {"made_by": user.sub}

    with TestClient(app, base_url=base_url) as client:
        if account is not None:
            assert auth.api is not None
            client.portal.call(auth.api.create_user, *account)
        yield client


def cookie_login(client: TestClient, **headers: str) -> Any:
    response = client.post(
        "/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response


def set_cookies(response: Any) -> dict[str, str]:
    """Each Set-Cookie header of ``response``, by cookie name."""
    found = {}
    for value in response.headers.get_list("set-cookie"):
        found[value.split("=", 1)[0]] = value
    return found


def detail(response: Any) -> str:
    text: str = response.json()["detail"]
    return text


# --- CSRF rule, unit ---------------------------------------------------------------------------


def scope(method: str, *headers: tuple[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
    }


ALLOWED = frozenset({SITE})


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "TRACE"])
def test_safe_methods_need_nothing(method: str) -> None:
    assert csrf_problems(scope(method), ALLOWED) == ()


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_state_changing_methods_name_each_missing_piece(method: str) -> None:
    assert csrf_problems(scope(method), ALLOWED) == (
        "an Origin (or Referer) header",
        HEADER_MISSING,
    )
    assert csrf_problems(scope(method, ("Origin", SITE)), ALLOWED) == (HEADER_MISSING,)
    assert csrf_problems(scope(method, ("X-Tokenward-CSRF", "1")), ALLOWED) == (
        "an Origin (or Referer) header",
    )
    assert csrf_problems(scope(method, ("Origin", OTHER), ("X-Tokenward-CSRF", "1")), ALLOWED) == (
        "an Origin listed in ALLOWED_ORIGINS",
    )
    assert csrf_problems(scope(method, ("Origin", SITE), ("X-Tokenward-CSRF", "1")), ALLOWED) == ()


def test_referer_counts_only_without_origin() -> None:
    good = scope("POST", ("Referer", SITE + "/app/page?x=1"), ("X-Tokenward-CSRF", "1"))
    assert csrf_problems(good, ALLOWED) == ()
    bad = scope("POST", ("Referer", OTHER + "/evil"), ("X-Tokenward-CSRF", "1"))
    assert csrf_problems(bad, ALLOWED) == ("an Referer listed in ALLOWED_ORIGINS",)
    # An Origin, when sent, is what counts: a good Referer beside a foreign Origin does not help.
    mixed = scope("POST", ("Origin", OTHER), ("Referer", SITE + "/"), ("X-Tokenward-CSRF", "1"))
    assert csrf_problems(mixed, ALLOWED) == ("an Origin listed in ALLOWED_ORIGINS",)


@pytest.mark.parametrize("value", ["0", "", "true", "11"])
def test_the_csrf_header_must_be_1(value: str) -> None:
    request = scope("POST", ("Origin", SITE), ("X-Tokenward-CSRF", value))
    assert csrf_problems(request, ALLOWED) == (HEADER_MISSING,)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("HTTPS://App.Example.COM:443/x", "https://app.example.com"),
        ("http://example.com:80", "http://example.com"),
        ("http://[::1]:8000/p", "http://[::1]:8000"),
        ("null", None),
        ("file:///etc/passwd", None),
        ("http://host:99999", None),
    ],
)
def test_origin_of(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


def test_csrf_error_names_what_is_missing() -> None:
    exc = CsrfError(("an Origin (or Referer) header", HEADER_MISSING))
    assert exc.missing == ("an Origin (or Referer) header", HEADER_MISSING)
    assert HEADER_MISSING in str(exc)


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["example.com", "https://app.example.com/path", "ftp://x", "https://u@x.example"]
)
def test_allowed_origins_refuses_what_is_not_an_origin(value: str) -> None:
    with pytest.raises(ConfigurationError, match="ALLOWED_ORIGINS"):
        AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", allowed_origins=value)


def test_transport_settings_defaults() -> None:
    settings = AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_")
    assert settings.cookie_sessions is False and settings.api_key_header is False
    assert (settings.cookie_access_name, settings.cookie_refresh_name) == (
        "tw_access",
        "tw_refresh",
    )
    assert settings.allowed_origins == []


# --- bearer: today's behaviour, untouched by cookies ----------------------------------------------


def test_without_cookie_sessions_login_sets_no_cookie_and_cookies_are_ignored() -> None:
    with running(cookie_sessions=False) as client:
        response = cookie_login(client)
        assert response.headers.get_list("set-cookie") == []
        token = response.json()["access_token"]
        assert client.get("/sync", headers={"Cookie": f"tw_access={token}"}).status_code == 401
        assert client.get("/sync", headers=bearer(token)).status_code == 200


def test_bearer_requests_need_no_origin_and_no_csrf_header() -> None:
    with running() as client:
        token = login(client)["access_token"]
        client.cookies.clear()
        response = client.post("/things", headers=bearer(token))
        assert response.status_code == 200, response.text
        # The Authorization header wins over a cookie: no CSRF rule for such a request.
        response = client.post("/things", headers={**bearer(token), "Cookie": "tw_access=x.y.z"})
        assert response.status_code == 200, response.text


# --- X-API-Key ---------------------------------------------------------------------------------


def test_x_api_key_header_is_opt_in() -> None:
    for enabled in (False, True):
        with running(api_key_header=enabled) as client:
            token = login(client)["access_token"]
            client.cookies.clear()
            made = client.post("/v1/api-keys", json={"name": "ci"}, headers=bearer(token))
            assert made.status_code == 201, made.text
            key = made.json()["key"]
            response = client.get("/sync", headers={"X-API-Key": key})
            assert response.status_code == (200 if enabled else 401), response.text
            # Authorization is read first.
            assert (
                client.get("/sync", headers={"X-API-Key": key, **bearer(token)}).json()["sub"]
                == client.get("/sync", headers=bearer(key)).json()["sub"]
            )


def test_x_api_key_header_carries_no_access_token() -> None:
    with running(api_key_header=True) as client:
        token = login(client)["access_token"]
        client.cookies.clear()
        response = client.get("/sync", headers={"X-API-Key": token})
        assert response.status_code == 401
        assert "API key" in detail(response)
        assert response.headers["www-authenticate"].startswith("Bearer")


# --- cookie sessions ---------------------------------------------------------------------------


def test_login_sets_both_cookies_with_exact_attributes_on_loopback_development() -> None:
    with running() as client:
        cookies = set_cookies(cookie_login(client))
        access = client.cookies["tw_access"]
        refresh = client.cookies["tw_refresh"]
    assert cookies == {
        "tw_access": f"tw_access={access}; Max-Age={ACCESS_LIFETIME}; Path=/; HttpOnly; "
        "SameSite=Lax",
        "tw_refresh": f"tw_refresh={refresh}; Max-Age={REFRESH_LIFETIME}; Path=/v1/auth; "
        "HttpOnly; SameSite=Lax",
    }


@pytest.mark.parametrize(
    ("base_url", "overrides"),
    [
        ("http://testserver", {}),  # not a loopback host
        ("https://127.0.0.1:8000", {}),  # https: always Secure
        (
            SITE,
            {
                "environment": "staging",
                "allow_custom_auth_in_production": True,
                "password_hash_passes": 2,
                "password_hash_memory_kib": 19456,
            },
        ),
    ],
)
def test_cookies_are_secure_except_for_plain_http_to_loopback_in_development(
    base_url: str, overrides: dict[str, Any]
) -> None:
    staging = "environment" in overrides  # an account signs in there: no debug login
    password = PASSWORD + "-staging" if staging else PASSWORD
    account = (EMAIL, password) if staging else None
    with running(base_url, account=account, **overrides) as client:
        response = client.post("/v1/auth/login", json={"email": EMAIL, "password": password})
        assert response.status_code == 200, response.text
        for value in set_cookies(response).values():
            assert value.endswith("; HttpOnly; SameSite=Lax; Secure"), value


def test_cookie_names_and_lifetimes_follow_the_settings() -> None:
    with running(
        cookie_access_name="a_tok",
        cookie_refresh_name="r_tok",
        access_token_lifetime=120,
        refresh_token_lifetime=3600,
    ) as client:
        cookies = set_cookies(cookie_login(client))
    assert set(cookies) == {"a_tok", "r_tok"}
    assert "; Max-Age=120; Path=/;" in cookies["a_tok"]
    assert "; Max-Age=3600; Path=/v1/auth;" in cookies["r_tok"]


def test_the_access_cookie_authenticates_a_get_without_csrf_pieces() -> None:
    with running() as client:
        cookie_login(client)
        response = client.get("/sync")
        assert response.status_code == 200, response.text
        assert client.get("/v1/auth/me").json()["email"] == EMAIL


def test_a_cookie_post_needs_an_allowed_origin_and_the_csrf_header() -> None:
    with running() as client:
        cookie_login(client)
        cases = [
            ({}, [ORIGIN_MISSING, HEADER_MISSING]),
            ({"Origin": SITE}, [HEADER_MISSING]),
            (CSRF, [ORIGIN_MISSING]),
            ({"Origin": OTHER, **CSRF}, [ORIGIN_WRONG]),
            ({"Origin": "null", **CSRF}, [ORIGIN_WRONG]),
            ({"Referer": OTHER + "/page", **CSRF}, [REFERER_WRONG]),
        ]
        for headers, missing in cases:
            response = client.post("/things", headers=headers)
            assert response.status_code == 403, (headers, response.text)
            assert (
                detail(response)
                == "Cross-site request refused: it needs " + " and ".join(missing) + "."
            ), headers
        for method in ("put", "patch", "delete"):
            assert getattr(client, method)("/things").status_code == 403
        assert client.post("/things", headers={"Origin": SITE, **CSRF}).status_code == 200
        assert client.post("/things", headers={"Referer": SITE + "/x", **CSRF}).status_code == 200


def test_an_api_key_is_never_read_from_a_cookie() -> None:
    with running() as client:
        token = login(client)["access_token"]
        client.cookies.clear()
        key = client.post("/v1/api-keys", json={"name": "ci"}, headers=bearer(token)).json()["key"]
        assert client.get("/sync", headers={"Cookie": f"tw_access={key}"}).status_code == 401


def test_refresh_reads_the_refresh_cookie_when_the_body_has_none() -> None:
    with running() as client:
        cookie_login(client)
        old = client.cookies["tw_refresh"]
        refused = client.post("/v1/auth/refresh", headers={"Origin": SITE})
        assert refused.status_code == 403 and detail(refused).endswith(HEADER_MISSING + ".")
        response = client.post("/v1/auth/refresh", headers={"Origin": SITE, **CSRF})
        assert response.status_code == 200, response.text
        cookies = set_cookies(response)
        assert set(cookies) == {"tw_access", "tw_refresh"}
        assert client.cookies["tw_refresh"] != old
        assert response.json()["refresh_token"] == client.cookies["tw_refresh"]
        # A body token still works as before, and needs no CSRF pieces.
        again = client.post(
            "/v1/auth/refresh", json={"refresh_token": client.cookies["tw_refresh"]}
        )
        assert again.status_code == 200, again.text


def test_refresh_without_body_or_cookie_is_still_422() -> None:
    with running() as client:
        assert client.post("/v1/auth/refresh").status_code == 422


def test_logout_clears_both_cookies_and_ends_the_session() -> None:
    with running() as client:
        cookie_login(client)
        refresh = client.cookies["tw_refresh"]
        assert client.post("/v1/auth/logout").status_code == 403  # cookie-authenticated: CSRF
        response = client.post("/v1/auth/logout", headers={"Origin": SITE, **CSRF})
        assert response.status_code == 204, response.text
        assert set_cookies(response) == {
            "tw_access": "tw_access=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
            "tw_refresh": "tw_refresh=; Max-Age=0; Path=/v1/auth; HttpOnly; SameSite=Lax",
        }
        assert "tw_access" not in client.cookies and "tw_refresh" not in client.cookies
        spent = client.post("/v1/auth/refresh", json={"refresh_token": refresh})
        assert spent.status_code == 401


def test_a_cookie_login_from_another_origin_is_refused() -> None:
    with running() as client:
        for headers, missing in (
            ({"Origin": OTHER}, ORIGIN_WRONG),
            ({"Referer": OTHER + "/form"}, REFERER_WRONG),
            ({"Origin": "null"}, ORIGIN_WRONG),
        ):
            response = client.post(
                "/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}, headers=headers
            )
            assert response.status_code == 403, response.text
            assert detail(response) == f"Cross-site request refused: it needs {missing}."
            assert response.headers.get_list("set-cookie") == []
        cookie_login(client, Origin=SITE)
        cookie_login(client, Referer=SITE + "/login")
        cookie_login(client)  # no Origin, no Referer: not a browser's form


# --- WebSockets --------------------------------------------------------------------------------


def test_websocket_reads_the_access_cookie_only_from_an_allowed_origin() -> None:
    with running() as client:
        cookie_login(client)
        # (TestClient's websocket_connect does not send its cookie jar: the header is written.)
        cookie = {"Cookie": f"tw_access={client.cookies['tw_access']}"}
        with client.websocket_connect(PATHS["user"], headers={"Origin": SITE, **cookie}) as ws:
            assert ws.receive_json()["sub"]
            ws.send_text("bye")
        for headers in ({"Origin": OTHER, **cookie}, cookie):
            with client.websocket_connect(PATHS["user"], headers=headers) as ws:
                with pytest.raises(WebSocketDisconnect) as closed:
                    ws.receive_json()
            assert closed.value.code == 1008
            assert "ALLOWED_ORIGINS" in closed.value.reason


def test_websocket_query_token_and_header_as_before() -> None:
    with running(cookie_sessions=False, websocket_token_query="access_token") as client:
        token = login(client)["access_token"]
        with client.websocket_connect(f"{PATHS['user']}?access_token={token}") as ws:
            assert ws.receive_json()["sub"]
            ws.send_text("bye")
        with client.websocket_connect(PATHS["user"], headers=bearer(token)) as ws:
            assert ws.receive_json()["sub"]
            ws.send_text("bye")
