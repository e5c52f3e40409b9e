"""The SQLite store: one file (or ``:memory:``), WAL mode, every write in a transaction.

All sqlite3 calls run on one dedicated worker thread, so the event loop never waits on the disk and
the connection is only ever touched by one thread. The schema is created or migrated on first use
and carries a version number in ``tokenward_schema_version`` (see
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from tokenward.exceptions import ConfigurationError
from tokenward.stores._sqlite_schema import SCHEMA_VERSION, current_version, migrate
from tokenward.stores.base import (
    _KEY_COLUMNS,
    _TOKEN_COLUMNS,
    ApiKeyRecord,
    Counter,
    DuplicateKeyError,
    RefreshSession,
    Reservation,
    RotateOutcome,
    RotateResult,
    SessionInfo,
    StoreError,
    _check_hit,
    _check_reserve,
    _check_start_session,
    _key_from_row,
    _session_from_row,
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


def _row_to_key(row: tuple[Any, ...]) -> ApiKeyRecord:
    return _key_from_row(row, _load_strings(row[6]), _load_strings(row[7]))


def _row_to_session(row: tuple[Any, ...]) -> RefreshSession:
    return _session_from_row(row, json.loads(row[3]))


class SQLiteStore:
    """A :class:`tokenward.stores.Store` on the standard library's sqlite3.

    ``timeout`` (seconds, default 5) is how long a write waits for another connection's lock
    before it fails with :class:`StoreError`.
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

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            try:
                return fn(self._connection())
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store {self._path!r}: {exc}") from exc

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

    async def rotate_refresh_session(
        self,
        token_hash: str,
        *,
        successor_hash: str,
        successor_jti: str,
        now: float,
        expires_at: float,
    ) -> RotateResult:
        def work(conn: sqlite3.Connection) -> RotateResult:
            old = self._select(conn, token_hash)
            if old is None:
                return RotateResult(RotateOutcome.UNKNOWN, None)
            if old.revoked_at is not None:
                return RotateResult(RotateOutcome.REVOKED, old)
            if old.spent_at is not None:
                return RotateResult(RotateOutcome.SPENT, old)
            if now >= old.expires_at:
                return RotateResult(RotateOutcome.EXPIRED, old)
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
            return RotateResult(RotateOutcome.ROTATED, old)

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
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
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
            return None if row is None else _row_to_key(row)

        return await self._run(work)

    async def get_api_key(self, prefix: str) -> ApiKeyRecord | None:
        return await self._one_key("prefix", prefix)

    async def get_api_key_by_id(self, key_id: str) -> ApiKeyRecord | None:
        return await self._one_key("id", key_id)

    async def list_api_keys(self, owner_subject: str) -> list[ApiKeyRecord]:
        def work(conn: sqlite3.Connection) -> list[ApiKeyRecord]:
            rows = conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM tokenward_api_keys WHERE owner_subject = ?"  # noqa: S608
                " ORDER BY created_at DESC, id DESC",
                (owner_subject,),
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
