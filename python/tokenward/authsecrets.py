"""``AUTH_SECRET`` and the older secrets honoured during a rotation (``AUTH_SECRET_PREVIOUS``).

Four things derive from the app's secret: the HS256 access tokens' signing key and the refresh
tokens' hashes (:class:`~tokenward._core.DebugTokens`), the API keys' hashes
(:class:`~tokenward._core.ApiKeyHasher`) and the names of the login limiter's counters
(:func:`~tokenward.ratelimit.limiter_key`). A :class:`Secrets` holds the current secret, which
makes everything new, and the previous ones, under which what a client presents is also checked
when the current secret does not match (an access token until it expires, a refresh token, an API
key, a user name's failed logins until their window ends). The services take what they derive
from each (:meth:`Secrets.derive`), current first.

Framework-free, no I/O: the settings build it (:meth:`~tokenward.settings.AuthSettings.secrets`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from tokenward.exceptions import ConfigurationError

__all__ = ["Secrets"]

T = TypeVar("T")


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


class Secrets:
    """The current secret and the previous ones, newest first (never printed)."""

    __slots__ = ("current", "previous")

    def __init__(self, current: str | bytes, previous: Iterable[str | bytes] = ()) -> None:
        self.current = _bytes(current)
        older = tuple(dict.fromkeys(_bytes(item) for item in previous))
        if not self.current or any(not item for item in older):
            raise ConfigurationError("a secret must not be empty")
        if self.current in older:
            raise ConfigurationError("a previous secret must differ from the current one")
        self.previous = older

    @property
    def all(self) -> tuple[bytes, ...]:
        """Every secret, the current one first."""
        return (self.current, *self.previous)

    def derive(self, make: Callable[[bytes], T]) -> tuple[T, tuple[T, ...]]:
        """``make`` applied to the current secret, and to each previous one in order."""
        return make(self.current), tuple(make(item) for item in self.previous)

    def __repr__(self) -> str:
        return f"<Secrets current=*** previous={len(self.previous)}>"
