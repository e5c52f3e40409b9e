"""Passkeys in a real browser: headless Chromium (Debian's) driven by Selenium, with Chromium's
virtual authenticator (WebDriver's ``add_virtual_authenticator``: CTAP2, internal transport,
resident keys, user verification), against examples/app.py under uvicorn with cookie sessions
and ``PASSKEY_SIGNIN=true``.

An account is created in the store beforehand; on the example's page (``GET /passkeys``) the
browser signs in with its password, registers a passkey (``navigator.credentials.create``),
signs out, signs in with the passkey alone (``navigator.credentials.get``, a discoverable
credential: no e-mail typed) and ``/v1/auth/me`` shows ``amr`` ``["webauthn"]``; then steps up
the session with the passkey. The page is opened as ``http://localhost:<port>``: WebAuthn runs
on ``localhost``, never on an IP address; the server itself listens on 127.0.0.1 only.

Chromium comes from ``scripts/browser-deps.sh``; the test skips only when it is not installed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.virtual_authenticator import VirtualAuthenticatorOptions
from selenium.webdriver.remote.webdriver import WebDriver

from _browser_support import chrome, needs_chromium, run
from _uvicorn_support import Server, free_port, serve
from tokenward.passwords import PasswordHasher
from tokenward.stores import UserRecord
from tokenward.stores.sqlite import SQLiteStore

EMAIL = "passkey-user@example.com"
PASSWORD = "a passkey test password"

pytestmark = needs_chromium


async def _create_account(path: Path) -> None:
    store = SQLiteStore(path)
    try:
        now = time.time()
        hashed = PasswordHasher(opslimit=2, memlimit=19 << 20).hash(PASSWORD)
        await store.create_user(UserRecord("acct-passkey-1", EMAIL, hashed, now, now, True))
    finally:
        await store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("passkeys-browser")
    database = tmp / "passkeys.db"
    asyncio.run(_create_account(database))
    port = free_port()
    origin = f"http://localhost:{port}"
    settings = {
        "TOKENWARD_AUTH_SECRET": "passkey-browser-secret-0123456789-abcdefghijklmnop",
        "TOKENWARD_STORE_URL": f"sqlite:///{database}",
        "TOKENWARD_COOKIE_SESSIONS": "true",
        "TOKENWARD_ALLOWED_ORIGINS": origin,
        "TOKENWARD_WEBAUTHN_RP_ID": "localhost",
        "TOKENWARD_WEBAUTHN_ORIGINS": origin,
        "TOKENWARD_PASSKEY_SIGNIN": "true",
    }
    with serve("app:app", settings, workdir=tmp, port=port) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    profile = tmp_path_factory.mktemp("chromium-passkeys")
    with chrome(profile, resolve=("localhost",)) as driver:
        yield driver


def test_register_a_passkey_then_sign_in_with_it_alone(browser: WebDriver, server: Server) -> None:
    browser.get(f"http://localhost:{server.port}/passkeys")
    assert browser.title == "tokenward passkeys"
    browser.add_virtual_authenticator(
        VirtualAuthenticatorOptions(
            protocol=VirtualAuthenticatorOptions.Protocol.CTAP2,
            transport=VirtualAuthenticatorOptions.Transport.INTERNAL,
            has_resident_key=True,
            has_user_verification=True,
            is_user_verified=True,
        )
    )
    assert run(browser, "window.passkeys.signIn", EMAIL, PASSWORD) == {"status": 200}
    me = run(browser, "window.passkeys.me")
    assert me["status"] == 200 and me["body"]["claims"]["amr"] == ["pwd"]

    made = run(browser, "window.passkeys.register", "headless chromium")
    assert made["status"] == 201, made
    assert made["body"]["name"] == "headless chromium"
    assert "internal" in made["body"]["transports"]
    [stored] = browser.get_credentials()
    assert stored.is_resident_credential and stored.rp_id == "localhost"
    assert stored.user_handle is not None
    listed = run(browser, "window.passkeys.list")
    assert [p["id"] for p in listed["body"]] == [made["body"]["id"]]

    assert run(browser, "window.passkeys.logout")["status"] == 204
    assert run(browser, "window.passkeys.me")["status"] == 401

    # signed out: the options name no credential, the authenticator offers the resident one
    assert run(browser, "window.passkeys.authenticate") == {"status": 200}
    me = run(browser, "window.passkeys.me")
    assert me["status"] == 200, me
    assert me["body"]["sub"] == "acct-passkey-1" and me["body"]["email"] == EMAIL
    assert me["body"]["claims"]["amr"] == ["webauthn"]

    # signed in: the same call is a step-up, a fresh access cookie in the same session
    assert run(browser, "window.passkeys.authenticate") == {"status": 200}
    me = run(browser, "window.passkeys.me")
    assert me["body"]["claims"]["amr"] == ["webauthn"]
    assert me["body"]["claims"]["mfa_time"] >= 1
    assert browser.get_credentials()[0].sign_count >= 2
