"""Cookie sessions and CSRF in a real browser: headless Chromium (Debian's) driven by Selenium,
examples/app.py under uvicorn on one loopback port with ``COOKIE_SESSIONS=true``, and another
site's page (tests/cross_origin_app.py) under a second uvicorn on another port.

The app's page (``GET /session``) signs in, then calls a protected GET and a protected POST with
``fetch(..., {credentials: "include"})``: the tokens travel only in HttpOnly cookies. The other
origin's page tries the same POST: its cookies go along (same host, so the same *site*:
SameSite=Lax does not stop them), and the app refuses it (403, in its access log) because the
Origin is not in ``ALLOWED_ORIGINS`` and the CSRF header is missing; with the header, the
browser's CORS preflight stops the POST before it is sent. Only loopback addresses are used.

Chromium comes from ``scripts/browser-deps.sh``; the test skips only when it is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from _browser_support import chrome, needs_chromium, run
from _uvicorn_support import HOST, Server, free_port, serve

HERE = Path(__file__).resolve().parent
EMAIL = "debug@example.com"
PASSWORD = "vega-debug-password"

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """The example app with cookie sessions (access log on), and the other site."""
    tmp = tmp_path_factory.mktemp("cookies-browser")
    port = free_port()
    settings = {
        "TOKENWARD_AUTH_SECRET": "browser-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
        "TOKENWARD_STORE_URL": f"sqlite:///{tmp / 'cookies.db'}",
        "TOKENWARD_COOKIE_SESSIONS": "true",
        "TOKENWARD_ALLOWED_ORIGINS": f"http://{HOST}:{port}",
    }
    with (
        serve("app:app", settings, workdir=tmp, port=port, args=["--access-log"]) as app,
        serve("cross_origin_app:app", {}, workdir=tmp, app_dir=HERE, ready_path="/") as other,
    ):
        yield app, other


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    with chrome(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def access_log(server: Server, line: str) -> int:
    return server.log.read_text(encoding="utf-8", errors="replace").count(line)


def test_page_signs_in_with_cookies_and_another_origin_is_refused(
    browser: WebDriver, servers: tuple[Server, Server]
) -> None:
    app, other = servers
    browser.get(f"{app.base_url}/session")
    assert browser.title == "tokenward cookie session"

    # Signed out: the protected GET is a 401.
    assert run(browser, "window.session.projects")["status"] == 401

    assert run(browser, "window.session.signIn", EMAIL, PASSWORD) == {"status": 200}
    cookies = {c["name"]: c for c in browser.get_cookies()}
    assert set(cookies) == {"tw_access"}  # tw_refresh's Path is /v1/auth, not this page's
    access = cookies["tw_access"]
    assert access["httpOnly"] is True and access["sameSite"] == "Lax"
    assert access["secure"] is False  # plain http to a loopback host, in development
    assert run(browser, "() => Promise.resolve(document.cookie)") == ""  # HttpOnly: unseen

    projects = run(browser, "window.session.projects")
    assert projects["status"] == 200 and projects["body"]["user"] == EMAIL
    assert run(browser, "window.session.me")["body"]["email"] == EMAIL

    # Another origin's page tries to deploy apollo with the same cookies.
    browser.get(f"{other.base_url}/")
    attempt = run(browser, "window.attack", app.base_url)
    assert attempt == {"simple": "opaque", "with_header": "blocked"}
    refused = '"POST /v1/projects/apollo/deploy HTTP/1.1" 403'
    assert access_log(app, refused) == 1  # sent with the cookie, refused by the CSRF rule
    assert access_log(app, '"POST /v1/projects/apollo/deploy HTTP/1.1" 200') == 0

    # Back on the app's own page: apollo was not deployed; the page's own POST is accepted.
    browser.get(f"{app.base_url}/session")
    before = run(
        browser, "() => fetch('/v1/projects/apollo', {credentials: 'include'}).then(r => r.json())"
    )
    assert before["deployed"] is False
    deployed = run(browser, "window.session.deploy", "apollo")
    assert deployed["status"] == 200 and deployed["body"]["deployed"] is True

    # Refresh through the cookie, then sign out: both cookies are cleared.
    assert run(browser, "window.session.refresh") == {"status": 200}
    assert run(browser, "window.session.logout")["status"] == 204
    assert browser.get_cookies() == []
    assert run(browser, "window.session.projects")["status"] == 401
