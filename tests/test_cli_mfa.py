"""``tokenward users mfa-reset EMAIL``: an operator removes a user's TOTP factor (a lost device)
in the app's store, found through the settings as the app finds it (SQLite here)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tokenward import cli
from tokenward._core import base32_decode, totp_code
from tokenward.services import Services
from tokenward.settings import AuthSettings
from tokenward.stores import UserRecord

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
