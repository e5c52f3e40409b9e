"""A real SMTP server on a loopback port (aiosmtpd), for the tests that send mail.

``smtp_server(...)`` runs aiosmtpd's threaded controller on 127.0.0.1 and keeps every message it
accepts in an :class:`Inbox`: plain text, STARTTLS or TLS from the first byte (``tls=``) with a
certificate of a private CA made at test time (:func:`make_certificates`, with cryptography),
and AUTH against a table of users (``users=``; aiosmtpd refuses AUTH before TLS). ``wait_for``
waits (bounded) for the next message to an address; :func:`link_in` finds the link of a
verification or reset mail. The server also runs as a program, for a person trying the demo:

    python tests/smtp_server.py [PORT]     # prints every message it receives
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import ipaddress
import re
import ssl
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPProtocol
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
WAIT = 30.0  # seconds a test waits for a message: a bound for a loaded machine, not a timing


@dataclass(frozen=True)
class Certificates:
    """A private CA and a server certificate it signed, for 127.0.0.1 and localhost (PEM)."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificates(directory: Path) -> Certificates:
    """A CA and a server certificate for ``127.0.0.1``/``localhost``, valid for a day, written
    under ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("tokenward test CA"))
        .issuer_name(name("tokenward test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    certs = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    certs.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    certs.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certs


@dataclass(frozen=True)
class Received:
    """One accepted message: the envelope, the parsed message, and how it came."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    tls: bool
    login: str | None

    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None, "no text/plain part"
        return str(part.get_content())  # type: ignore[attr-defined]

    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None, "no text/html part"
        return str(part.get_content())  # type: ignore[attr-defined]


@dataclass
class Inbox:
    """aiosmtpd's handler: keeps every message, and wakes whoever waits for one."""

    messages: list[Received] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: SMTPProtocol, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        auth = session.auth_data
        transport = server.transport
        implicit_tls = transport is not None and transport.get_extra_info("ssl_object") is not None
        received = Received(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=message,
            raw=raw,
            tls=session.ssl is not None or implicit_tls,
            login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
        )
        with self._changed:
            self.messages.append(received)
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, address: str, *, after: int = 0, timeout: float = WAIT) -> Received:
        """The first message to ``address`` among those after the first ``after``; waits up
        to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for received in self.messages[after:]:
                    if address in received.rcpt_tos:
                        return received
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no mail to {address} within {timeout:g} s")
                self._changed.wait(left)

    def __len__(self) -> int:
        with self._changed:
            return len(self.messages)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    inbox: Inbox
    tls: str

    def url(self, *, user: str | None = None, password: str | None = None, query: str = "") -> str:
        from urllib.parse import quote

        scheme = "smtps" if self.tls == "implicit" else "smtp"
        auth = ""
        if user is not None:
            auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
            auth += "@"
        return f"{scheme}://{auth}{self.host}:{self.port}" + (f"?{query}" if query else "")


def _authenticator(users: Mapping[str, str]) -> Any:
    def check(
        server: SMTPProtocol, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            login, password = data.login.decode(), data.password.decode()
            if users.get(login) == password:
                return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)

    return check


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def smtp_server(
    *,
    tls: Literal["none", "starttls", "implicit"] = "none",
    certs: Certificates | None = None,
    users: Mapping[str, str] | None = None,
    port: int | None = None,
) -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1 (a free port unless given) until the block ends. ``tls``:
    ``starttls`` offers STARTTLS, ``implicit`` speaks TLS from the start (both need
    ``certs``). ``users``: AUTH PLAIN/LOGIN accepted for these (after TLS only)."""
    inbox = Inbox()
    kwargs: dict[str, Any] = {}
    if tls != "none":
        assert certs is not None, "TLS needs certificates (make_certificates)"
        context = certs.server_context()
        if tls == "starttls":
            kwargs["tls_context"] = context
        else:
            kwargs["ssl_context"] = context
    if users is not None:
        kwargs["authenticator"] = _authenticator(users)
        kwargs["auth_require_tls"] = True
    controller = Controller(
        inbox,
        hostname=HOST,
        port=port or _free_port(),
        ready_timeout=WAIT,
        server_hostname="smtp.test",
        **kwargs,
    )
    controller.start()
    try:
        yield SmtpServer(HOST, controller.port, inbox, tls)
    finally:
        controller.stop()


_LINK = re.compile(r"https?://\S+?[?&]token=[A-Za-z0-9._~%-]+")


def link_in(received: Received) -> str:
    """The one link with a token in the message's text part (the HTML part must hold it too)."""
    links = _LINK.findall(received.text())
    assert len(set(links)) == 1, f"expected one link, found {links}"
    assert links[0] in received.html().replace("&amp;", "&"), "the HTML part lacks the link"
    return str(links[0])


if __name__ == "__main__":  # pragma: no cover - a tool for trying the demo by hand
    chosen = int(sys.argv[1]) if len(sys.argv) > 1 else 8025

    class Printer(Inbox):
        async def handle_DATA(
            self, server: SMTPProtocol, session: Session, envelope: Envelope
        ) -> str:
            print((envelope.original_content or b"").decode("utf-8", "replace"), flush=True)
            return "250 OK"

    printer = Controller(Printer(), hostname=HOST, port=chosen)
    printer.start()
    print(f"SMTP server on {HOST}:{chosen}; TOKENWARD_SMTP_URL=smtp://{HOST}:{chosen}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        printer.stop()
