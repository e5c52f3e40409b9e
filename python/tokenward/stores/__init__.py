"""Where tokenward keeps state: refresh tokens and sessions, API keys, rate-limit counters.

A store is a small async interface (:class:`Store`, the union of :class:`RefreshSessionStore`,
:class:`ApiKeyStore` and :class:`CounterStore`). It holds only hashes of refresh tokens and API
keys, never the secrets. :func:`open_store` turns a location (``STORE_URL``) into a store, picking
the backend by URL scheme: SQLite (:class:`tokenward.stores.sqlite.SQLiteStore`, one instance)
or PostgreSQL (:class:`tokenward.stores.postgres.PostgresStore`, any number of instances; needs
``pip install 'tokenward[postgres]'``), or in memory (``memory://``,
:class:`tokenward.stores.memory.MemoryStore`: one process, for tests and development, lost on
restart). :func:`register_store` adds a backend of your own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from tokenward.exceptions import ConfigurationError, StoreError
from tokenward.stores.base import (
    MAX_BULK_RESOURCES,
    AccessStore,
    ApiKeyRecord,
    ApiKeyStore,
    Counter,
    CounterStore,
    DuplicateKeyError,
    DuplicateUserError,
    LinkedIdentity,
    LinkedIdentityStore,
    MfaStore,
    OAuthState,
    PasskeyRecord,
    PasskeyStore,
    PendingSignIn,
    RefreshSession,
    RefreshSessionStore,
    Reservation,
    Resource,
    ResourceChain,
    RoleAssignment,
    RotateOutcome,
    RotateResult,
    SessionInfo,
    SpendResult,
    Store,
    TotpRecord,
    UnstorableValueError,
    UserRecord,
    UserStore,
    unstorable,
)

__all__ = [
    "MAX_BULK_RESOURCES",
    "AccessStore",
    "ApiKeyRecord",
    "ApiKeyStore",
    "Counter",
    "CounterStore",
    "DuplicateKeyError",
    "DuplicateUserError",
    "LinkedIdentity",
    "LinkedIdentityStore",
    "MfaStore",
    "OAuthState",
    "PasskeyRecord",
    "PasskeyStore",
    "PendingSignIn",
    "RefreshSession",
    "RefreshSessionStore",
    "Reservation",
    "Resource",
    "ResourceChain",
    "RoleAssignment",
    "RotateOutcome",
    "RotateResult",
    "SessionInfo",
    "SpendResult",
    "Store",
    "StoreError",
    "StoreFactory",
    "TotpRecord",
    "UnstorableValueError",
    "UserRecord",
    "UserStore",
    "open_store",
    "register_store",
    "unstorable",
]

StoreFactory = Callable[[str], Store]
"""Makes a store from a full location URL (scheme included). It must not connect: connecting is
:meth:`Store.open`'s job."""


def _sqlite(url: str) -> Store:
    from tokenward.stores.sqlite import SQLiteStore

    rest = url.split("://", 1)[1]
    if rest in (":memory:", "/:memory:"):
        return SQLiteStore(":memory:")
    if not rest.startswith("/") or rest == "/":
        raise ConfigurationError(
            f"cannot read the store location {url!r}: use sqlite:///relative.db or "
            "sqlite:////absolute/path.db"
        )
    return SQLiteStore(rest[1:])


def _memory(url: str) -> Store:
    from tokenward.stores.memory import MemoryStore

    return MemoryStore(url.split("://", 1)[1])


def _postgres(url: str) -> Store:
    from tokenward.stores.postgres import PostgresStore  # ConfigurationError without psycopg

    return PostgresStore(url)


_lock = threading.Lock()
_factories: dict[str, StoreFactory] = {
    "sqlite": _sqlite,
    "postgresql": _postgres,
    "postgres": _postgres,
    "memory": _memory,
}


def register_store(scheme: str, factory: StoreFactory) -> None:
    """Make :func:`open_store` hand ``scheme://…`` locations to ``factory``. A scheme registered
    again is replaced (so a built-in backend can be swapped for a subclass)."""
    name = scheme.strip().lower()
    if not name or not name.replace("+", "").replace("-", "").replace(".", "").isalnum():
        raise ConfigurationError(f"not a URL scheme: {scheme!r}")
    with _lock:
        _factories[name] = factory


def open_store(url: str) -> Store:
    """A store for a location, not yet connected.

    * ``sqlite:///relative.db``, ``sqlite:////absolute.db``, ``sqlite://:memory:``, a plain file
      path, or ``:memory:``: SQLite;
    * ``postgresql://user:password@host:5432/db`` (or ``postgres://``, any libpq URL): PostgreSQL;
    * ``memory://`` (a database of its own) or ``memory://NAME`` (shared by the process's stores
      of that name): in this process's memory, for tests and single-process development;
    * any scheme given to :func:`register_store`.

    ConfigurationError for an empty location or an unknown scheme (the message names the known
    ones).
    """
    location = url.strip()
    if not location:
        raise ConfigurationError("the store location is empty")
    if "://" not in location:
        from tokenward.stores.sqlite import SQLiteStore

        return SQLiteStore(location)
    scheme = location.split("://", 1)[0].lower()
    with _lock:
        factory = _factories.get(scheme)
        known = sorted(_factories)
    if factory is None:
        raise ConfigurationError(
            f"unknown store scheme {scheme!r}; known schemes: {', '.join(known)}"
        )
    return factory(location)
