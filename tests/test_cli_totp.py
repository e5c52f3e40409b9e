"""``tokenward totp code``, run as a user runs it (a subprocess of the installed entry point)."""

from __future__ import annotations

import json
import time

import pyotp
import pytest

from test_cli import run
from tokenward import base32_encode, totp_secret

RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # b"12345678901234567890"


def test_the_code_of_an_rfc6238_row() -> None:
    result = run("totp", "code", RFC_SECRET, "--at", "59", "--digits", "8")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "94287082\n"
    assert result.stderr == ""


def test_json_output() -> None:
    seed = base32_encode(b"12345678901234567890123456789012")
    result = run(
        "totp", "code", seed, "--at", "1111111109", "--digits", "8", "--algorithm", "SHA256",
        "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "code": "68084774",
        "at": 1111111109,
        "step": 37037036,
        "valid_for": 1,
        "digits": 8,
        "period": 30,
        "algorithm": "SHA256",
    }


def test_now_by_default_and_the_secret_from_stdin() -> None:
    secret = base32_encode(totp_secret())
    before = int(time.time())
    result = run("totp", "code", "-", "--period", "60", stdin=secret + "\n")
    after = int(time.time())
    assert result.returncode == 0, result.stderr
    theirs = pyotp.TOTP(secret, interval=60)
    assert result.stdout.strip() in {theirs.at(before), theirs.at(after)}


@pytest.mark.parametrize(
    "args",
    [
        ["gezdgnbvgy3tqojqgezdgnbvgy3tqojq"],  # lower case
        ["GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ===="],  # padding
        ["GEZDGNBV GY3TQOJQ"],
        ["GEZDGNBVGY3TQOJQ"],  # 10 bytes: too short a secret
        [RFC_SECRET, "--digits", "9"],
        [RFC_SECRET, "--period", "0"],
        [RFC_SECRET, "--at", "-1"],
        ["-"],  # empty stdin
    ],
)
def test_bad_secrets_and_parameters_exit_2(args: list[str]) -> None:
    result = run("totp", "code", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("tokenward: error: ")
    body = json.loads(run("totp", "code", *args, "--json").stdout)
    assert body["ok"] is False and body["error"] == "usage"


def test_an_unknown_algorithm_is_a_usage_error() -> None:
    result = run("totp", "code", RFC_SECRET, "--algorithm", "MD5")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


@pytest.mark.parametrize("command", [["totp"], ["totp", "code"]])
def test_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: tokenward totp")
