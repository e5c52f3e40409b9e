"""Issue 22's "done when", in a real browser: headless Chromium (Selenium) on the example app's
account pages (examples/account.html) under uvicorn, with cookie sessions, sign-up open, email
verification required and its mail going out through ``SMTP_URL`` to a real SMTP server on
loopback (aiosmtpd, tests/smtp_server.py).

One person signs up, reads the verification mail from the SMTP server, follows its link and
verifies, signs in (the tokens only in HttpOnly cookies), and changes the password; a second
browser that had signed in to the same account is signed out by the change (its access cookie
and its refresh cookie are both refused), while the first stays signed in. Then the forgotten-
password path: the reset mail's link sets a new password and ends every session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from _browser_support import WAIT, chrome, needs_chromium, run
from _uvicorn_support import HOST, Server, free_port, serve
from smtp_server import SmtpServer, link_in, smtp_server

pytestmark = needs_chromium

EMAIL = "ada@example.org"
FIRST = "correct horse battery staple"
SECOND = "a different passphrase 42"
THIRD = "reset by mail, then signed in"


@pytest.fixture(scope="module")
def mail() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, mail: SmtpServer) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("accounts-browser")
    port = free_port()
    origin = f"http://{HOST}:{port}"
    settings = {
        "TOKENWARD_AUTH_SECRET": "accounts-browser-secret-0123456789-abcdefghijklmnop",
        "TOKENWARD_STORE_URL": f"sqlite:///{tmp / 'accounts.db'}",
        "TOKENWARD_COOKIE_SESSIONS": "true",
        "TOKENWARD_ALLOWED_ORIGINS": origin,
        "TOKENWARD_REVOKE_ACCESS_TOKENS": "true",  # an ended session's access cookie is refused
        "TOKENWARD_SIGNUP": "open",
        "TOKENWARD_EMAIL_VERIFICATION": "required",
        "TOKENWARD_SMTP_URL": mail.url(),
        "TOKENWARD_SMTP_FROM": "Example <noreply@example.com>",
        "TOKENWARD_APP_URL": origin,
        # the smallest Argon2id cost the settings allow: these tests are not about its cost
        "TOKENWARD_PASSWORD_HASH_PASSES": "2",
        "TOKENWARD_PASSWORD_HASH_MEMORY_KIB": "19456",
    }
    with serve("app:app", settings, workdir=tmp, port=port, args=["--access-log"]) as server:
        yield server


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    with chrome(tmp_path_factory.mktemp("chromium-first")) as driver:
        yield driver


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    with chrome(tmp_path_factory.mktemp("chromium-second")) as driver:
        yield driver


def _done(driver: WebDriver) -> int:
    return int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-done") or 0)


def _wait_done(driver: WebDriver, before: int) -> int:
    """Wait until the page's next action has finished; the status of its main call."""
    WebDriverWait(driver, WAIT).until(lambda d: _done(d) > before)
    return int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-result") or 0)


def open_page(driver: WebDriver, url: str) -> int:
    """Load an account page; the status of its ``GET /v1/auth/me`` (200 signed in, else 401)."""
    driver.get(url)
    return _wait_done(driver, 0)


def submit(driver: WebDriver, form: str, **fields: str) -> int:
    """Fill the shown form ``form`` as a person would and press its button; the status of the
    action's call."""
    before = _done(driver)
    for name, value in fields.items():
        field = driver.find_element(By.CSS_SELECTOR, f"#{form} input[name={name}]")
        field.clear()
        field.send_keys(value)
    driver.find_element(By.CSS_SELECTOR, f"#{form} button:not([type=button])").click()
    return _wait_done(driver, before)


def message(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "message").text)


def signed_in_as(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "who").get_attribute("data-email") or "")


def test_sign_up_verify_sign_in_change_password_and_the_other_browser_is_signed_out(
    app: Server, mail: SmtpServer, first: WebDriver, second: WebDriver
) -> None:
    base = app.base_url

    # Sign up: 202, no session yet, a verification mail on its way.
    assert open_page(first, f"{base}/signup") == 401
    assert first.title == "tokenward account"
    assert submit(first, "signup", email=EMAIL, password=FIRST) == 202
    assert "Check your mail" in message(first)
    assert first.get_cookies() == []

    # Signing in before verifying is refused (the password was right: it may say why).
    open_page(first, f"{base}/signin")
    assert submit(first, "signin", email=EMAIL, password=FIRST) == 401
    assert "verif" in message(first).lower()

    # The mail, read from the SMTP server; its link leads to the app's verification page.
    received = mail.inbox.wait_for(EMAIL)
    assert received.message["Subject"] == "Confirm your email address"
    link = link_in(received)
    assert link.startswith(f"{base}/verify-email?token=")
    open_page(first, link)
    assert urlsplit(first.current_url).query == ""  # the token left the address bar
    assert submit(first, "verify") == 204
    assert "verified" in message(first)
    assert submit(first, "verify") == 400  # a link works once

    # The second browser signs in first, then the first one.
    open_page(second, f"{base}/signin")
    assert submit(second, "signin", email=EMAIL, password=FIRST) == 200
    assert signed_in_as(second) == EMAIL
    open_page(first, f"{base}/signin")
    assert submit(first, "signin", email=EMAIL, password=FIRST) == 200
    assert signed_in_as(first) == EMAIL
    cookies = {c["name"]: c for c in first.get_cookies()}
    assert set(cookies) == {"tw_access"} and cookies["tw_access"]["httpOnly"] is True
    assert run(first, "() => Promise.resolve(document.cookie)") == ""

    # The first changes the password: it stays signed in, the second is signed out.
    assert open_page(first, f"{base}/change-password") == 200
    assert submit(first, "change", current_password=FIRST, new_password=SECOND) == 204
    assert "Password changed" in message(first)
    assert open_page(first, f"{base}/signin") == 200 and signed_in_as(first) == EMAIL

    assert open_page(second, f"{base}/signin") == 401  # its access cookie: the session ended
    assert signed_in_as(second) == ""
    refresh = run(second, "window.account.call", "POST", "/v1/auth/refresh")
    assert refresh["status"] == 401  # and its refresh cookie too

    # The old password no longer signs in; the new one does.
    assert submit(second, "signin", email=EMAIL, password=FIRST) == 401
    assert submit(second, "signin", email=EMAIL, password=SECOND) == 200


def test_forgotten_password_reset_by_mail_ends_every_session(
    app: Server, mail: SmtpServer, first: WebDriver, second: WebDriver
) -> None:
    base = app.base_url
    assert open_page(first, f"{base}/signin") == 200  # still signed in from the test above
    seen = len(mail.inbox)

    assert open_page(second, f"{base}/forgot-password") in (200, 401)
    assert submit(second, "forgot", email=EMAIL) == 200
    assert submit(second, "forgot", email="nobody@example.org") == 200  # the same answer
    received = mail.inbox.wait_for(EMAIL, after=seen)
    assert received.message["Subject"] == "Reset your password"
    link = link_in(received)
    assert link.startswith(f"{base}/reset-password?token=")

    open_page(second, link)
    assert submit(second, "reset", password=THIRD) == 204
    assert submit(second, "reset", password=THIRD) == 400  # a link works once

    assert open_page(first, f"{base}/signin") == 401  # the reset ended every session
    assert submit(first, "signin", email=EMAIL, password=SECOND) == 401
    assert submit(first, "signin", email=EMAIL, password=THIRD) == 200
    assert len([m for m in mail.inbox.messages if "nobody@example.org" in m.rcpt_tos]) == 0


def test_the_pages_carry_no_store_and_no_referrer(app: Server) -> None:
    import httpx

    answer = httpx.get(f"{app.base_url}/verify-email?token=x", timeout=WAIT)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    assert '<meta name="referrer" content="no-referrer">' in answer.text
    assert "https://" not in answer.text.split("<script>")[0]  # nothing from a CDN


def test_the_page_is_the_example_file() -> None:
    page = Path(__file__).resolve().parents[1] / "examples" / "account.html"
    assert "<script src" not in page.read_text(encoding="utf-8")
