"""The SQLite store: one file (or ``:memory:``), WAL mode, every write in a transaction.

All sqlite3 calls run on one dedicated worker thread, so the event loop never waits on the disk and
the connection is only ever touched by one thread. The schema is created on first use and carries
a version number in ``tokenward_schema_version``; a file written by a newer tokenward is refused.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from tokenward.exceptions import ConfigurationError
from tokenward.stores import RefreshSession, RotateOutcome, RotateResult, StoreError

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

T = TypeVar("T")

SCHEMA_VERSION = 1

_SCHEMA = (
    """CREATE TABLE tokenward_refresh_sessions (
        token_hash     TEXT PRIMARY KEY,
        family_id      TEXT NOT NULL,
        subject        TEXT NOT NULL,
        identity       TEXT NOT NULL,
        issued_at      REAL NOT NULL,
        expires_at     REAL NOT NULL,
        spent_at       REAL,
        successor_hash TEXT,
        successor_jti  TEXT,
        revoked_at     REAL
    )""",
    "CREATE INDEX tokenward_refresh_sessions_family ON tokenward_refresh_sessions (family_id)",
    "CREATE INDEX tokenward_refresh_sessions_expiry ON tokenward_refresh_sessions (expires_at)",
)

_COLUMNS = (
    "token_hash, family_id, subject, identity, issued_at, expires_at, spent_at, successor_hash,"
    " successor_jti, revoked_at"
)


def _row_to_session(row: tuple[Any, ...]) -> RefreshSession:
    identity = json.loads(row[3])
    return RefreshSession(
        token_hash=row[0],
        family_id=row[1],
        subject=row[2],
        identity=identity if isinstance(identity, dict) else {},
        issued_at=row[4],
        expires_at=row[5],
        spent_at=row[6],
        successor_hash=row[7],
        successor_jti=row[8],
        revoked_at=row[9],
    )


class SQLiteStore:
    """A :class:`tokenward.stores.Store` on the standard library's sqlite3."""

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
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()
                if mode is None or str(mode[0]).lower() != "wal":
                    raise StoreError(f"SQLite store {self._path!r}: WAL mode is not available")
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS tokenward_schema_version (version INTEGER NOT NULL)"
            )
            row = conn.execute("SELECT MAX(version) FROM tokenward_schema_version").fetchone()
            version = row[0] if row and row[0] is not None else 0
            if version > SCHEMA_VERSION:
                raise ConfigurationError(
                    f"the SQLite store has schema version {version}, newer than this tokenward "
                    f"understands ({SCHEMA_VERSION}); upgrade tokenward or use another file"
                )
            if version < 1:
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute("INSERT INTO tokenward_schema_version (version) VALUES (1)")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

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
        def read(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT MAX(version) FROM tokenward_schema_version").fetchone()
            return int(row[0])

        return await self._run(read)

    async def add_refresh_session(self, session: RefreshSession) -> None:
        def add(conn: sqlite3.Connection) -> None:
            self._write(conn, lambda: self._insert(conn, session))

        await self._run(add)

    @staticmethod
    def _insert(conn: sqlite3.Connection, s: RefreshSession) -> None:
        conn.execute(
            f"INSERT INTO tokenward_refresh_sessions ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",  # noqa: S608
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
            f"SELECT {_COLUMNS} FROM tokenward_refresh_sessions WHERE token_hash = ?",  # noqa: S608
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
            return RotateResult(RotateOutcome.ROTATED, old)

        return await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    async def revoke_refresh_family(self, family_id: str, *, now: float) -> int:
        def work(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "UPDATE tokenward_refresh_sessions SET revoked_at = ?"
                " WHERE family_id = ? AND revoked_at IS NULL",
                (now, family_id),
            )
            return cur.rowcount

        return await self._run(lambda conn: self._write(conn, lambda: work(conn)))

    async def purge_refresh_sessions(self, *, before: float) -> int:
        def work(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "DELETE FROM tokenward_refresh_sessions WHERE expires_at < ?", (before,)
            )
            return cur.rowcount

        return await self._run(lambda conn: self._write(conn, lambda: work(conn)))
