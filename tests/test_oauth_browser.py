"""External sign-in in a real browser (issue 24): headless Chromium (Debian's, driven by Selenium)
starts a sign-in at examples/app.py under uvicorn with ``COOKIE_SESSIONS=true`` and
``OAUTH_PROVIDERS=oidc``, follows the redirect to the loopback oidc-provider-mock, submits its
consent form, comes back through the callback and lands on ``OAUTH_AFTER_SIGN_IN_URL`` signed in:
the session is in HttpOnly cookies, and ``/v1/auth/me`` answers for it. Only loopback addresses
are used. Chromium comes from ``scripts/browser-deps.sh``; the test skips only when it is not
installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

if importlib.util.find_spec("oidc_provider_mock") is None:
    pytest.skip("oidc-provider-mock is not installed (the test extra)", allow_module_level=True)

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from _browser_support import WAIT, chrome, needs_chromium
from _uvicorn_support import HOST, free_port, serve
from test_oauth_uvicorn import CLIENT_ID, mock_provider, set_user

pytestmark = needs_chromium


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[WebDriver]:
    with chrome(tmp_path / "profile") as driver:
        yield driver


def test_chromium_signs_in_with_the_mock_provider_and_lands_with_cookies(
    chromium: WebDriver, tmp_path: Path
) -> None:
    with mock_provider(tmp_path / "mock.log") as issuer:
        set_user(issuer, "ivy", email="ivy@example.com", email_verified=True)
        port = free_port()
        base = f"http://{HOST}:{port}"
        settings = {
            "TOKENWARD_AUTH_SECRET": "oauth-browser-secret-0123456789-abcdefghijklmnop",
            "TOKENWARD_STORE_URL": f"sqlite:///{tmp_path / 'tokenward.db'}",
            "TOKENWARD_COOKIE_SESSIONS": "true",
            "TOKENWARD_ALLOWED_ORIGINS": base,
            "TOKENWARD_OAUTH_PROVIDERS": "oidc",
            "TOKENWARD_OAUTH_OIDC_ISSUER": issuer,
            "TOKENWARD_OAUTH_OIDC_CLIENT_ID": CLIENT_ID,
            "TOKENWARD_OAUTH_OIDC_CLIENT_SECRET": "any-secret-the-mock-takes",
            "TOKENWARD_OAUTH_SIGNUP": "open",
            "TOKENWARD_OAUTH_REDIRECT_BASE_URL": base,
            "TOKENWARD_OAUTH_AFTER_SIGN_IN_URL": base + "/v1/health",
        }
        with serve("app:app", settings, workdir=tmp_path, port=port):
            chromium.get(f"{base}/v1/auth/oauth/oidc?redirect_to=/session")
            wait = WebDriverWait(chromium, WAIT)
            wait.until(expected_conditions.presence_of_element_located((By.NAME, "sub")))
            assert chromium.current_url.startswith(issuer + "/oauth2/authorize")
            field = chromium.find_element(By.NAME, "sub")
            field.send_keys("ivy")
            field.submit()
            wait.until(lambda d: d.current_url == f"{base}/session")
            cookies = {c["name"]: c for c in chromium.get_cookies()}
            access = cookies["tw_access"]
            assert access["httpOnly"] and access["sameSite"] == "Lax"
            assert "tokenward_oauth" not in cookies  # the state cookie was cleared
            me = chromium.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "fetch('/v1/auth/me', {credentials: 'include'})"
                ".then(r => r.json().then(b => done({status: r.status, body: b})),"
                " e => done({status: 0, body: String(e)}));"
            )
            assert me["status"] == 200, me
            assert me["body"]["email"] == "ivy@example.com"
            # the tokens never reached the page's script: only the server read them
            assert "access_token" not in chromium.page_source
            assert httpx.get(f"{base}/v1/auth/me").status_code == 401  # no cookie, no session
