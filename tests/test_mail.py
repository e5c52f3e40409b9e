"""The mailer a service graph gets: the application's on_send (sync or async), the log in
development, nothing elsewhere."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tokenward.mail import CallbackMailer, LogMailer, build_mailer
from tokenward.settings import AuthSettings

SECRET = "m" * 40


def _settings(**values: Any) -> AuthSettings:
    return AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", auth_secret=SECRET, **values)


def test_a_plain_function_is_called_with_kind_email_and_token() -> None:
    sent: list[tuple[str, str, str]] = []
    mailer = build_mailer(_settings(environment="production"), lambda *a: sent.append(a))
    assert isinstance(mailer, CallbackMailer)
    asyncio.run(mailer.send("verify-email", "a@example.com", "twv_x"))
    assert sent == [("verify-email", "a@example.com", "twv_x")]


def test_a_coroutine_function_is_awaited() -> None:
    sent: list[tuple[str, str, str]] = []

    async def on_send(kind: str, email: str, token: str) -> None:
        await asyncio.sleep(0)
        sent.append((kind, email, token))

    mailer = build_mailer(_settings(environment="production"), on_send)
    assert mailer is not None
    asyncio.run(mailer.send("reset-password", "b@example.com", "twr_y"))
    assert sent == [("reset-password", "b@example.com", "twr_y")]


def test_what_on_send_raises_reaches_the_caller() -> None:
    def on_send(kind: str, email: str, token: str) -> None:
        raise RuntimeError("relay refused")

    mailer = CallbackMailer(on_send)
    with pytest.raises(RuntimeError, match="relay refused"):
        asyncio.run(mailer.send("verify-email", "a@example.com", "t"))


def test_on_send_must_be_callable() -> None:
    with pytest.raises(TypeError):
        CallbackMailer("not a function")  # type: ignore[arg-type]


def test_development_without_on_send_logs_the_token(caplog: pytest.LogCaptureFixture) -> None:
    mailer = build_mailer(_settings(environment="development"))
    assert isinstance(mailer, LogMailer)
    with caplog.at_level(logging.WARNING, logger="tokenward.mail"):
        asyncio.run(mailer.send("verify-email", "dev@example.com", "twv_token"))
    assert "twv_token" in caplog.text and "dev@example.com" in caplog.text


def test_production_without_on_send_has_no_mailer() -> None:
    assert build_mailer(_settings(environment="production")) is None
