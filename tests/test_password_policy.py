"""The password policy: lengths, the composition knobs Vertz's createAuth has, the bundled list
of common passwords, and one typed error that lists every broken rule."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import tokenward as tw
from tokenward.passwords import PasswordPolicy, common_passwords


def test_defaults_follow_nist() -> None:
    policy = PasswordPolicy()
    assert (policy.min_length, policy.max_length) == (8, 128)
    assert not (policy.require_uppercase or policy.require_digit or policy.require_symbol)
    assert policy.reject_common
    policy.check("correct horse battery staple")
    policy.check("tr0ub4dor&3x")
    assert policy.broken_rules("a" * 8) == ()


def test_too_short_and_too_long_count_characters_after_nfkc() -> None:
    policy = PasswordPolicy(min_length=8, max_length=12, reject_common=False)
    assert policy.broken_rules("1234567") == ("too_short",)
    assert policy.broken_rules("é" * 8) == ()  # 8 characters, 16 bytes
    assert policy.broken_rules("e\u0301" * 4) == ("too_short",)  # 4 characters once composed
    assert policy.broken_rules("x" * 13) == ("too_long",)
    assert policy.broken_rules("\ufdfa") == ("too_long",)  # one code point; 18 after NFKC


def test_the_common_list_is_bundled_and_case_insensitive() -> None:
    common = common_passwords()
    assert len(common) >= 29_000
    for word in ("password", "123456", "qwerty", "letmein", "iloveyou"):
        assert word in common
    policy = PasswordPolicy(min_length=1)
    assert policy.broken_rules("password") == ("common",)
    assert policy.broken_rules("PassWord") == ("common",)
    assert policy.broken_rules("".join(chr(ord(c) + 0xFEE0) for c in "password")) == (
        "common",
    )  # fullwidth, NFKC
    assert policy.broken_rules("password-not-common-7431") == ()
    assert PasswordPolicy(min_length=1, reject_common=False).broken_rules("password") == ()


def test_composition_knobs() -> None:
    policy = PasswordPolicy(
        min_length=4,
        require_uppercase=True,
        require_lowercase=True,
        require_digit=True,
        require_symbol=True,
        reject_common=False,
    )
    assert policy.broken_rules("Aa1!") == ()
    assert policy.broken_rules("aa1!") == ("no_uppercase",)
    assert policy.broken_rules("AA1!") == ("no_lowercase",)
    assert policy.broken_rules("Aab!") == ("no_digit",)
    assert policy.broken_rules("Aa12") == ("no_symbol",)
    assert policy.broken_rules("Aa1 ") == ()  # a space counts as a symbol
    assert PasswordPolicy(reject_common=False).broken_rules("\ud800" * 8) == ("invalid_characters",)
    assert policy.broken_rules("Ää٣—") == ()  # non-ASCII letters, an Arabic-Indic digit, a dash


def test_every_broken_rule_is_listed_in_one_typed_error() -> None:
    policy = PasswordPolicy(require_uppercase=True, require_digit=True, require_symbol=True)
    with pytest.raises(tw.WeakPasswordError) as info:
        policy.check("monkey")
    err = info.value
    assert err.rules == ("too_short", "no_uppercase", "no_digit", "no_symbol", "common")
    assert isinstance(err, ValueError) and isinstance(err, tw.TokenwardError)
    message = str(err)
    assert "at least 8 characters" in message and "uppercase" in message
    assert "common" in message and "monkey" not in message


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_length": 0},
        {"min_length": 10, "max_length": 9},
        {"max_length": 257},
        {"min_length": True},
        {"min_length": 8.0},
    ],
)
def test_inconsistent_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(tw.ConfigurationError):
        PasswordPolicy(**kwargs)  # type: ignore[arg-type]


def test_from_env() -> None:
    policy = PasswordPolicy.from_env(
        {
            "PASSWORD_MIN_LENGTH": "12",
            "PASSWORD_MAX_LENGTH": "64",
            "PASSWORD_REQUIRE_UPPERCASE": "true",
            "PASSWORD_REQUIRE_DIGIT": "1",
            "PASSWORD_REQUIRE_SYMBOL": "off",
            "PASSWORD_REJECT_COMMON": "",
        }
    )
    assert policy == PasswordPolicy(
        min_length=12, max_length=64, require_uppercase=True, require_digit=True
    )
    assert PasswordPolicy.from_env({}) == PasswordPolicy()
    with pytest.raises(tw.ConfigurationError):
        PasswordPolicy.from_env({"PASSWORD_MIN_LENGTH": "eight"})
    with pytest.raises(tw.ConfigurationError):
        PasswordPolicy.from_env({"PASSWORD_REQUIRE_DIGIT": "maybe"})
    with pytest.raises(tw.ConfigurationError):
        PasswordPolicy.from_env({"PASSWORD_MIN_LENGTH": "0"})


def test_without_zxcvbn_the_common_check_is_a_configuration_error() -> None:
    """In a venv without the accounts extra: the policy says so when it is made, and a policy
    without the common check still works."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["zxcvbn"] = None
        sys.modules["zxcvbn.frequency_lists"] = None
        import tokenward as tw
        from tokenward.passwords import PasswordPolicy
        try:
            PasswordPolicy()
        except tw.ConfigurationError as e:
            assert "tokenward[accounts]" in str(e), e
        else:
            raise SystemExit("no error")
        PasswordPolicy(reject_common=False).check("long enough")
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_a_weak_password_is_a_422_that_lists_the_rules() -> None:
    """Through the one exception mapper (tokenward.fastapi.errors), as a route that checks a new
    password would raise it: 422 with every broken rule, the password not echoed."""
    pytest.importorskip("fastapi")
    from fastapi import FastAPI

    from _fastapi_support import TestClient
    from tokenward.fastapi.errors import exception_handler

    app = FastAPI(exception_handlers={tw.TokenwardError: exception_handler})

    @app.post("/password")
    def set_password(password: str) -> None:
        PasswordPolicy(require_digit=True).check(password)

    with TestClient(app) as client:
        weak = client.post("/password", params={"password": "dragon"})
        assert weak.status_code == 422
        detail = weak.json()["detail"]
        assert "at least 8 characters" in detail and "a digit" in detail and "common" in detail
        assert "dragon" not in detail
        assert client.post("/password", params={"password": "dragon-fly-42"}).status_code == 200
