"""The SQLite store: one file (or ``:memory:``), WAL mode, every write in a transaction.

All sqlite3 calls run on one dedicated worker thread, so the event loop never waits on the disk and
the connection is only ever touched by one thread. Each call has one deadline, ``timeout`` seconds
after it was made: its wait for its turn on the thread counts, a call whose deadline passed while
it waited fails without touching the database, and the one running waits for another connection's
lock only for what is left of its own time (``busy_timeout`` set per call). So a file locked by
another process costs each call at most ``timeout``, however many are queued behind one another.

The schema is created or migrated on first use and carries a version number in
``tokenward_schema_version`` (see
:mod:`tokenward.stores._sqlite_schema`); a file written by a newer tokenward is refused. Writes
that read first (rotation, session limits) take the database's write lock up front
(``BEGIN IMMEDIATE``), so several processes on one file stay consistent.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from tokenward.exceptions import ConfigurationError
from tokenward.stores._sqlite_schema import SCHEMA_VERSION, current_version, migrate
from tokenward.stores.base import (
    _KEY_COLUMNS,
    _LINK_COLUMNS,
    _PASSKEY_COLUMNS,
    _STATE_COLUMNS,
    _TOKEN_COLUMNS,
    _USER_COLUMNS,
    UNSET,
    ApiKeyRecord,
    AttributeValue,
    Counter,
    DuplicateKeyError,
    DuplicateUserError,
    LinkedIdentity,
    OAuthState,
    PasskeyRecord,
    PendingSignIn,
    RefreshSession,
    Reservation,
    Resource,
    ResourceChain,
    RoleAssignment,
    SessionInfo,
    SpendResult,
    StoreError,
    TotpRecord,
    UnstorableValueError,
    UserRecord,
    _chains_from_rows,
    _check_challenge,
    _check_grant,
    _check_hit,
    _check_link,
    _check_new_passkey,
    _check_new_user,
    _check_page,
    _check_parent,
    _check_passkey_name,
    _check_pending,
    _check_reserve,
    _check_resources,
    _check_sign_count,
    _check_start_session,
    _check_state,
    _check_totp,
    _check_update,
    _check_user_token,
    _cycle,
    _key_from_row,
    _lookup_ok,
    _passkey_from_row,
    _session_from_row,
    _Unset,
    _user_from_row,
)

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

T = TypeVar("T")


_SESSION_COLUMNS = (
    "id, subject, started_at, last_used_at, client_address, user_agent, revoked_at, expires_at"
)
_SESSION_COLUMNS_S = ", ".join("s." + c.strip() for c in _SESSION_COLUMNS.split(","))

# A session is live while it is not revoked and one of its tokens is usable at ``now`` (the one
# parameter); ``s`` is the session row.
_LIVE = (
    "s.revoked_at IS NULL AND EXISTS (SELECT 1 FROM tokenward_refresh_sessions r"
    " WHERE r.family_id = s.id AND r.spent_at IS NULL AND r.revoked_at IS NULL"
    " AND r.expires_at > ?)"
)


def _dump_strings(values: tuple[str, ...]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


def _load_strings(text: str) -> tuple[str, ...]:
    values = json.loads(text)
    return tuple(v for v in values if isinstance(v, str)) if isinstance(values, list) else ()


# What an API-key look-up that found nothing decodes (see _one_key): a row of a usual shape.
_DECOY_KEY_ROW: tuple[Any, ...] = (
    "ak_decoy",
    "vk_decoy",
    "0" * 64,
    "decoy",
    "decoy",
    None,
    '["decoy"]',
    '["decoy:read"]',
    0.0,
    None,
    None,
    None,
    "[]",
)


def _row_to_key(row: tuple[Any, ...]) -> ApiKeyRecord:
    return _key_from_row(row, _load_strings(row[6]), _load_strings(row[7]), _load_strings(row[12]))


def _row_to_user(row: tuple[Any, ...]) -> UserRecord:
    return _user_from_row(row, _load_strings(row[7]), _load_strings(row[8]), json.loads(row[10]))


def _dump_attributes(attributes: dict[str, AttributeValue]) -> str:
    return json.dumps(attributes, separators=(",", ":"), sort_keys=True)


def _row_to_passkey(row: tuple[Any, ...]) -> PasskeyRecord:
    return _passkey_from_row(row, _load_strings(row[6]))


def _row_to_session(row: tuple[Any, ...]) -> RefreshSession:
    return _session_from_row(row, json.loads(row[3]))


class SQLiteStore:
    """A :class:`tokenward.stores.Store` on the standard library's sqlite3.

    ``timeout`` (seconds, default 5) is how long a call may take in all, its turn on the worker
    thread and its wait for another connection's lock included, before it fails with
    :class:`StoreError`.
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *, timeout: float = 5.0) -> None:
        self._path = os.fspath(path)
        self._memory = self._path == ":memory:"
        self._timeout = timeout
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    @property
    def path(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return f"SQLiteStore({self._path!r})"

    # --- plumbing -----------------------------------------------------------------------------

    def _worker(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="tokenward-sqlite"
                )
            return self._executor

    def _busy(self, waited: float) -> StoreError:
        return StoreError(
            f"SQLite store {self._path!r}: busy for {waited:g} s (another connection holds its "
            f"lock, or the calls before this one did)"
        )

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        deadline = time.monotonic() + self._timeout  # the whole call's, its turn included

        def call() -> T:
            try:
                if time.monotonic() >= deadline:  # its time went by in the queue
                    raise self._busy(self._timeout)
                conn = self._connection()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._busy(self._timeout)
                conn.execute(f"PRAGMA busy_timeout={max(1, int(left * 1000))}")
                return fn(conn)
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store {self._path!r}: {exc}") from exc
            except UnicodeEncodeError:  # a lone surrogate: no UTF-8 holds it
                raise UnstorableValueError(
                    f"SQLite store {self._path!r}: a string with a lone surrogate"
                ) from None

        return await asyncio.get_running_loop().run_in_executor(self._worker(), call)

    def _connection(self) -> sqlite3.Connection:
        # Runs on the worker thread only.
        if self._conn is not None:
            return self._conn
        if not self._memory:
            parent = Path(self._path).expanduser().resolve().parent
            if not parent.is_dir():
                raise ConfigurationError(
                    f"the directory of the SQLite store {self._path!r} does not exist"
                )
        conn = sqlite3.connect(
            self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        try:
            if not self._memory:
                mode = self._enter_wal(conn)
                if mode is None or str(mode[0]).lower() != "wal":
                    raise StoreError(f"SQLite store {self._path!r}: WAL mode is not available")
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _enter_wal(self, conn: sqlite3.Connection) -> Any:
        # Switching a file to WAL takes its exclusive lock from a shared one. When two connections
        # do that at once SQLite answers one of them "database is locked" at once, without its
        # busy handler (waiting could deadlock), so the retry has to be ours: short sleeps until
        # the store's own timeout has passed.
        deadline = time.monotonic() + self._timeout
        delay = 0.005
        while True:
            try:
                return conn.execute("PRAGMA journal_mode=WAL").fetchone()
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    @staticmethod
    def _write(conn: sqlite3.Connection, work: Callable[[], T]) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    # --- Store --------------------------------------------------------------------------------

    async def open(self) -> None:
        await self._run(lambda conn: None)

    async def close(self) -> None:
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return

        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        try:
            await asyncio.get_running_loop().run_in_executor(executor, shut)
        finally:
            executor.shutdown(wait=False)

    async def schema_version(self) -> int:
        return await self._run(current_version)

    async def add_refresh_session(self, session: RefreshSession) -> None:
        def add(conn: sqlite3.Connection) -> None:
            self._write(conn, lambda: self._insert(conn, session))

        await self._run(add)

    @staticmethod
    def _insert(conn: sqlite3.Connection, s: RefreshSession) -> None:
        conn.execute(
            f"INSERT INTO tokenward_refresh_sessions ({_TOKEN_COLUMNS})"  # noqa: S608
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                s.token_hash,
                s.family_id,
                s.subject,
                json.dumps(s.identity, separators=(",", ":"), sort_keys=True),
                s.issued_at,
                s.expires_at,
                s.spent_at,
                s.successor_hash,
                s.successor_jti,
                s.revoked_at,
            ),
        )

    @staticmethod
    def _select(conn: sqlite3.Connection, token_hash: str) -> RefreshSession | None:
        row = conn.execute(
            f"SELECT {_TOKEN_COLUMNS} FROM tokenward_refresh_sessions WHERE token_hash = ?",  # noqa: S608
            (token_hash,),
        ).fetchone()
        return None if row is None else _row_to_session(row)

    async def get_refresh_session(self, token_hash: str) -> RefreshSession | None:
        return await self._run(lambda conn: self._select(conn, token_hash))

    async def spend_refresh_session(
        self,
        token_hash: str,
        *,
        successor_hash: str,
        successor_jti: str,
        now: float,
        expires_at: float,
    ) -> SpendResult:
        def work(conn: sqlite3.Connection) -> SpendResult:
            old = self._select(conn, token_hash)  # under BEGIN IMMEDIATE: the write lock is ours
            if old is None or not old.is_live(now):
                return SpendResult(old, spent=False)
            conn.execute(
                "UPDATE tokenward_refresh_sessions SET spent_at = ?, successor_hash = ?,"
                " successor_jti = ? WHERE token_hash = ?",
                (now, successor_hash, successor_jti, token_hash),
            )
            self._insert(
                conn,
                RefreshSession(
                    token_hash=successor_hash,
                    family_id=old.family_id,
                    subject=old.subject,
                    identity=old.identity,
                    issued_at=now,
                    expires_at=expires_at,
                ),
            )
            conn.execute(
                "UPDATE tokenward_sessions SET last_used_at = ?, expires_at = ? WHERE id = ?",
                (now, expires_at, old.family_id),
            )
            return SpendResult(old, spent=True)

        return await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    @staticmethod
    def _revoke_families(conn: sqlite3.Connection, ids: list[str], now: float) -> int:
        """Revoke sessions and their tokens (inside a write transaction); returns the tokens."""
        tokens = 0
        for family_id in ids:
            conn.execute(
                "UPDATE tokenward_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now, family_id),
            )
            cur = conn.execute(
                "UPDATE tokenward_refresh_sessions SET revoked_at = ?"
                " WHERE family_id = ? AND revoked_at IS NULL",
                (now, family_id),
            )
            tokens += cur.rowcount
        return tokens

    async def revoke_refresh_family(self, family_id: str, *, now: float) -> int:
        def work(conn: sqlite3.Connection) -> int:
            return self._revoke_families(conn, [family_id], now)

        return await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    async def purge_refresh_sessions(self, *, before: float) -> int:
        def work(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "DELETE FROM tokenward_refresh_sessions WHERE expires_at < ?", (before,)
            )
            conn.execute(
                "DELETE FROM tokenward_sessions WHERE NOT EXISTS (SELECT 1 FROM"
                " tokenward_refresh_sessions r WHERE r.family_id = tokenward_sessions.id)"
            )
            return cur.rowcount

        return await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    # --- sessions -----------------------------------------------------------------------------

    @staticmethod
    def _live_ids(conn: sqlite3.Connection, subject: str, now: float) -> list[str]:
        """The subject's live sessions, newest first."""
        rows = conn.execute(
            f"SELECT s.id FROM tokenward_sessions s WHERE s.subject = ? AND {_LIVE}"  # noqa: S608
            " ORDER BY s.started_at DESC, s.id DESC",
            (subject, now),
        ).fetchall()
        return [row[0] for row in rows]

    async def start_session(
        self, info: SessionInfo, first: RefreshSession, *, max_sessions: int, now: float
    ) -> tuple[str, ...]:
        _check_start_session(info, first, max_sessions)

        def work(conn: sqlite3.Connection) -> tuple[str, ...]:
            conn.execute(
                f"INSERT INTO tokenward_sessions ({_SESSION_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",  # noqa: S608
                (
                    info.id,
                    info.subject,
                    info.started_at,
                    info.last_used_at,
                    info.client_address,
                    info.user_agent,
                    info.revoked_at,
                    first.expires_at,
                ),
            )
            self._insert(conn, first)
            others = [i for i in self._live_ids(conn, info.subject, now) if i != info.id]
            ended = list(reversed(others[max_sessions - 1 :]))
            self._revoke_families(conn, ended, now)
            return tuple(ended)

        return await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    async def get_session(self, session_id: str) -> SessionInfo | None:
        def work(conn: sqlite3.Connection) -> SessionInfo | None:
            row = conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM tokenward_sessions WHERE id = ?",  # noqa: S608
                (session_id,),
            ).fetchone()
            return None if row is None else SessionInfo(*row)

        return await self._run(work)

    async def list_sessions(self, subject: str, *, now: float) -> list[SessionInfo]:
        def work(conn: sqlite3.Connection) -> list[SessionInfo]:
            rows = conn.execute(
                f"SELECT {_SESSION_COLUMNS_S} FROM tokenward_sessions s"  # noqa: S608
                f" WHERE s.subject = ? AND {_LIVE} ORDER BY s.started_at DESC, s.id DESC",
                (subject, now),
            ).fetchall()
            return [SessionInfo(*row) for row in rows]

        return await self._run(work)

    async def revoke_session(self, session_id: str, *, subject: str, now: float) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                f"SELECT s.id FROM tokenward_sessions s WHERE s.id = ? AND s.subject = ?"  # noqa: S608
                f" AND {_LIVE}",
                (session_id, subject, now),
            ).fetchone()
            if row is None:
                return False
            self._revoke_families(conn, [session_id], now)
            return True

        return await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    async def revoke_sessions(self, subject: str, *, now: float, keep: str | None = None) -> int:
        def work(conn: sqlite3.Connection) -> int:
            ids = [i for i in self._live_ids(conn, subject, now) if i != keep]
            self._revoke_families(conn, ids, now)
            return len(ids)

        return await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    # --- API keys -----------------------------------------------------------------------------

    async def add_api_key(self, record: ApiKeyRecord) -> None:
        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO tokenward_api_keys ({_KEY_COLUMNS})"  # noqa: S608
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        record.id,
                        record.prefix,
                        record.key_hash,
                        record.name,
                        record.owner_subject,
                        record.owner_email,
                        _dump_strings(record.owner_groups),
                        _dump_strings(record.scopes),
                        record.created_at,
                        record.expires_at,
                        record.last_used_at,
                        record.revoked_at,
                        _dump_strings(record.groups),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateKeyError(
                    f"an API key with the prefix {record.prefix!r} or id {record.id!r} exists"
                ) from exc

        await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    async def _one_key(self, column: str, value: str) -> ApiKeyRecord | None:
        def work(conn: sqlite3.Connection) -> ApiKeyRecord | None:
            row = conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM tokenward_api_keys WHERE {column} = ?",  # noqa: S608
                (value,),
            ).fetchone()
            # A miss decodes a decoy row as a hit decodes its row, so that an unknown prefix
            # costs what a known one does (the JSON decoding is most of the difference).
            record = _row_to_key(_DECOY_KEY_ROW if row is None else row)
            return None if row is None else record

        return await self._run(work)

    async def get_api_key(self, prefix: str) -> ApiKeyRecord | None:
        return await self._one_key("prefix", prefix)

    async def get_api_key_by_id(self, key_id: str) -> ApiKeyRecord | None:
        return await self._one_key("id", key_id)

    async def list_api_keys(self, owner_subject: str | None) -> list[ApiKeyRecord]:
        def work(conn: sqlite3.Connection) -> list[ApiKeyRecord]:
            rows = conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM tokenward_api_keys"  # noqa: S608
                " WHERE (? IS NULL OR owner_subject = ?) ORDER BY created_at DESC, id DESC",
                (owner_subject, owner_subject),
            ).fetchall()
            return [_row_to_key(row) for row in rows]

        return await self._run(work)

    async def revoke_api_key(self, key_id: str, *, owner_subject: str | None, now: float) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE tokenward_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
                " AND (? IS NULL OR owner_subject = ?)",
                (now, key_id, owner_subject, owner_subject),
            )
            return cur.rowcount == 1

        return await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    async def touch_api_key(self, key_id: str, *, now: float, min_interval: float = 60.0) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE tokenward_api_keys SET last_used_at = ? WHERE id = ?"
                " AND (last_used_at IS NULL OR last_used_at <= ?)",
                (now, key_id, now - min_interval),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def claim_api_key_check(
        self, probe: str, probe_hash: str, *, now: float
    ) -> tuple[str, str]:
        def work(conn: sqlite3.Connection) -> tuple[str, str]:
            conn.execute(
                "INSERT OR IGNORE INTO tokenward_api_key_check (id, probe, probe_hash, created_at)"
                " VALUES (1, ?, ?, ?)",
                (probe, probe_hash, now),
            )
            row = conn.execute(
                "SELECT probe, probe_hash FROM tokenward_api_key_check WHERE id = 1"
            ).fetchone()
            return str(row[0]), str(row[1])

        return await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    async def replace_api_key_check(
        self, old_probe_hash: str, probe: str, probe_hash: str, *, now: float
    ) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE tokenward_api_key_check SET probe = ?, probe_hash = ?, created_at = ?"
                " WHERE id = 1 AND probe_hash = ?",
                (probe, probe_hash, now, old_probe_hash),
            )
            return cur.rowcount == 1

        return await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    # --- counters -----------------------------------------------------------------------------

    async def hit(self, key: str, *, window: float, now: float, amount: int = 1) -> Counter:
        _check_hit(window, amount)

        def work(conn: sqlite3.Connection) -> Counter:
            row = conn.execute(
                "INSERT INTO tokenward_counters (key, count, reset_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET"
                " count = CASE WHEN reset_at <= ? THEN excluded.count"
                " ELSE count + excluded.count END,"
                " reset_at = CASE WHEN reset_at <= ? THEN excluded.reset_at ELSE reset_at END"
                " RETURNING count, reset_at",
                (key, amount, now + window, now, now),
            ).fetchone()
            return Counter(count=int(row[0]), reset_at=float(row[1]))

        return await self._run(work)

    async def peek(self, key: str, *, now: float) -> Counter | None:
        def work(conn: sqlite3.Connection) -> Counter | None:
            row = conn.execute(
                "SELECT count, reset_at FROM tokenward_counters WHERE key = ? AND reset_at > ?",
                (key, now),
            ).fetchone()
            return None if row is None else Counter(count=int(row[0]), reset_at=float(row[1]))

        return await self._run(work)

    async def reserve(self, key: str, *, limit: int, window: float, now: float) -> Reservation:
        _check_reserve(limit, window)

        def work(conn: sqlite3.Connection) -> Reservation:
            # one upsert decides and counts; its WHERE refuses a full window without writing
            row = conn.execute(
                "INSERT INTO tokenward_counters (key, count, reset_at) VALUES (?, 1, ?)"
                " ON CONFLICT (key) DO UPDATE SET"
                " count = CASE WHEN reset_at <= ? THEN 1 ELSE count + 1 END,"
                " reset_at = CASE WHEN reset_at <= ? THEN excluded.reset_at ELSE reset_at END"
                " WHERE reset_at <= ? OR count < ?"
                " RETURNING count, reset_at",
                (key, now + window, now, now, now, limit),
            ).fetchone()
            if row is not None:
                return Reservation(True, int(row[0]), float(row[1]))
            row = conn.execute(
                "SELECT count, reset_at FROM tokenward_counters WHERE key = ?", (key,)
            ).fetchone()
            return Reservation(False, int(row[0]), float(row[1]))

        return await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    async def release(self, key: str, *, reset_at: float) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE tokenward_counters SET count = count - 1"
                " WHERE key = ? AND reset_at = ? AND count > 0",
                (key, reset_at),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def clear(self, key: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM tokenward_counters WHERE key = ?", (key,))

        await self._run(work)

    async def purge_counters(self, *, before: float) -> int:
        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM tokenward_counters WHERE reset_at <= ?", (before,)
            ).rowcount

        return await self._run(work)

    # --- access: role assignments and the resource hierarchy ---------------------------------

    async def assign_role(self, user_id: str, role: str, resource: Resource) -> bool:
        rtype, rid = _check_grant(user_id, role, resource)

        def work(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT OR IGNORE INTO tokenward_role_assignments"
                " (user_id, resource_type, resource_id, role) VALUES (?, ?, ?, ?)",
                (user_id, rtype, rid, role),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def revoke_role(self, user_id: str, role: str, resource: Resource) -> bool:
        rtype, rid = _check_grant(user_id, role, resource)

        def work(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM tokenward_role_assignments WHERE user_id = ? AND resource_type = ?"
                " AND resource_id = ? AND role = ?",
                (user_id, rtype, rid, role),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def set_parent(self, resource: Resource, parent: Resource | None) -> None:
        _check_parent(resource, parent)

        def work(conn: sqlite3.Connection) -> None:
            if parent is not None:
                below = conn.execute(
                    "SELECT 1 FROM tokenward_resource_closure WHERE descendant_type = ?"
                    " AND descendant_id = ? AND ancestor_type = ? AND ancestor_id = ?",
                    (*parent, *resource),
                ).fetchone()
                if below is not None:
                    raise _cycle(resource, parent)
            # Cut the subtree (the resource and its descendants) from the resource's ancestors.
            conn.execute(
                "DELETE FROM tokenward_resource_closure"
                " WHERE (descendant_type, descendant_id) IN"
                " (SELECT descendant_type, descendant_id FROM tokenward_resource_closure"
                "  WHERE ancestor_type = ? AND ancestor_id = ? UNION SELECT ?, ?)"
                " AND (ancestor_type, ancestor_id) IN"
                " (SELECT ancestor_type, ancestor_id FROM tokenward_resource_closure"
                "  WHERE descendant_type = ? AND descendant_id = ?)",
                (*resource, *resource, *resource),
            )
            if parent is None:
                return
            # Link every node of the subtree to the parent and each of its ancestors.
            conn.execute(
                "INSERT INTO tokenward_resource_closure"
                " (descendant_type, descendant_id, ancestor_type, ancestor_id, depth)"
                " SELECT s.dt, s.di, a.at, a.ai, a.d + s.d + 1 FROM"
                " (SELECT ? AS at, ? AS ai, 0 AS d UNION ALL"
                "  SELECT ancestor_type, ancestor_id, depth FROM tokenward_resource_closure"
                "  WHERE descendant_type = ? AND descendant_id = ?) AS a,"
                " (SELECT ? AS dt, ? AS di, 0 AS d UNION ALL"
                "  SELECT descendant_type, descendant_id, depth FROM tokenward_resource_closure"
                "  WHERE ancestor_type = ? AND ancestor_id = ?) AS s",
                (*parent, *parent, *resource, *resource),
            )

        await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    async def resource_chains(
        self, user_id: str, resources: Sequence[Resource]
    ) -> dict[Resource, ResourceChain]:
        wanted = _check_resources(resources)
        if not wanted:
            return {}
        values = ", ".join("(?, ?)" for _ in wanted)
        sql = (
            f"WITH targets(t, i) AS (VALUES {values}),"  # noqa: S608
            " chain(t, i, at, ai, depth) AS ("
            "  SELECT t, i, t, i, 0 FROM targets UNION ALL"
            "  SELECT targets.t, targets.i, c.ancestor_type, c.ancestor_id, c.depth"
            "  FROM targets JOIN tokenward_resource_closure c"
            "  ON c.descendant_type = targets.t AND c.descendant_id = targets.i)"
            " SELECT chain.t, chain.i, chain.at, chain.ai, chain.depth, a.role FROM chain"
            " LEFT JOIN tokenward_role_assignments a ON a.user_id = ?"
            " AND a.resource_type = chain.at AND a.resource_id = chain.ai"
        )
        params = [part for resource in wanted for part in resource] + [user_id]

        def work(conn: sqlite3.Connection) -> dict[Resource, ResourceChain]:
            return _chains_from_rows(wanted, conn.execute(sql, params).fetchall())

        return await self._run(work)

    async def role_assignments(self, user_id: str) -> list[RoleAssignment]:
        def work(conn: sqlite3.Connection) -> list[RoleAssignment]:
            rows = conn.execute(
                "SELECT role, resource_type, resource_id FROM tokenward_role_assignments"
                " WHERE user_id = ? ORDER BY resource_type, resource_id, role",
                (user_id,),
            ).fetchall()
            return [RoleAssignment(user_id, row[0], (row[1], row[2])) for row in rows]

        return await self._run(work)

    # --- users and their single-use tokens ---------------------------------------------------

    async def create_user(self, user: UserRecord) -> UserRecord:
        checked = _check_new_user(user)

        def work(conn: sqlite3.Connection) -> UserRecord:
            try:
                conn.execute(
                    f"INSERT INTO tokenward_users ({_USER_COLUMNS})"  # noqa: S608
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        checked.id,
                        checked.email,
                        checked.password_hash,
                        checked.created_at,
                        checked.updated_at,
                        int(checked.email_verified),
                        int(checked.disabled),
                        _dump_strings(checked.groups),
                        _dump_strings(checked.roles),
                        checked.last_sign_in_at,
                        _dump_attributes(checked.attributes),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateUserError("a user with this email or id exists") from exc
            return checked

        return await self._run(work)

    async def _one_user(self, column: str, value: str) -> UserRecord | None:
        if not _lookup_ok(value):
            return None

        def work(conn: sqlite3.Connection) -> UserRecord | None:
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM tokenward_users WHERE {column} = ?",  # noqa: S608
                (value,),
            ).fetchone()
            return None if row is None else _row_to_user(row)

        return await self._run(work)

    async def get_user(self, user_id: str) -> UserRecord | None:
        return await self._one_user("id", user_id)

    async def get_user_by_email(self, email: str) -> UserRecord | None:
        return await self._one_user("email", email)

    async def list_users(self, *, limit: int = 100, after: str | None = None) -> list[UserRecord]:
        _check_page(limit, after)

        def work(conn: sqlite3.Connection) -> list[UserRecord]:
            rows = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM tokenward_users"  # noqa: S608
                " WHERE (? IS NULL OR id > ?) ORDER BY id LIMIT ?",
                (after, after, limit),
            ).fetchall()
            return [_row_to_user(row) for row in rows]

        return await self._run(work)

    async def update_user(
        self,
        user_id: str,
        *,
        now: float,
        password_hash: str | _Unset | None = UNSET,
        email_verified: bool | None = None,
        disabled: bool | None = None,
        groups: Sequence[str] | None = None,
        roles: Sequence[str] | None = None,
        attributes: dict[str, AttributeValue] | None = None,
    ) -> UserRecord | None:
        new_groups, new_roles, new_attributes = _check_update(
            password_hash, groups, roles, attributes
        )
        if not _lookup_ok(user_id):
            return None
        sets = ["updated_at = ?"]
        params: list[Any] = [now]
        if not isinstance(password_hash, _Unset):
            sets.append("password_hash = ?")
            params.append(password_hash)
        for column, value in (
            ("email_verified", None if email_verified is None else int(email_verified)),
            ("disabled", None if disabled is None else int(disabled)),
            ("user_groups", None if new_groups is None else _dump_strings(new_groups)),
            ("user_roles", None if new_roles is None else _dump_strings(new_roles)),
            ("attributes", None if new_attributes is None else _dump_attributes(new_attributes)),
        ):
            if value is not None:
                sets.append(f"{column} = ?")
                params.append(value)
        sql = (
            f"UPDATE tokenward_users SET {', '.join(sets)} WHERE id = ?"  # noqa: S608
            f" RETURNING {_USER_COLUMNS}"
        )

        def work(conn: sqlite3.Connection) -> UserRecord | None:
            row = conn.execute(sql, (*params, user_id)).fetchone()
            return None if row is None else _row_to_user(row)

        return await self._run(work)

    async def record_sign_in(self, user_id: str, *, now: float) -> bool:
        if not _lookup_ok(user_id):
            return False

        def work(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE tokenward_users SET last_sign_in_at = ? WHERE id = ?", (now, user_id)
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def add_user_token(
        self, token_hash: str, *, user_id: str, purpose: str, expires_at: float, now: float
    ) -> None:
        _check_user_token(token_hash, user_id, purpose)

        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO tokenward_user_tokens"
                    " (token_hash, user_id, purpose, created_at, expires_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (token_hash, user_id, purpose, now, expires_at),
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateKeyError("a user token with this hash exists") from exc

        await self._run(work)

    async def consume_user_token(self, token_hash: str, *, purpose: str, now: float) -> str | None:
        if not _lookup_ok(token_hash, purpose):
            return None

        def work(conn: sqlite3.Connection) -> str | None:
            # one statement: of concurrent consumers (other connections too) one deletes it
            row = conn.execute(
                "DELETE FROM tokenward_user_tokens"
                " WHERE token_hash = ? AND purpose = ? AND expires_at > ? RETURNING user_id",
                (token_hash, purpose, now),
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._run(work)

    async def delete_user_tokens(self, user_id: str, *, purpose: str | None = None) -> int:
        if not _lookup_ok(user_id, purpose):
            return 0

        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM tokenward_user_tokens WHERE user_id = ?"
                " AND (? IS NULL OR purpose = ?)",
                (user_id, purpose, purpose),
            ).rowcount

        return await self._run(work)

    async def purge_user_tokens(self, *, before: float) -> int:
        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM tokenward_user_tokens WHERE expires_at <= ?", (before,)
            ).rowcount

        return await self._run(work)

    # --- second factors -----------------------------------------------------------------------

    async def begin_totp(
        self, user_id: str, secret: str, code_hashes: Sequence[str], *, now: float
    ) -> bool:
        _check_totp(user_id, secret, code_hashes)

        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT confirmed_at FROM tokenward_mfa_totp WHERE user_id = ?", (user_id,)
            ).fetchone()
            if row is not None and row[0] is not None:
                return False
            conn.execute(
                "INSERT INTO tokenward_mfa_totp (user_id, secret, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret,"
                " created_at = excluded.created_at, confirmed_at = NULL, last_step = NULL",
                (user_id, secret, now),
            )
            conn.execute("DELETE FROM tokenward_mfa_recovery_codes WHERE user_id = ?", (user_id,))
            conn.executemany(
                "INSERT OR IGNORE INTO tokenward_mfa_recovery_codes (user_id, code_hash)"
                " VALUES (?, ?)",
                [(user_id, h) for h in code_hashes],
            )
            return True

        return await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    async def get_totp(self, user_id: str) -> TotpRecord | None:
        if not _lookup_ok(user_id):
            return None

        def work(conn: sqlite3.Connection) -> TotpRecord | None:
            row = conn.execute(
                "SELECT user_id, secret, created_at, confirmed_at, last_step"
                " FROM tokenward_mfa_totp WHERE user_id = ?",
                (user_id,),
            ).fetchone()
            return None if row is None else TotpRecord(*row)

        return await self._run(work)

    async def confirm_totp(self, user_id: str, *, now: float) -> bool:
        if not _lookup_ok(user_id):
            return False

        def work(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "UPDATE tokenward_mfa_totp SET confirmed_at = ?"
                    " WHERE user_id = ? AND confirmed_at IS NULL",
                    (now, user_id),
                ).rowcount
                == 1
            )

        return await self._run(work)

    async def delete_totp(self, user_id: str) -> bool:
        if not _lookup_ok(user_id):
            return False

        def work(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM tokenward_mfa_recovery_codes WHERE user_id = ?", (user_id,))
            gone = conn.execute("DELETE FROM tokenward_mfa_totp WHERE user_id = ?", (user_id,))
            return gone.rowcount == 1

        return await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    async def accept_totp_step(self, user_id: str, step: int) -> bool:
        if not _lookup_ok(user_id):
            return False

        def work(conn: sqlite3.Connection) -> bool:
            # one conditional statement: of concurrent callers with one step, one changes the row
            cur = conn.execute(
                "UPDATE tokenward_mfa_totp SET last_step = ?"
                " WHERE user_id = ? AND (last_step IS NULL OR last_step < ?)",
                (step, user_id, step),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def recovery_code_hashes(self, user_id: str) -> list[str]:
        if not _lookup_ok(user_id):
            return []

        def work(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT code_hash FROM tokenward_mfa_recovery_codes WHERE user_id = ?", (user_id,)
            ).fetchall()
            return [str(row[0]) for row in rows]

        return await self._run(work)

    async def use_recovery_code(self, user_id: str, code_hash: str) -> bool:
        if not _lookup_ok(user_id, code_hash):
            return False

        def work(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM tokenward_mfa_recovery_codes WHERE user_id = ? AND code_hash = ?",
                (user_id, code_hash),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def add_pending_sign_in(self, token_hash: str, pending: PendingSignIn) -> None:
        _check_pending(token_hash, pending)

        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO tokenward_mfa_pending (token_hash, user_id, client_address,"
                    " user_agent, scope, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        token_hash,
                        pending.user_id,
                        pending.client_address,
                        pending.user_agent,
                        pending.scope,
                        pending.expires_at,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateKeyError("a pending sign-in with this hash exists") from exc

        await self._run(work)

    async def get_pending_sign_in(self, token_hash: str, *, now: float) -> PendingSignIn | None:
        if not _lookup_ok(token_hash):
            return None

        def work(conn: sqlite3.Connection) -> PendingSignIn | None:
            row = conn.execute(
                "SELECT user_id, expires_at, client_address, user_agent, scope"
                " FROM tokenward_mfa_pending WHERE token_hash = ? AND expires_at > ?",
                (token_hash, now),
            ).fetchone()
            return None if row is None else PendingSignIn(*row)

        return await self._run(work)

    async def consume_pending_sign_in(self, token_hash: str, *, now: float) -> PendingSignIn | None:
        if not _lookup_ok(token_hash):
            return None

        def work(conn: sqlite3.Connection) -> PendingSignIn | None:
            # one statement: of concurrent consumers (other connections too) one deletes it
            row = conn.execute(
                "DELETE FROM tokenward_mfa_pending WHERE token_hash = ? AND expires_at > ?"
                " RETURNING user_id, expires_at, client_address, user_agent, scope",
                (token_hash, now),
            ).fetchone()
            return None if row is None else PendingSignIn(*row)

        return await self._run(work)

    async def delete_pending_sign_ins(self, user_id: str) -> int:
        if not _lookup_ok(user_id):
            return 0

        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM tokenward_mfa_pending WHERE user_id = ?", (user_id,)
            ).rowcount

        return await self._run(work)

    async def purge_pending_sign_ins(self, *, before: float) -> int:
        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM tokenward_mfa_pending WHERE expires_at <= ?", (before,)
            ).rowcount

        return await self._run(work)

    # --- passkeys and their ceremony challenges ----------------------------------------------

    async def add_passkey(self, record: PasskeyRecord) -> None:
        checked = _check_new_passkey(record)

        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO tokenward_passkeys ({_PASSKEY_COLUMNS})"  # noqa: S608
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        checked.id,
                        checked.user_id,
                        checked.public_key,
                        checked.sign_count,
                        checked.name,
                        checked.created_at,
                        _dump_strings(checked.transports),
                        checked.last_used_at,
                        checked.aaguid,
                        int(checked.backup_eligible),
                        int(checked.backed_up),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateKeyError("a passkey with this credential id exists") from exc

        await self._run(work)

    async def get_passkey(self, credential_id: str) -> PasskeyRecord | None:
        if not _lookup_ok(credential_id):
            return None

        def work(conn: sqlite3.Connection) -> PasskeyRecord | None:
            row = conn.execute(
                f"SELECT {_PASSKEY_COLUMNS} FROM tokenward_passkeys WHERE id = ?",  # noqa: S608
                (credential_id,),
            ).fetchone()
            return None if row is None else _row_to_passkey(row)

        return await self._run(work)

    async def list_passkeys(self, user_id: str) -> list[PasskeyRecord]:
        if not _lookup_ok(user_id):
            return []

        def work(conn: sqlite3.Connection) -> list[PasskeyRecord]:
            rows = conn.execute(
                f"SELECT {_PASSKEY_COLUMNS} FROM tokenward_passkeys"  # noqa: S608
                " WHERE user_id = ? ORDER BY created_at, id",
                (user_id,),
            ).fetchall()
            return [_row_to_passkey(row) for row in rows]

        return await self._run(work)

    async def rename_passkey(self, credential_id: str, *, user_id: str, name: str) -> bool:
        _check_passkey_name(name)
        if not _lookup_ok(credential_id, user_id):
            return False

        def work(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE tokenward_passkeys SET name = ? WHERE id = ? AND user_id = ?",
                (name, credential_id, user_id),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def revoke_passkey(self, credential_id: str, *, user_id: str) -> bool:
        if not _lookup_ok(credential_id, user_id):
            return False

        def work(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM tokenward_passkeys WHERE id = ? AND user_id = ?",
                (credential_id, user_id),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def delete_passkeys(self, user_id: str) -> int:
        if not _lookup_ok(user_id):
            return 0

        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM tokenward_passkeys WHERE user_id = ?", (user_id,)
            ).rowcount

        return await self._run(work)

    async def use_passkey(
        self, credential_id: str, *, sign_count: int, now: float, backed_up: bool
    ) -> bool:
        _check_sign_count(sign_count)
        if not _lookup_ok(credential_id):
            return False

        def work(conn: sqlite3.Connection) -> bool:
            # one conditional statement: the counter only moves forward (or stays 0 with 0)
            cur = conn.execute(
                "UPDATE tokenward_passkeys SET sign_count = ?, last_used_at = ?, backed_up = ?"
                " WHERE id = ? AND (? > sign_count OR (? = 0 AND sign_count = 0))",
                (sign_count, now, int(backed_up), credential_id, sign_count, sign_count),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def add_passkey_challenge(
        self,
        challenge_hash: str,
        *,
        purpose: str,
        user_id: str | None,
        expires_at: float,
        now: float,
    ) -> None:
        _check_challenge(challenge_hash, purpose, user_id)

        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO tokenward_passkey_challenges"
                    " (challenge_hash, purpose, user_id, created_at, expires_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (challenge_hash, purpose, user_id, now, expires_at),
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateKeyError("a ceremony challenge with this hash exists") from exc

        await self._run(work)

    async def consume_passkey_challenge(
        self, challenge_hash: str, *, purpose: str, user_id: str | None, now: float
    ) -> bool:
        if not _lookup_ok(challenge_hash, purpose, user_id):
            return False

        def work(conn: sqlite3.Connection) -> bool:
            # one statement: of concurrent consumers (other connections too) one deletes it
            row = conn.execute(
                "DELETE FROM tokenward_passkey_challenges WHERE challenge_hash = ?"
                " AND purpose = ? AND user_id IS ? AND expires_at > ? RETURNING 1",
                (challenge_hash, purpose, user_id, now),
            ).fetchone()
            return row is not None

        return await self._run(work)

    async def purge_passkey_challenges(self, *, before: float) -> int:
        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM tokenward_passkey_challenges WHERE expires_at <= ?", (before,)
            ).rowcount

        return await self._run(work)

    # --- linked external identities and sign-in states ----------------------------------------

    async def link_identity(self, link: LinkedIdentity) -> bool:
        _check_link(link)

        def work(conn: sqlite3.Connection) -> bool:
            # both unique constraints in one statement: a link taken either way writes nothing
            cur = conn.execute(
                "INSERT INTO tokenward_linked_identities"
                " (provider, subject, user_id, email, created_at, last_used_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    link.provider,
                    link.subject,
                    link.user_id,
                    link.email,
                    link.created_at,
                    link.last_used_at,
                ),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def get_linked_identity(self, provider: str, subject: str) -> LinkedIdentity | None:
        if not _lookup_ok(provider, subject):
            return None

        def work(conn: sqlite3.Connection) -> LinkedIdentity | None:
            row = conn.execute(
                f"SELECT {_LINK_COLUMNS} FROM tokenward_linked_identities"  # noqa: S608
                " WHERE provider = ? AND subject = ?",
                (provider, subject),
            ).fetchone()
            return None if row is None else LinkedIdentity(*row)

        return await self._run(work)

    async def linked_identities(self, user_id: str) -> list[LinkedIdentity]:
        if not _lookup_ok(user_id):
            return []

        def work(conn: sqlite3.Connection) -> list[LinkedIdentity]:
            rows = conn.execute(
                f"SELECT {_LINK_COLUMNS} FROM tokenward_linked_identities"  # noqa: S608
                " WHERE user_id = ? ORDER BY provider",
                (user_id,),
            ).fetchall()
            return [LinkedIdentity(*row) for row in rows]

        return await self._run(work)

    async def touch_linked_identity(self, provider: str, subject: str, *, now: float) -> bool:
        if not _lookup_ok(provider, subject):
            return False

        def work(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "UPDATE tokenward_linked_identities SET last_used_at = ?"
                    " WHERE provider = ? AND subject = ?",
                    (now, provider, subject),
                ).rowcount
                == 1
            )

        return await self._run(work)

    async def unlink_identity(self, provider: str, user_id: str) -> bool:
        if not _lookup_ok(provider, user_id):
            return False

        def work(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "DELETE FROM tokenward_linked_identities WHERE provider = ? AND user_id = ?",
                    (provider, user_id),
                ).rowcount
                == 1
            )

        return await self._run(work)

    async def add_oauth_state(self, state_hash: str, state: OAuthState) -> None:
        _check_state(state_hash, state)

        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO tokenward_oauth_states (state_hash, {_STATE_COLUMNS})"  # noqa: S608
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        state_hash,
                        state.provider,
                        state.code_verifier,
                        state.nonce,
                        state.binding_hash,
                        state.created_at,
                        state.expires_at,
                        state.redirect_to,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateKeyError("a sign-in state with this hash exists") from exc

        await self._run(work)

    async def consume_oauth_state(self, state_hash: str, *, now: float) -> OAuthState | None:
        if not _lookup_ok(state_hash):
            return None

        def work(conn: sqlite3.Connection) -> OAuthState | None:
            # one statement: of concurrent consumers (other connections too) one deletes it
            row = conn.execute(
                "DELETE FROM tokenward_oauth_states"  # noqa: S608
                f" WHERE state_hash = ? AND expires_at > ? RETURNING {_STATE_COLUMNS}",
                (state_hash, now),
            ).fetchone()
            return None if row is None else OAuthState(*row)

        return await self._run(work)

    async def purge_oauth_states(self, *, before: float) -> int:
        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM tokenward_oauth_states WHERE expires_at <= ?", (before,)
            ).rowcount

        return await self._run(work)
