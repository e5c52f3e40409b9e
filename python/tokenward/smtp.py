"""The built-in sender of account mail: ``SMTP_URL``, over aiosmtplib (the ``accounts`` extra).

``SMTP_URL`` names the server and how to reach it::

    smtp://[user:password@]host[:port][?starttls=true|false][&cafile=PATH]
    smtps://[user:password@]host[:port][?cafile=PATH]

* ``smtp://`` (port 587 unless given) starts in plain text and upgrades with STARTTLS when the
  server offers it. With credentials, STARTTLS is required (a server that does not offer it, or
  a man in the middle who hides the offer, gets no password); ``?starttls=true`` requires it
  without credentials too, ``?starttls=false`` never asks for it (a relay on the loopback
  interface, say).
* ``smtps://`` (port 465 unless given) speaks TLS from the first byte.
* ``?cafile=PATH``: trust the certificates of this CA file (PEM) instead of the system's, for a
  server with a certificate of a private CA. The server's name is always checked.
* User and password are percent-decoded (``%40`` for ``@``). The password never appears in a
  ``repr``, a log line or an error message.

A message is one ``text/plain`` part with an ``text/html`` alternative, a subject per kind, and
``Date``, ``Message-ID`` and ``Auto-Submitted`` headers. The token appears only inside its link
(``APP_URL`` + ``/verify-email?token=…`` or ``/reset-password?token=…``). Addresses are
checked before any header is written, so no CR, LF or other control character reaches one.
Each message gets its own connection: account mail is rare, and no connection is left to break.

Every failure to hand a message on is a :class:`~tokenward.exceptions.MailDeliveryError` (503).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import html
import re
import socket
import ssl
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from tokenward.exceptions import ConfigurationError, MailDeliveryError

__all__ = [
    "DEFAULT_PATHS",
    "MailLinks",
    "SmtpMailer",
    "SmtpTarget",
    "check_address",
    "parse_sender",
    "parse_smtp_url",
]

Kind = Literal["verify-email", "reset-password"]

DEFAULT_PORTS = {"smtp": 587, "smtps": 465}
DEFAULT_PATHS: dict[str, str] = {
    "verify-email": "/verify-email",
    "reset-password": "/reset-password",
}
_SUBJECTS: dict[str, str] = {
    "verify-email": "Confirm your email address",
    "reset-password": "Reset your password",
}
_TEXTS: dict[str, tuple[str, str]] = {  # (what the link is for, what to do if unasked)
    "verify-email": (
        "Someone, we hope you, signed up with this email address. To confirm that it is yours, "
        "open this link:",
        "If you did not sign up, ignore this message: the address stays unconfirmed.",
    ),
    "reset-password": (
        "Someone, we hope you, asked to reset the password of the account of this email "
        "address. To choose a new password, open this link:",
        "If you did not ask for it, ignore this message: your password stays as it is.",
    ),
}
_MAX_ADDRESS = 254  # octets (RFC 5321 §4.5.3.1.3 with RFC 3696's erratum)
_MAX_LOCAL = 64
# dot-atom text (RFC 5322 §3.2.3), and any non-ASCII letter (RFC 6531) except the controls and
# the separators checked apart
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]"
_LOCAL = re.compile(rf"{_ATEXT}+(\.{_ATEXT}+)*")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_NAME = re.compile(r"[^\x00-\x1f\x7f<>\"\\]*")


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029" for c in text)


def check_address(address: str) -> str:
    """``address`` (``local@domain``) as it goes into an envelope and a header: the domain in
    its ASCII (IDNA) form. Raises ValueError for anything else: white space or a control
    character anywhere, a display name, a quoted or empty local part, a domain that is not
    host names, too long."""
    if not isinstance(address, str) or _has_control(address) or any(c.isspace() for c in address):
        raise ValueError("an email address holds no white space or control character")
    local, at, domain = address.rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or len(local.encode()) > _MAX_LOCAL:
        raise ValueError("not an email address (local@domain)")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("the domain of the email address is not a host name") from None
    labels = ascii_domain.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError("the domain of the email address is not a host name")
    checked = f"{local}@{ascii_domain}"
    if len(checked.encode()) > _MAX_ADDRESS:
        raise ValueError("the email address is too long")
    return checked


def parse_sender(sender: str) -> Address:
    """``SMTP_FROM``: ``noreply@example.com`` or ``Example <noreply@example.com>`` (the name
    may be quoted), as a header address. Raises ValueError otherwise (a CR or LF included)."""
    text = sender.strip(" ")
    if _has_control(text):
        raise ValueError("holds a control character (a line break?)")
    if text.endswith(">") and "<" in text:
        name, _, rest = text[:-1].rpartition("<")
        name = name.strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1]
        if not _NAME.fullmatch(name):
            raise ValueError('the name before <address> may not hold <, >, " or \\')
        return Address(display_name=name, addr_spec=check_address(rest.strip()))
    return Address(addr_spec=check_address(text))


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    """A parsed ``SMTP_URL``. ``starttls``: None upgrades when the server offers it, True
    requires it, False never asks. The password is left out of the ``repr``."""

    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None

    def redacted(self) -> str:
        """The URL without its password, for logs: ``smtp://user:***@host:587?starttls=true``."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = ""
        if self.username is not None:
            user = quote(self.username, safe="") + (":***" if self.password else "") + "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = []
        if self.starttls is not None and not self.implicit_tls:
            query.append(f"starttls={'true' if self.starttls else 'false'}")
        if self.cafile:
            query.append("cafile=" + quote(self.cafile))
        return f"{scheme}://{user}{host}:{self.port}" + ("?" + "&".join(query) if query else "")


def parse_smtp_url(url: str, *, variable: str = "SMTP_URL") -> SmtpTarget:
    """``SMTP_URL`` (see the module's text) as an :class:`SmtpTarget`; a ConfigurationError
    naming ``variable`` (and never the password) when it is not one."""

    def refuse(why: str) -> ConfigurationError:
        return ConfigurationError(
            f"{variable} {why}: give smtp://[user:password@]host[:port] or smtps://…, with "
            "?starttls=true|false and ?cafile=PATH as options (docs/accounts.md)"
        )

    text = url.strip()
    if _has_control(text) or " " in text:
        raise refuse("holds white space or a control character")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise refuse("is not a URL with a valid port") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise refuse(f"has the scheme {scheme or 'none'!r}")
    if not parts.hostname:
        raise refuse("names no host")
    if parts.path not in ("", "/") or parts.fragment:
        raise refuse("has a path or a fragment")
    try:
        options = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise refuse("has a query that does not parse") from None
    starttls: bool | None = None
    cafile: str | None = None
    seen: set[str] = set()
    for key, value in options:
        if key in seen:
            raise refuse(f"repeats ?{key}")
        seen.add(key)
        if key == "starttls":
            if value.lower() not in ("true", "false"):
                raise refuse("has ?starttls= other than true or false")
            starttls = value.lower() == "true"
        elif key == "cafile":
            if not value:
                raise refuse("has an empty ?cafile=")
            cafile = value
        else:
            raise refuse(f"has the unknown option ?{key}=")
    implicit = scheme == "smtps"
    if implicit and starttls is not None:
        raise refuse("asks for STARTTLS on smtps://, which speaks TLS from the start")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise refuse("has a password without a user")
    if username is not None and not implicit and starttls is None:
        starttls = True  # credentials never cross a connection that failed to upgrade
    return SmtpTarget(
        host=parts.hostname,
        port=port if port is not None else DEFAULT_PORTS[scheme],
        implicit_tls=implicit,
        starttls=starttls,
        username=username or None,
        password=password,
        cafile=cafile,
    )


@dataclass(frozen=True, slots=True)
class MailLinks:
    """Where the links of account mail lead: ``app_url`` (``https://app.example.com``, maybe
    with a path) + the kind's path + ``?token=…``."""

    app_url: str
    paths: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PATHS))

    def link(self, kind: str, token: str) -> str:
        path = self.paths.get(kind)
        if path is None:
            raise ValueError(f"no link for mail of kind {kind!r}")
        return f"{self.app_url.rstrip('/')}{path}?token={quote(token, safe='')}"


def compose(
    kind: str, email: str, token: str, *, sender: Address, links: MailLinks
) -> EmailMessage:
    """The message of ``kind`` to ``email`` with ``token`` in its link. ValueError for an
    unknown kind or an address :func:`check_address` refuses."""
    if kind not in _SUBJECTS:
        raise ValueError(f"no mail of kind {kind!r}")
    recipient = check_address(email)
    link = links.link(kind, token)
    intro, unasked = _TEXTS[kind]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = Address(addr_spec=recipient)
    message["Subject"] = _SUBJECTS[kind]
    message["Date"] = format_datetime(_dt.datetime.now(_dt.UTC))
    message["Message-ID"] = make_msgid(domain=sender.domain or "localhost")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    message.set_content(f"{intro}\n\n{link}\n\n{unasked}\n")
    message.add_alternative(
        "<!doctype html>\n<html><body>\n"
        f"<p>{html.escape(intro)}</p>\n"
        f'<p><a href="{html.escape(link)}">{html.escape(_SUBJECTS[kind])}</a></p>\n'
        f"<p>{html.escape(unasked)}</p>\n"
        "</body></html>\n",
        subtype="html",
    )
    return message


class SmtpMailer:
    """Sends account mail through an SMTP server (a :class:`tokenward.mail.Mailer`)."""

    def __init__(
        self,
        target: SmtpTarget | str,
        *,
        sender: str,
        links: MailLinks | str,
        timeout: float = 10.0,
    ) -> None:
        try:
            import aiosmtplib  # noqa: F401  (the accounts extra)
        except ImportError:  # pragma: no cover - depends on the installation
            raise ConfigurationError(
                "SMTP_URL needs aiosmtplib: pip install 'tokenward[accounts]'"
            ) from None
        self.target = parse_smtp_url(target) if isinstance(target, str) else target
        try:
            self.sender = parse_sender(sender)
        except ValueError as exc:
            raise ConfigurationError(f"SMTP_FROM {exc}") from None
        self.links = MailLinks(links) if isinstance(links, str) else links
        if not timeout > 0:
            raise ConfigurationError("the SMTP timeout must be positive")
        self.timeout = float(timeout)
        self._tls = self._tls_context()
        self._hostname: str | None = None

    def __repr__(self) -> str:
        return f"SmtpMailer({self.target.redacted()!r}, sender={str(self.sender)!r})"

    def _tls_context(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=self.target.cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"SMTP_URL's cafile {self.target.cafile!r} is not a readable PEM file of "
                f"certificates ({exc.strerror or exc})"
            ) from None

    async def _local_hostname(self) -> str:
        """This host's name for EHLO, looked up once and off the event loop (a slow resolver
        would otherwise stall every request)."""
        if self._hostname is None:
            self._hostname = await asyncio.to_thread(socket.getfqdn)
        return self._hostname

    def check_address(self, email: str) -> None:
        """ValueError when ``email`` is no address this sender could ever send to (see the
        module's :func:`check_address`): the accounts ask at sign-up, so such an address is
        refused there (422) instead of failing later, in the background send."""
        check_address(email)

    def compose(self, kind: str, email: str, token: str) -> EmailMessage:
        """The message :meth:`send` would send."""
        return compose(kind, email, token, sender=self.sender, links=self.links)

    async def _deliver(self, client: Any, message: EmailMessage) -> None:
        """EHLO, STARTTLS as the URL says, AUTH when it has credentials, the message, QUIT."""
        import aiosmtplib

        target = self.target
        await client.ehlo()
        if not target.implicit_tls and target.starttls is not False:
            if client.supports_extension("starttls"):
                await client.starttls()  # checks the certificate and says EHLO again
            elif target.starttls:
                why = "it has credentials" if target.username is not None else "?starttls=true"
                raise MailDeliveryError(
                    f"the SMTP server {target.host}:{target.port} does not offer STARTTLS, "
                    f"which SMTP_URL requires ({why})"
                )
        if target.username is not None:
            await client.login(target.username, target.password or "")
        await client.send_message(message)
        with contextlib.suppress(aiosmtplib.SMTPException):
            await client.quit()  # the message is the server's now

    async def send(self, kind: Kind, email: str, token: str) -> None:
        import aiosmtplib

        target = self.target
        protocol: Any = None
        where = f"the SMTP server {target.host}:{target.port}"
        try:
            message = self.compose(kind, email, token)
        except ValueError as exc:
            raise MailDeliveryError(f"no mail sent: {exc}") from None
        client = aiosmtplib.SMTP(
            hostname=target.host,
            port=target.port,
            use_tls=target.implicit_tls,
            start_tls=False,  # decided below, from what the server offers and the URL says
            tls_context=self._tls,
            timeout=self.timeout,
            local_hostname=await self._local_hostname(),
        )
        try:
            async with asyncio.timeout(self.timeout):
                try:  # not ``async with``: a connect that fails half-way leaves a socket open
                    await client.connect()
                    protocol = client.protocol  # kept: quit() and close() forget it
                    await self._deliver(client, message)
                finally:
                    client.close()
        except TimeoutError:
            raise MailDeliveryError(
                f"{where} did not take the message within {self.timeout:g} s"
            ) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise MailDeliveryError(
                f"{where} refused the credentials of SMTP_URL ({exc.code})"
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise MailDeliveryError(
                f"{where} refused the message: {exc.code} {_one_line(exc.message)}"
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:  # ssl.SSLError is an OSError
            raise MailDeliveryError(f"{where} failed: {_one_line(str(exc))}") from None
        finally:
            await _closed(protocol)


async def _closed(protocol: Any, bound: float = 1.0) -> None:
    """Wait (at most ``bound`` seconds) until the connection is gone: closing a TLS connection
    exchanges close_notify first, and a loop that ended before that (``asyncio.run`` around one
    message) would leave its socket to the garbage collector. aiosmtplib's protocol notes the
    loss in ``_connection_lost``; without that attribute there is nothing to wait for."""
    deadline = asyncio.get_running_loop().time() + bound
    while not getattr(protocol, "_connection_lost", True):
        if asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.005)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
