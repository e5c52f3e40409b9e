"""``tokenward users mfa-reset EMAIL [--passkeys]``: an operator removes a user's TOTP factor (a
lost device), with ``--passkeys`` every passkey of the user too, and ends all the user's sessions,
in the app's store, found through the settings as the app finds it (SQLite here)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tokenward import cli
from tokenward._core import base32_decode, totp_code
from tokenward.principal import Principal
from tokenward.services import Services
from tokenward.settings import AuthSettings
from tokenward.stores import PasskeyRecord, UserRecord

PREFIX = "TW_MFA_CLI_"
SECRET = "mfa cli test secret-0123456789-abcdefghijklmnop"


def users_command(*argv: str) -> int:
    return cli.main(["users", *argv, "--prefix", PREFIX])


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'mfa.db'}"
    monkeypatch.setenv(PREFIX + "AUTH_SECRET", SECRET)
    monkeypatch.setenv(PREFIX + "STORE_URL", url)
    return url


def enrolled(url: str) -> None:
    """ada@example.com with a confirmed factor, through the app's own service graph."""
    services = Services(AuthSettings(auth_secret=SECRET, store_url=url), warn=False)
    factors = services.second_factors
    assert factors is not None

    async def scenario() -> None:
        await services.store.open()
        try:
            user = UserRecord(
                id="u1", email="ada@example.com", password_hash=None, created_at=0, updated_at=0
            )
            await factors.store.create_user(user)
            made = await factors.enrol("u1", user.email)
            await factors.confirm(
                "u1", totp_code(base32_decode(made.secret), int(services.clock()))
            )
            assert await factors.required(user)
        finally:
            await services.store.close()

    asyncio.run(scenario())


def test_the_reset_removes_the_factor(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    enrolled(store_url)
    assert users_command("mfa-reset", " ADA@Example.com ") == 0
    assert capsys.readouterr().out == "two-step sign-in removed\n"
    assert users_command("mfa-reset", "ada@example.com", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"id": "u1", "removed": False}
    assert users_command("mfa-reset", "u1") == 0  # by id too
    assert capsys.readouterr().out == "two-step sign-in was not on\n"


def test_an_unknown_email_is_a_usage_error(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    enrolled(store_url)
    assert users_command("mfa-reset", "nobody@example.com") == 2
    assert "no user 'nobody@example.com'" in capsys.readouterr().err


def with_passkeys_and_sessions(url: str) -> None:
    """Two passkeys of u1, one of another user, and two sessions of u1 (straight into the
    store: the ceremonies are tests/test_passkeys.py's)."""
    services = Services(AuthSettings(auth_secret=SECRET, store_url=url), warn=False)
    tokens = services.tokens
    assert tokens is not None

    async def scenario() -> None:
        await services.store.open()
        try:
            store: Any = services.store
            await store.create_user(UserRecord("u2", "bob@example.com", None, 0, 0))
            for n, owner in enumerate(("u1", "u1", "u2")):
                await store.add_passkey(
                    PasskeyRecord(
                        id=f"cred-{n}",
                        user_id=owner,
                        public_key=b"\x01" * 77,
                        sign_count=0,
                        name=f"key {n}",
                        created_at=0,
                    )
                )
            who = Principal(subject="u1", credential_type="access_token", provider="custom")
            for _ in range(2):
                await tokens.start(who, amr=("pwd",))
        finally:
            await services.store.close()

    asyncio.run(scenario())


def state(url: str) -> tuple[list[str], int]:
    """The passkey ids left, and how many sessions of u1 are live."""
    services = Services(AuthSettings(auth_secret=SECRET, store_url=url), warn=False)

    async def scenario() -> tuple[list[str], int]:
        await services.store.open()
        try:
            store: Any = services.store
            ids = [p.id for user in ("u1", "u2") for p in await store.list_passkeys(user)]
            return ids, len(await store.list_sessions("u1", now=services.clock()))
        finally:
            await services.store.close()

    return asyncio.run(scenario())


def test_the_reset_ends_every_session_and_keeps_passkeys_without_the_flag(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    enrolled(store_url)
    with_passkeys_and_sessions(store_url)
    assert state(store_url) == (["cred-0", "cred-1", "cred-2"], 2)
    assert users_command("mfa-reset", "ada@example.com") == 0
    assert capsys.readouterr().out == "two-step sign-in removed\n"
    assert state(store_url) == (["cred-0", "cred-1", "cred-2"], 0)


def test_passkeys_removes_every_passkey_of_the_user_only(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    enrolled(store_url)
    with_passkeys_and_sessions(store_url)
    assert users_command("mfa-reset", "ada@example.com", "--passkeys") == 0
    assert capsys.readouterr().out == "two-step sign-in removed\n2 passkey(s) removed\n"
    assert state(store_url) == (["cred-2"], 0)  # bob's stays
    assert users_command("mfa-reset", "u1", "--passkeys", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {
        "id": "u1",
        "removed": False,
        "passkeys_removed": 0,
    }
