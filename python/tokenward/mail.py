"""How account mail leaves tokenward: a verification link or a password-reset link.

The account system (:mod:`tokenward.accounts`) never formats or sends mail itself; it calls a
:class:`Mailer` with the kind of message, the (normalised) address and the single-use token.
Which mailer a service graph gets is decided once, by :func:`build_mailer`:

1. the application's own ``on_send(kind, email, token)`` (``Auth(settings, on_send=...)``),
   a plain function or a coroutine function;
2. otherwise, with ``SMTP_URL`` set, :class:`~tokenward.smtp.SmtpMailer`: the built-in sender
   (``SMTP_FROM`` as the sender, links under ``APP_URL``, ``SMTP_TIMEOUT`` per message);
3. otherwise, in development, :class:`LogMailer`: the message is logged with its token (and its
   link when ``APP_URL`` is set), so a developer can follow it without a mail server;
4. otherwise None: nothing can send mail, and the account system refuses at start to offer
   what needs it (its settings check, not this module, says so).

``kind`` is one of :data:`MAIL_KINDS`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal, Protocol

from tokenward.exceptions import ConfigurationError
from tokenward.smtp import MailLinks, SmtpMailer, parse_smtp_url

if TYPE_CHECKING:
    from tokenward.settings import AuthSettings

__all__ = [
    "MAIL_KINDS",
    "CallbackMailer",
    "LogMailer",
    "MailKind",
    "Mailer",
    "OnSend",
    "SmtpMailer",
    "build_mailer",
]

MailKind = Literal["verify-email", "reset-password"]
MAIL_KINDS: tuple[MailKind, ...] = ("verify-email", "reset-password")

OnSend = Callable[[str, str, str], "Awaitable[None] | None"]
"""``on_send(kind, email, token)``: sync or async; what it returns (or its awaitable's result)
is ignored, and what it raises reaches the caller of the account operation."""

_log = logging.getLogger("tokenward.mail")


class Mailer(Protocol):
    """Sends one account message. Raises when the message could not be handed on."""

    async def send(self, kind: MailKind, email: str, token: str) -> None: ...


class CallbackMailer:
    """The application's ``on_send``, called as ``on_send(kind, email, token)`` and awaited when
    it returns an awaitable."""

    def __init__(self, on_send: OnSend) -> None:
        if not callable(on_send):
            raise TypeError("on_send must be callable as on_send(kind, email, token)")
        self.on_send = on_send

    async def send(self, kind: MailKind, email: str, token: str) -> None:
        result = self.on_send(kind, email, token)
        if inspect.isawaitable(result):
            await result


class LogMailer:
    """Development only: logs the message with its token (at WARNING, on ``tokenward.mail``),
    and its link when ``links`` are given, so a sign-up can be finished without a mail server.
    Never chosen outside development: a token in a log is a credential in a log."""

    def __init__(self, links: MailLinks | None = None) -> None:
        self.links = links

    async def send(self, kind: MailKind, email: str, token: str) -> None:
        if self.links is None:
            _log.warning("development mail (%s) to %s: token %s", kind, email, token)
        else:
            link = self.links.link(kind, token)
            _log.warning("development mail (%s) to %s: %s", kind, email, link)


def build_mailer(settings: AuthSettings, on_send: OnSend | None = None) -> Mailer | None:
    """The mailer of a service graph: ``on_send``'s when given, the SMTP sender's with
    ``SMTP_URL``, the log's in development, else None (see the module's text). A
    ConfigurationError when ``SMTP_URL`` is set but ``SMTP_FROM`` or ``APP_URL`` is not."""
    if on_send is not None:
        return CallbackMailer(on_send)
    if settings.smtp_url is not None:
        missing = [settings.var(n) for n in ("smtp_from", "app_url") if not getattr(settings, n)]
        if missing:
            raise ConfigurationError(f"{settings.var('smtp_url')} needs {' and '.join(missing)}")
        assert settings.smtp_from is not None and settings.app_url is not None
        return SmtpMailer(
            parse_smtp_url(settings.smtp_url.get_secret_value(), variable=settings.var("smtp_url")),
            sender=settings.smtp_from,
            links=MailLinks(settings.app_url),
            timeout=settings.smtp_timeout,
        )
    if settings.is_development:
        return LogMailer(MailLinks(settings.app_url) if settings.app_url else None)
    return None
