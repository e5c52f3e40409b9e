"""Where the custom provider keeps state: refresh-token sessions (later API keys and rate counters).

A store is a small async interface, :class:`Store`. It holds only hashes of refresh tokens, never
the tokens. :func:`open_store` turns a location (``STORE_URL``) into a store; SQLite
(:class:`tokenward.stores.sqlite.SQLiteStore`) is the one implementation today.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from tokenward.exceptions import ConfigurationError, StoreError

__all__ = [
    "RefreshSession",
    "RotateOutcome",
    "RotateResult",
    "Store",
    "StoreError",
    "open_store",
]


@dataclass(frozen=True, slots=True)
class RefreshSession:
    """One refresh token, known by its hash, in a family of tokens that replaced one another.

    ``identity`` is what the access tokens minted from this session say about the user
    (``email``, ``groups``, ``scopes``); it is copied unchanged along the family.
    """

    token_hash: str
    family_id: str
    subject: str
    identity: dict[str, Any]
    issued_at: float
    expires_at: float
    spent_at: float | None = None
    successor_hash: str | None = None
    successor_jti: str | None = None
    revoked_at: float | None = None

    def is_live(self, now: float) -> bool:
        """Neither spent, revoked nor expired at ``now``."""
        return self.spent_at is None and self.revoked_at is None and now < self.expires_at


class RotateOutcome(enum.Enum):
    """What :meth:`Store.rotate_refresh_session` found and did."""

    ROTATED = "rotated"  # the session was live: it is now spent and its successor exists
    SPENT = "spent"  # the session had been rotated before (a duplicate or a reuse)
    REVOKED = "revoked"  # its family was revoked (logout or reuse detection)
    EXPIRED = "expired"  # past its expiry, never rotated
    UNKNOWN = "unknown"  # no session has this hash


@dataclass(frozen=True, slots=True)
class RotateResult:
    outcome: RotateOutcome
    session: RefreshSession | None  # the presented session as it was before the call


@runtime_checkable
class Store(Protocol):
    """Storage of refresh sessions. Every method is atomic; implementations never block the loop."""

    async def open(self) -> None:
        """Connect and create or check the schema. Called at start-up; other methods open lazily."""

    async def close(self) -> None:
        """Release connections. The store may be opened again afterwards."""

    async def add_refresh_session(self, session: RefreshSession) -> None:
        """Insert a new session (a login)."""

    async def get_refresh_session(self, token_hash: str) -> RefreshSession | None:
        """The session with this hash, or None."""

    async def rotate_refresh_session(
        self,
        token_hash: str,
        *,
        successor_hash: str,
        successor_jti: str,
        now: float,
        expires_at: float,
    ) -> RotateResult:
        """In one transaction: if the session is live, mark it spent at ``now`` and insert its
        successor (same family, subject and identity, issued at ``now``, expiring at
        ``expires_at``). Otherwise change nothing and say why."""

    async def revoke_refresh_family(self, family_id: str, *, now: float) -> int:
        """Revoke every session of a family; returns how many were still unrevoked."""

    async def purge_refresh_sessions(self, *, before: float) -> int:
        """Delete sessions that expired before ``before``; returns how many."""


def open_store(url: str) -> Store:
    """A store for a location: ``sqlite:///relative.db``, ``sqlite:////absolute.db``,
    ``sqlite://:memory:``, a plain file path, or ``:memory:``."""
    from tokenward.stores.sqlite import SQLiteStore

    location = url.strip()
    if location.startswith("sqlite://"):
        rest = location.removeprefix("sqlite://")
        if rest in (":memory:", "/:memory:"):
            return SQLiteStore(":memory:")
        if not rest.startswith("/") or rest == "/":
            raise ConfigurationError(f"cannot read the store location {url!r}")
        return SQLiteStore(rest[1:])
    if "://" in location:
        scheme = location.split("://", 1)[0]
        raise ConfigurationError(
            f"store scheme {scheme!r} is not available in this version; use sqlite:///path.db"
        )
    if not location:
        raise ConfigurationError("the store location is empty")
    return SQLiteStore(location)
