"""``tokenward users``: create, list, disable, enable, set-groups, reset-link on the app's store
(SQLite here), through the same service graph the app uses: a user made here signs in there, a
reset link printed here resets the password there."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tokenward.cli import main
from tokenward.services import build_services
from tokenward.settings import AuthSettings
from tokenward.tokens import TokenPair

PREFIX = "TWUSERS_TEST_"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "users.db"
    for name, value in {
        "AUTH_SECRET": "cli-users-secret-0123456789-abcdefghijklmnop",
        "STORE_URL": f"sqlite:///{db}",
        "PASSWORD_HASH_MEMORY_KIB": "19456",
    }.items():
        monkeypatch.setenv(PREFIX + name, value)
    return db


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main(["users", *argv, "--prefix", PREFIX, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def app_graph() -> Any:
    return build_services(AuthSettings.from_env(PREFIX))


def test_users_commands(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, made = run(
        capsys, "create", "--email", "Ann@Example.com", "--password-stdin", "--group", "ops,staff"
    )
    assert code == 0
    user = made["user"]
    assert user["email"] == "ann@example.com" and user["groups"] == ["ops", "staff"]
    assert user["email_verified"] and user["has_password"]
    code, listed = run(capsys, "list")
    assert [u["id"] for u in listed["users"]] == [user["id"]]

    async def sign_in(password: str = PASSWORD) -> Any:
        services = app_graph()
        await services.start()
        try:
            return await services.require_accounts().sign_in("ann@example.com", password)
        finally:
            await services.stop()

    assert isinstance(asyncio.run(sign_in()), TokenPair)
    assert run(capsys, "disable", "ann@example.com")[1]["user"]["disabled"] is True
    with pytest.raises(Exception, match="Incorrect"):
        asyncio.run(sign_in())
    assert run(capsys, "enable", user["id"])[1]["user"]["disabled"] is False
    code, changed = run(capsys, "set-groups", user["id"], "--group", "viewers", "--role", "admin")
    assert changed["user"]["groups"] == ["viewers"] and changed["user"]["roles"] == ["admin"]
    code, link = run(capsys, "reset-link", "ann@example.com", "--url", "https://x/r?t={token}")
    assert link["link"] == "https://x/r?t=" + link["token"]

    async def reset() -> None:
        services = app_graph()
        await services.start()
        try:
            await services.require_accounts().reset_password(link["token"], "a new passphrase!")
        finally:
            await services.stop()

    asyncio.run(reset())
    assert isinstance(asyncio.run(sign_in("a new passphrase!")), TokenPair)


def test_users_errors_exit_2(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users", "disable", "nobody@example.com", "--prefix", PREFIX]) == 2
    assert "no user" in capsys.readouterr().err
    assert main(["users", "create", "--email", "b@example.com", "--prefix", PREFIX]) == 0
    capsys.readouterr()
    assert main(["users", "create", "--email", "B@example.com", "--prefix", PREFIX]) == 2
    assert main(["users", "reset-link", "b@example.com", "--url", "x", "--prefix", PREFIX]) == 2


def test_the_group_takes_more_subcommands() -> None:
    from tokenward import cli_users

    assert callable(cli_users.users_subcommand)
    names = [r.__name__ for r in cli_users._SUBCOMMANDS]
    assert len(names) >= 6
