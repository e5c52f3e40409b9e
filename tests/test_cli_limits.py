"""``tokenward limits clear``: the console script, run as a user runs it, against the SQLite
store file of an app whose login locked an email out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests._fastapi_support import EMAIL, PASSWORD, SECRET, TestClient, make_app

from tokenward.stores.sqlite import SQLiteStore

SCRIPT = Path(sys.executable).with_name("tokenward")


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.is_file(), f"{SCRIPT} is missing: the package is not installed (make install)"
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith(("TOKENWARD_", "CLI_"))}
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=120,
        check=False,
    )


def login(client: TestClient, password: str = PASSWORD) -> int:
    answer = client.post("/v1/auth/login", json={"email": EMAIL, "password": password})
    status: int = answer.status_code
    return status


def test_limits_clear_lifts_a_lock_out(tmp_path: Path) -> None:
    """Issue 20 item 25: a lock-out can be lifted from the command line, with the key the app
    derives from AUTH_SECRET (the email in any case and spacing)."""
    db = tmp_path / "tokenward.db"
    env = {"CLI_AUTH_SECRET": SECRET, "CLI_STORE_URL": f"sqlite:///{db}"}
    app, _ = make_app(store=SQLiteStore(db))
    with TestClient(app) as client:
        for _ in range(5):
            assert login(client, "wrong") == 401
        assert login(client) == 429

        wrong_secret = {**env, "CLI_AUTH_SECRET": SECRET[::-1]}
        result = run("limits", "clear", "--prefix", "CLI_", "--email", EMAIL, env=wrong_secret)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"{EMAIL}: 0 counted attempts cleared\n"  # other counters
        assert login(client) == 429

        result = run(
            "limits", "clear", "--prefix", "CLI_", "--email", " Debug@Example.COM", env=env
        )
        assert result.returncode == 0, result.stderr
        assert "5 counted attempts cleared" in result.stdout
        assert login(client) == 200

        assert login(client, "wrong") == 401
        result = run("limits", "clear", "--prefix", "CLI_", "--email", EMAIL, "--json", env=env)
        body: dict[str, Any] = json.loads(result.stdout)
        assert body == {"cleared": 1, "email": EMAIL}


def test_limits_clear_needs_the_secret_and_an_email(tmp_path: Path) -> None:
    env = {"CLI_STORE_URL": f"sqlite:///{tmp_path / 'tokenward.db'}"}
    result = run("limits", "clear", "--prefix", "CLI_", "--email", EMAIL, env=env)
    assert result.returncode == 2 and "CLI_AUTH_SECRET is not set" in result.stderr
    result = run("limits", "clear", "--prefix", "CLI_", env={**env, "CLI_AUTH_SECRET": SECRET})
    assert result.returncode == 2 and "--email" in result.stderr
