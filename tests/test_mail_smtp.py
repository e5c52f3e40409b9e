"""The built-in SMTP sender (tokenward.smtp) against a real aiosmtpd server on 127.0.0.1:
plain, STARTTLS and implicit TLS with a private CA made here, AUTH with credentials from the
URL, failures as MailDeliveryError (503), and the message a user gets: headers, both parts, the
token only inside its link."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from smtp_server import Certificates, link_in, make_certificates, smtp_server
from tokenward.exceptions import ConfigurationError, MailDeliveryError
from tokenward.fastapi.errors import to_http
from tokenward.mail import CallbackMailer, LogMailer, build_mailer
from tokenward.settings import AuthSettings
from tokenward.smtp import MailLinks, SmtpMailer, check_address, parse_sender, parse_smtp_url

SECRET = "m" * 40
APP = "https://app.example.com"
SENDER = "Example <noreply@example.com>"
TOKEN = "twv_AbC-123_xyz"
USER, PASSWORD = "mailer@example.com", "p@ss:w/rd %1"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("smtp-certs"))


def _mailer(url: str, **kwargs: Any) -> SmtpMailer:
    return SmtpMailer(url, sender=SENDER, links=APP, timeout=kwargs.pop("timeout", 10), **kwargs)


def _send(mailer: Any, kind: str = "verify-email", to: str = "alice@example.org") -> None:
    asyncio.run(mailer.send(kind, to, TOKEN))


def _settings(**values: Any) -> AuthSettings:
    return AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", auth_secret=SECRET, **values)


# --- delivery ------------------------------------------------------------------------------------


def test_plain_delivery_and_the_message_a_user_gets() -> None:
    with smtp_server() as server:
        _send(_mailer(server.url()))
        received = server.inbox.wait_for("alice@example.org")
    assert received.mail_from == "noreply@example.com"
    assert received.rcpt_tos == ("alice@example.org",)
    assert received.tls is False
    message = received.message
    assert message["From"] == SENDER and message["To"] == "alice@example.org"
    assert message["Subject"] == "Confirm your email address"
    assert message["Date"] and message["Auto-Submitted"] == "auto-generated"
    assert str(message["Message-ID"]).endswith("@example.com>")
    assert message.get_content_type() == "multipart/alternative"

    link = link_in(received)
    assert link == f"{APP}/verify-email?token={TOKEN}"
    parts = urlsplit(link)
    assert parse_qs(parts.query) == {"token": [TOKEN]}
    # the token appears only inside its link, once per part
    assert received.text().count(TOKEN) == 1
    assert received.html().count(TOKEN) == 1
    assert TOKEN not in str(message["Subject"]) + str(message["Message-ID"])


def test_the_reset_mail_links_to_the_reset_page() -> None:
    with smtp_server() as server:
        _send(_mailer(server.url()), "reset-password", "bob@example.org")
        received = server.inbox.wait_for("bob@example.org")
    assert received.message["Subject"] == "Reset your password"
    assert link_in(received) == f"{APP}/reset-password?token={TOKEN}"


def test_app_url_with_a_path_and_a_token_that_needs_quoting() -> None:
    links = MailLinks("https://example.com/account/")
    assert links.link("verify-email", "a+b/c") == (
        "https://example.com/account/verify-email?token=a%2Bb%2Fc"
    )


def test_messages_sent_at_once_each_arrive() -> None:
    with smtp_server() as server:
        mailer = _mailer(server.url())

        async def burst() -> None:
            await asyncio.gather(
                *(mailer.send("verify-email", f"u{i}@example.org", TOKEN) for i in range(8))
            )

        asyncio.run(burst())
        for i in range(8):
            server.inbox.wait_for(f"u{i}@example.org")
        assert len(server.inbox) == 8


def test_starttls_with_the_private_ca(certs: Certificates) -> None:
    with smtp_server(tls="starttls", certs=certs) as server:
        _send(_mailer(server.url(query=f"cafile={certs.ca_file}")))
        assert server.inbox.wait_for("alice@example.org").tls is True


def test_starttls_with_an_untrusted_certificate_is_refused(certs: Certificates) -> None:
    with smtp_server(tls="starttls", certs=certs) as server:
        with pytest.raises(MailDeliveryError, match=f"127.0.0.1:{server.port}"):
            _send(_mailer(server.url()))  # the system's CAs do not know the test CA
        assert len(server.inbox) == 0


def test_starttls_required_but_not_offered() -> None:
    with smtp_server() as server:
        with pytest.raises(MailDeliveryError):
            _send(_mailer(server.url(query="starttls=true")))
        assert len(server.inbox) == 0


def test_starttls_false_stays_in_plain_text(certs: Certificates) -> None:
    with smtp_server(tls="starttls", certs=certs) as server:
        _send(_mailer(server.url(query="starttls=false")))
        assert server.inbox.wait_for("alice@example.org").tls is False


def test_implicit_tls(certs: Certificates) -> None:
    with smtp_server(tls="implicit", certs=certs) as server:
        url = server.url(query=f"cafile={certs.ca_file}")
        assert url.startswith("smtps://")
        _send(_mailer(url))
        assert server.inbox.wait_for("alice@example.org").tls is True


def test_auth_with_percent_encoded_credentials(certs: Certificates) -> None:
    with smtp_server(tls="starttls", certs=certs, users={USER: PASSWORD}) as server:
        url = server.url(user=USER, password=PASSWORD, query=f"cafile={certs.ca_file}")
        assert "p%40ss%3Aw%2Frd%20%251" in url
        _send(_mailer(url))
        received = server.inbox.wait_for("alice@example.org")
    assert received.login == USER and received.tls is True


def test_wrong_credentials_fail_and_the_password_is_never_shown(
    certs: Certificates, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-Password-42"
    with smtp_server(tls="starttls", certs=certs, users={USER: PASSWORD}) as server:
        mailer = _mailer(server.url(user=USER, password=wrong, query=f"cafile={certs.ca_file}"))
        assert wrong not in repr(mailer) and wrong not in repr(mailer.target)
        assert "***" in repr(mailer)
        with pytest.raises(MailDeliveryError, match="refused the credentials") as caught:
            _send(mailer)
        assert len(server.inbox) == 0
    with caplog.at_level(logging.DEBUG):
        answer = to_http(caught.value)
    assert answer.status_code == 503 and answer.headers == {"Retry-After": "5"}
    for text in (str(caught.value), caplog.text, str(answer.detail)):
        assert wrong not in text and TOKEN not in text


def test_credentials_never_cross_a_connection_without_tls() -> None:
    """With credentials, STARTTLS is required: a server (or a man in the middle) that does not
    offer it gets no password."""
    with smtp_server(users={USER: PASSWORD}) as server:
        url = server.url(user=USER, password=PASSWORD)
        assert parse_smtp_url(url).starttls is True
        with pytest.raises(MailDeliveryError, match="does not offer STARTTLS"):
            _send(_mailer(url))
        assert len(server.inbox) == 0


def test_a_server_that_is_down() -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(MailDeliveryError, match=f"127.0.0.1:{port}"):
        _send(_mailer(f"smtp://127.0.0.1:{port}"))


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        with pytest.raises(MailDeliveryError, match=r"within 0\.5 s"):
            _send(_mailer(f"smtp://127.0.0.1:{port}", timeout=0.5))


# --- header injection and addresses ----------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "alice@example.org\r\nBcc: eve@evil.example",
        "alice@example.org\nBcc: eve@evil.example",
        "Alice <alice@example.org>",
        "alice@example.org, eve@evil.example",
        "alice example@example.org",
        '"alice"@example.org',
        "alice@",
        "@example.org",
        "alice",
        "alice..b@example.org",
        "alice@exa_mple.org",
        "alice@-example.org",
        "alice\x00@example.org",
        "alice@example.org\u2028",
        "a" * 65 + "@example.org",
    ],
)
def test_addresses_that_are_refused(address: str) -> None:
    with pytest.raises(ValueError):
        check_address(address)


def test_an_address_with_a_line_break_sends_nothing() -> None:
    with smtp_server() as server:
        with pytest.raises(MailDeliveryError, match="no mail sent"):
            _send(_mailer(server.url()), to="alice@example.org\r\nBcc: eve@evil.example")
        assert len(server.inbox) == 0


def test_international_domains_go_out_in_ascii() -> None:
    assert check_address("jörg@bücher.example") == "jörg@xn--bcher-kva.example"
    assert check_address("o'brien+tag@Example.ORG") == "o'brien+tag@example.org"


@pytest.mark.parametrize(
    "sender",
    [
        "Example <noreply@example.com>\r\nBcc: eve@evil.example",
        'Ex"ample <noreply@example.com>',
        "Example <noreply@example.com",
        "noreply@example.com\n",
    ],
)
def test_senders_that_are_refused(sender: str) -> None:
    with pytest.raises(ValueError):
        parse_sender(sender)
    with pytest.raises(ConfigurationError, match="SMTP_FROM"):
        _settings(smtp_from=sender).check()


def test_sender_forms() -> None:
    assert str(parse_sender("noreply@example.com")) == "noreply@example.com"
    assert str(parse_sender('"Example, Inc." <noreply@example.com>')) == (
        '"Example, Inc." <noreply@example.com>'
    )


# --- SMTP_URL --------------------------------------------------------------------------------


def test_smtp_url_forms() -> None:
    plain = parse_smtp_url("smtp://mail.example.com")
    assert (plain.port, plain.implicit_tls, plain.starttls, plain.username) == (
        587,
        False,
        None,
        None,
    )
    tls = parse_smtp_url("smtps://u:p@mail.example.com")
    assert (tls.port, tls.implicit_tls, tls.starttls, tls.username, tls.password) == (
        465,
        True,
        None,
        "u",
        "p",
    )
    forced = parse_smtp_url("smtp://[::1]:2525?starttls=false&cafile=/etc/ca.pem")
    assert (forced.host, forced.port, forced.starttls, forced.cafile) == (
        "::1",
        2525,
        False,
        "/etc/ca.pem",
    )
    assert forced.redacted() == "smtp://[::1]:2525?starttls=false&cafile=/etc/ca.pem"


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example.com",
        "smtp://",
        "smtp://mail.example.com:99999",
        "smtp://mail.example.com/path",
        "smtp://mail.example.com?starttls=maybe",
        "smtp://mail.example.com?tls=true",
        "smtp://mail.example.com?starttls=true&starttls=false",
        "smtps://mail.example.com?starttls=true",
        "smtp://:s3cret-pw@mail.example.com",
        "smtp://u:s3cret-pw@mail\r\n.example.com",
    ],
)
def test_bad_smtp_urls_name_the_variable_and_never_the_password(url: str) -> None:
    with pytest.raises(ConfigurationError, match="TOKENWARD_TEST_ISOLATED_SMTP_URL") as caught:
        _settings(smtp_url=url, smtp_from=SENDER, app_url=APP).check()
    assert "s3cret-pw" not in str(caught.value)


def test_a_missing_cafile_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cafile"):
        _mailer(f"smtp://127.0.0.1:25?cafile={tmp_path / 'absent.pem'}")


# --- settings and the choice of mailer -----------------------------------------------------------


def test_smtp_url_needs_a_sender_and_an_app_url() -> None:
    with pytest.raises(ConfigurationError, match="SMTP_FROM and TOKENWARD_TEST_ISOLATED_APP_URL"):
        _settings(smtp_url="smtp://127.0.0.1:25").check()
    with pytest.raises(ConfigurationError, match="APP_URL"):
        _settings(smtp_url="smtp://127.0.0.1:25", smtp_from=SENDER).check()


@pytest.mark.parametrize(
    ("app_url", "environment", "ok"),
    [
        ("https://app.example.com", "production", True),
        ("https://app.example.com/account", "production", True),
        ("http://app.example.com", "development", True),
        ("http://127.0.0.1:8000", "production", True),
        ("http://app.example.com", "production", False),
        ("ftp://app.example.com", "development", False),
        ("https://app.example.com/?next=1", "development", False),
        ("https://app.example.com/#x", "development", False),
        ("app.example.com", "development", False),
    ],
)
def test_app_url(app_url: str, environment: str, ok: bool) -> None:
    settings = _settings(app_url=app_url, environment=environment)
    if ok:
        settings._check_mail()
    else:
        with pytest.raises(ConfigurationError, match="APP_URL"):
            settings._check_mail()


def test_smtp_timeout_bounds() -> None:
    assert _settings().smtp_timeout == 10.0
    for bad in (0, -1, 301):
        with pytest.raises(ConfigurationError, match="SMTP_TIMEOUT"):
            _settings(smtp_timeout=bad).check()


def test_build_mailer_order() -> None:
    smtp = {"smtp_url": "smtp://127.0.0.1:2525", "smtp_from": SENDER, "app_url": APP}
    production = _settings(environment="production", **smtp)
    assert isinstance(build_mailer(production, lambda *a: None), CallbackMailer)  # on_send wins
    mailer = build_mailer(production)
    assert isinstance(mailer, SmtpMailer)
    assert mailer.target.port == 2525 and mailer.timeout == 10.0
    assert isinstance(build_mailer(_settings(environment="development")), LogMailer)
    assert build_mailer(_settings(environment="production")) is None
    with pytest.raises(ConfigurationError, match="SMTP_FROM"):
        build_mailer(_settings(smtp_url="smtp://127.0.0.1:2525", app_url=APP))


def test_the_smtp_password_is_a_secret_setting() -> None:
    settings = _settings(smtp_url="smtp://u:hunter2-secret@127.0.0.1:25")
    assert "hunter2-secret" not in repr(settings) and "hunter2-secret" not in str(settings)


def test_development_log_shows_the_link_when_app_url_is_set(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mailer = build_mailer(_settings(environment="development", app_url="http://127.0.0.1:8000"))
    assert isinstance(mailer, LogMailer)
    with caplog.at_level(logging.WARNING, logger="tokenward.mail"):
        _send(mailer)
    assert f"http://127.0.0.1:8000/verify-email?token={TOKEN}" in caplog.text


@pytest.fixture(autouse=True)
def _no_smtp_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("SMTP_URL", "SMTP_FROM", "SMTP_TIMEOUT", "APP_URL"):
        monkeypatch.delenv(f"TOKENWARD_TEST_ISOLATED_{name}", raising=False)
    yield
