"""The PostgreSQL store, for any number of tokenward instances sharing one database.

psycopg 3 (async) over a :class:`psycopg_pool.AsyncConnectionPool`; install it with
``pip install 'tokenward[postgres]'``. What it guarantees:

* The schema (version in ``tokenward_schema_version``, the same numbers as the SQLite store's) is
  created or migrated by :meth:`PostgresStore.open`, in one transaction holding the
  transaction-scoped advisory lock :data:`MIGRATION_LOCK`: instances starting together migrate
  once, the others wait and find the work done. A database of a newer schema is refused.
* Every change of several rows is one transaction. Rotation locks the presented token's row
  (``SELECT … FOR UPDATE``), so of two instances rotating one token at once exactly one gets
  ROTATED and the other, once the first commits, SPENT. Logins and "sign out everywhere" of one
  subject take a per-subject advisory lock, so concurrent logins cannot both slip past the
  session limit.
* Failures to connect or to run a statement raise :class:`StoreError` (a server answers 503).
  Connections are checked when taken from the pool, so after the server comes back the pool
  replaces its dead connections by itself.
* Nothing waits forever: ``connect_timeout`` bounds a connection attempt, ``pool_timeout`` the
  wait for a free (or new) connection, ``statement_timeout`` each statement on the server, and
  ``operation_timeout`` a whole store call on the client (which also covers a server that
  stopped answering at all). Defaults: 5, 5, 5 and 15 seconds. Opening the store (waiting for
  another instance's migration, then migrating) may take up to 60 seconds more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from tokenward.exceptions import ConfigurationError
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

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.conninfo import conninfo_to_dict
    from psycopg.rows import TupleRow
    from psycopg.types.json import Jsonb
    from psycopg_pool import AsyncConnectionPool
except ImportError as exc:
    raise ConfigurationError(
        "the PostgreSQL store needs psycopg 3 and psycopg_pool: pip install 'tokenward[postgres]'"
    ) from exc

__all__ = ["MIGRATION_LOCK", "SCHEMA_VERSION", "PostgresStore"]

T = TypeVar("T")
_Conn = psycopg.AsyncConnection[TupleRow]

SCHEMA_VERSION = 8

MIGRATION_LOCK = 0x746F6B656E77  # the advisory lock key ("tokenw") held while migrating
_SUBJECT_LOCK = 0x74776B  # first key of the per-subject advisory locks (int4 space)
_HIERARCHY_LOCK = 0x746F6B656E68  # the advisory lock key ("tokenh") of hierarchy changes
_MIGRATION_TIMEOUT = 60.0  # seconds a start-up may wait for, and spend on, the migration

# Version 2 is the first PostgreSQL schema (version 1 existed for SQLite only): a fresh database
# goes straight to it. Later versions append (number, statements) here; a version is applied
# when it is not recorded yet (not only when it is above the highest recorded one), so a
# database migrated before an intermediate version existed still gets it.
_V2 = (
    """CREATE TABLE tokenward_refresh_sessions (
        token_hash     TEXT PRIMARY KEY,
        family_id      TEXT NOT NULL,
        subject        TEXT NOT NULL,
        identity       JSONB NOT NULL,
        issued_at      DOUBLE PRECISION NOT NULL,
        expires_at     DOUBLE PRECISION NOT NULL,
        spent_at       DOUBLE PRECISION,
        successor_hash TEXT,
        successor_jti  TEXT,
        revoked_at     DOUBLE PRECISION
    )""",
    "CREATE INDEX tokenward_refresh_sessions_family ON tokenward_refresh_sessions (family_id)",
    "CREATE INDEX tokenward_refresh_sessions_expiry ON tokenward_refresh_sessions (expires_at)",
    """CREATE TABLE tokenward_sessions (
        id             TEXT PRIMARY KEY,
        subject        TEXT NOT NULL,
        started_at     DOUBLE PRECISION NOT NULL,
        last_used_at   DOUBLE PRECISION NOT NULL,
        client_address TEXT,
        user_agent     TEXT,
        revoked_at     DOUBLE PRECISION,
        expires_at     DOUBLE PRECISION
    )""",
    "CREATE INDEX tokenward_sessions_subject ON tokenward_sessions (subject, started_at)",
    """CREATE TABLE tokenward_api_keys (
        id            TEXT PRIMARY KEY,
        prefix        TEXT NOT NULL UNIQUE,
        key_hash      TEXT NOT NULL,
        name          TEXT NOT NULL,
        owner_subject TEXT NOT NULL,
        owner_email   TEXT,
        owner_groups  TEXT[] NOT NULL,
        scopes        TEXT[] NOT NULL,
        created_at    DOUBLE PRECISION NOT NULL,
        expires_at    DOUBLE PRECISION,
        last_used_at  DOUBLE PRECISION,
        revoked_at    DOUBLE PRECISION
    )""",
    "CREATE INDEX tokenward_api_keys_owner ON tokenward_api_keys (owner_subject, created_at)",
    """CREATE TABLE tokenward_counters (
        key      TEXT PRIMARY KEY,
        count    BIGINT NOT NULL,
        reset_at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX tokenward_counters_reset ON tokenward_counters (reset_at)",
)

# Version 3: an API key's own groups (keys made before carried their owner's and migrate to
# none) and the check value of the API-key hashing key (one row, written once).
_V3 = (
    "ALTER TABLE tokenward_api_keys ADD COLUMN key_groups TEXT[] NOT NULL DEFAULT '{}'",
    """CREATE TABLE tokenward_api_key_check (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        probe      TEXT NOT NULL,
        probe_hash TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    )""",
)


# 4: role assignments on resources and the resource hierarchy as a closure table (one row per
# ancestor of each resource, with its distance; none for a resource and itself).
_V4 = (
    """CREATE TABLE tokenward_role_assignments (
        user_id       TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        resource_id   TEXT NOT NULL,
        role          TEXT NOT NULL,
        PRIMARY KEY (user_id, resource_type, resource_id, role)
    )""",
    """CREATE TABLE tokenward_resource_closure (
        descendant_type TEXT NOT NULL,
        descendant_id   TEXT NOT NULL,
        ancestor_type   TEXT NOT NULL,
        ancestor_id     TEXT NOT NULL,
        depth           INTEGER NOT NULL,
        PRIMARY KEY (descendant_type, descendant_id, ancestor_type, ancestor_id)
    )""",
    "CREATE INDEX tokenward_resource_closure_ancestor"
    " ON tokenward_resource_closure (ancestor_type, ancestor_id)",
)

# 5: accounts (unique by normalised email; ids in code-point order, COLLATE "C", so that pages
# of list_users come in the order every backend uses) and their single-use tokens, by hash.
_V5 = (
    """CREATE TABLE tokenward_users (
        id              TEXT COLLATE "C" PRIMARY KEY,
        email           TEXT NOT NULL UNIQUE,
        password_hash   TEXT,
        created_at      DOUBLE PRECISION NOT NULL,
        updated_at      DOUBLE PRECISION NOT NULL,
        email_verified  BOOLEAN NOT NULL DEFAULT FALSE,
        disabled        BOOLEAN NOT NULL DEFAULT FALSE,
        user_groups     TEXT[] NOT NULL DEFAULT '{}',
        user_roles      TEXT[] NOT NULL DEFAULT '{}',
        last_sign_in_at DOUBLE PRECISION,
        attributes      JSONB NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE tokenward_user_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL,
        purpose    TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX tokenward_user_tokens_user ON tokenward_user_tokens (user_id, purpose)",
    "CREATE INDEX tokenward_user_tokens_expiry ON tokenward_user_tokens (expires_at)",
)

# 6: second factors: the TOTP factor per user (secret encrypted, pending or confirmed, last
# accepted step), recovery codes (hashes) and sign-ins waiting for a second factor (by hash).
_V6 = (
    """CREATE TABLE tokenward_mfa_totp (
        user_id      TEXT PRIMARY KEY,
        secret       TEXT NOT NULL,
        created_at   DOUBLE PRECISION NOT NULL,
        confirmed_at DOUBLE PRECISION,
        last_step    BIGINT
    )""",
    """CREATE TABLE tokenward_mfa_recovery_codes (
        user_id   TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        PRIMARY KEY (user_id, code_hash)
    )""",
    """CREATE TABLE tokenward_mfa_pending (
        token_hash     TEXT PRIMARY KEY,
        user_id        TEXT NOT NULL,
        client_address TEXT,
        user_agent     TEXT,
        scope          TEXT,
        expires_at     DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX tokenward_mfa_pending_user ON tokenward_mfa_pending (user_id)",
    "CREATE INDEX tokenward_mfa_pending_expiry ON tokenward_mfa_pending (expires_at)",
)

# 7: passkeys (WebAuthn credentials by credential id, several per user) and the single-use
# challenges of their ceremonies, by hash (6 is the second factors'). IF NOT EXISTS: applying it
# again changes nothing.
_V7 = (
    """CREATE TABLE IF NOT EXISTS tokenward_passkeys (
        id              TEXT PRIMARY KEY,
        user_id         TEXT NOT NULL,
        public_key      BYTEA NOT NULL,
        sign_count      BIGINT NOT NULL,
        name            TEXT NOT NULL,
        created_at      DOUBLE PRECISION NOT NULL,
        transports      TEXT[] NOT NULL DEFAULT '{}',
        last_used_at    DOUBLE PRECISION,
        aaguid          TEXT NOT NULL DEFAULT '',
        backup_eligible BOOLEAN NOT NULL DEFAULT FALSE,
        backed_up       BOOLEAN NOT NULL DEFAULT FALSE
    )""",
    "CREATE INDEX IF NOT EXISTS tokenward_passkeys_user"
    " ON tokenward_passkeys (user_id, created_at)",
    """CREATE TABLE IF NOT EXISTS tokenward_passkey_challenges (
        challenge_hash TEXT PRIMARY KEY,
        purpose        TEXT NOT NULL,
        user_id        TEXT,
        created_at     DOUBLE PRECISION NOT NULL,
        expires_at     DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS tokenward_passkey_challenges_expiry"
    " ON tokenward_passkey_challenges (expires_at)",
)

# 8: external sign-in: accounts at external providers linked to users (unique by (provider,
# subject) and by (provider, user id)) and the sign-ins under way, by the hash of their state.
# (6 and 7 are the second factors' and the passkeys'.)
_V8 = (
    """CREATE TABLE tokenward_linked_identities (
        provider     TEXT NOT NULL,
        subject      TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        email        TEXT,
        created_at   DOUBLE PRECISION NOT NULL,
        last_used_at DOUBLE PRECISION,
        PRIMARY KEY (provider, subject),
        UNIQUE (provider, user_id)
    )""",
    "CREATE INDEX tokenward_linked_identities_user ON tokenward_linked_identities (user_id)",
    """CREATE TABLE tokenward_oauth_states (
        state_hash    TEXT PRIMARY KEY,
        provider      TEXT NOT NULL,
        code_verifier TEXT NOT NULL,
        nonce         TEXT NOT NULL,
        binding_hash  TEXT NOT NULL,
        redirect_to   TEXT,
        created_at    DOUBLE PRECISION NOT NULL,
        expires_at    DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX tokenward_oauth_states_expiry ON tokenward_oauth_states (expires_at)",
)

_MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (2, _V2),
    (3, _V3),
    (4, _V4),
    (5, _V5),
    (6, _V6),
    (7, _V7),
    (8, _V8),
)

_SESSION_COLUMNS = (
    "s.id, s.subject, s.started_at, s.last_used_at, s.client_address, s.user_agent,"
    " s.revoked_at, s.expires_at"
)
# Live: not revoked, and one of its tokens usable at the parameter ``now``; ``s`` is the session.
_LIVE = (
    "s.revoked_at IS NULL AND EXISTS (SELECT 1 FROM tokenward_refresh_sessions r"
    " WHERE r.family_id = s.id AND r.spent_at IS NULL AND r.revoked_at IS NULL"
    " AND r.expires_at > %s)"
)


def _token(row: tuple[Any, ...]) -> RefreshSession:
    return _session_from_row(row, row[3])  # jsonb: psycopg decodes it


# What an API-key look-up that found nothing turns into a record (see _one_key).
_DECOY_KEY_ROW: tuple[Any, ...] = (
    "ak_decoy",
    "vk_decoy",
    "0" * 64,
    "decoy",
    "decoy",
    None,
    ["decoy"],
    ["decoy:read"],
    0.0,
    None,
    None,
    None,
    [],
)


def _user(row: tuple[Any, ...]) -> UserRecord:
    return _user_from_row(row, tuple(row[7]), tuple(row[8]), row[10])  # jsonb: decoded


def _passkey(row: tuple[Any, ...]) -> PasskeyRecord:
    return _passkey_from_row(row, tuple(row[6]))


def _key(row: tuple[Any, ...]) -> ApiKeyRecord:
    return _key_from_row(row, tuple(row[6]), tuple(row[7]), tuple(row[12]))


async def _insert_token(conn: _Conn, s: RefreshSession) -> None:
    await conn.execute(
        f"INSERT INTO tokenward_refresh_sessions ({_TOKEN_COLUMNS})"  # noqa: S608
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            s.token_hash,
            s.family_id,
            s.subject,
            Jsonb(s.identity),
            s.issued_at,
            s.expires_at,
            s.spent_at,
            s.successor_hash,
            s.successor_jti,
            s.revoked_at,
        ),
    )


async def _revoke_families(conn: _Conn, ids: list[str], now: float) -> int:
    """Revoke sessions and all their tokens (inside a transaction); returns the tokens."""
    if not ids:
        return 0
    await conn.execute(
        "UPDATE tokenward_sessions SET revoked_at = %s WHERE id = ANY(%s) AND revoked_at IS NULL",
        (now, ids),
    )
    cur = await conn.execute(
        "UPDATE tokenward_refresh_sessions SET revoked_at = %s"
        " WHERE family_id = ANY(%s) AND revoked_at IS NULL",
        (now, ids),
    )
    return cur.rowcount


async def _lock_subject(conn: _Conn, subject: str) -> None:
    await conn.execute(f"SELECT pg_advisory_xact_lock({_SUBJECT_LOCK}, hashtext(%s))", (subject,))


async def _live_ids(conn: _Conn, subject: str, now: float) -> list[str]:
    """The subject's live sessions, newest first, locked until the transaction ends."""
    cur = await conn.execute(
        f"SELECT s.id FROM tokenward_sessions s WHERE s.subject = %s AND {_LIVE}"  # noqa: S608
        " ORDER BY s.started_at DESC, s.id DESC FOR UPDATE OF s",
        (subject, now),
    )
    return [row[0] for row in await cur.fetchall()]


class PostgresStore:
    """A :class:`tokenward.stores.Store` on PostgreSQL (10 or newer).

    ``url`` is a libpq connection URL or string (``postgresql://user:pw@host:5432/db``; its
    parameters, ``sslmode`` and the rest, pass through). Timeouts are in seconds (0 turns
    ``statement_timeout`` off); ``min_size``/``max_size`` bound the pool of each instance.
    ``check_connections`` (on by default) checks each connection as it leaves the pool, one
    round trip, so that after a server restart no call fails on a dead connection; without it
    the first call on each dead connection fails with StoreError and the pool then replaces it.
    """

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 5.0,
        pool_timeout: float = 5.0,
        statement_timeout: float = 5.0,
        operation_timeout: float = 15.0,
        check_connections: bool = True,
    ) -> None:
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ConfigurationError(f"cannot read the PostgreSQL store location: {exc}") from exc
        if not 0 <= min_size <= max_size or max_size < 1:
            raise ConfigurationError("the PostgreSQL pool needs 0 <= min_size <= max_size, >= 1")
        if min(connect_timeout, pool_timeout, operation_timeout) <= 0 or statement_timeout < 0:
            raise ConfigurationError("PostgreSQL store timeouts must be positive")
        self._url = url
        host = params.get("host") or "localhost"
        self._where = f"{host}:{params.get('port') or 5432}/{params.get('dbname') or ''}"
        self._min_size = min_size
        self._max_size = max_size
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._statement_timeout_ms = int(statement_timeout * 1000)
        self._operation_timeout = operation_timeout
        self._check = check_connections
        self._pool: AsyncConnectionPool[_Conn] | None = None
        self._open_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PostgresStore({self._where!r})"  # never the password

    # --- plumbing -----------------------------------------------------------------------------

    async def _configure(self, conn: _Conn) -> None:
        await conn.execute(
            "SELECT set_config('statement_timeout', %s, false)",
            (str(self._statement_timeout_ms),),
        )

    async def _get_pool(self) -> AsyncConnectionPool[_Conn]:
        if self._pool is not None:
            return self._pool
        async with self._open_lock:
            if self._pool is None:
                pool: AsyncConnectionPool[_Conn] = AsyncConnectionPool(
                    self._url,
                    min_size=self._min_size,
                    max_size=self._max_size,
                    timeout=self._pool_timeout,
                    kwargs={
                        "autocommit": True,
                        "connect_timeout": max(1, round(self._connect_timeout)),
                    },
                    configure=self._configure,
                    check=AsyncConnectionPool.check_connection if self._check else None,
                    name="tokenward",
                    open=False,
                )
                try:
                    await pool.open(wait=self._min_size > 0, timeout=self._connect_timeout)
                    async with pool.connection() as conn:
                        await self._migrate(conn)
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
            return self._pool

    @staticmethod
    async def _migrate(conn: _Conn) -> None:
        async with conn.transaction():
            # Waiting for another instance's migration, and migrating, may take longer than a
            # request's statement: a bound of its own for this transaction only.
            await conn.execute(
                "SELECT set_config('statement_timeout', %s, true)",
                (str(int(_MIGRATION_TIMEOUT * 1000)),),
            )
            await conn.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS tokenward_schema_version (version INTEGER NOT NULL)"
            )
            cur = await conn.execute("SELECT MAX(version) FROM tokenward_schema_version")
            row = await cur.fetchone()
            version = int(row[0]) if row and row[0] is not None else 0
            if version > SCHEMA_VERSION:
                raise ConfigurationError(
                    f"the PostgreSQL store has schema version {version}, newer than this "
                    f"tokenward understands ({SCHEMA_VERSION}); upgrade tokenward"
                )
            cur = await conn.execute("SELECT version FROM tokenward_schema_version")
            applied = {r[0] for r in await cur.fetchall()}
            for number, statements in _MIGRATIONS:
                if number not in applied:
                    for statement in statements:
                        await conn.execute(statement)
                    await conn.execute(
                        "INSERT INTO tokenward_schema_version (version) VALUES (%s)", (number,)
                    )

    async def _run(self, work: Callable[[_Conn], Awaitable[T]]) -> T:
        """``work`` on a pooled connection (autocommit; ``work`` opens transactions), with every
        database failure and the operation timeout turned into StoreError."""
        limit = self._operation_timeout
        try:
            if self._pool is None:  # opening (and migrating) has a bound of its own
                limit = self._connect_timeout + self._pool_timeout + _MIGRATION_TIMEOUT
                async with asyncio.timeout(limit):
                    await self._get_pool()
                limit = self._operation_timeout
            async with asyncio.timeout(limit):
                pool = await self._get_pool()
                async with pool.connection() as conn:
                    return await work(conn)
        except (psycopg.DataError, UnicodeEncodeError) as exc:
            # A value PostgreSQL cannot hold (NUL in text or jsonb, a lone surrogate): the
            # input's fault, not the database's (SQLSTATE class 22, or psycopg's own check).
            raise UnstorableValueError(
                f"PostgreSQL store {self._where}: a value it cannot hold ({type(exc).__name__})"
            ) from None
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL store {self._where}: {exc}") from exc
        except TimeoutError as exc:
            raise StoreError(
                f"PostgreSQL store {self._where}: no answer within {limit:g} s"
            ) from exc

    async def _transaction(self, work: Callable[[_Conn], Awaitable[T]]) -> T:
        async def in_transaction(conn: _Conn) -> T:
            async with conn.transaction():
                return await work(conn)

        return await self._run(in_transaction)

    # --- Store --------------------------------------------------------------------------------

    async def open(self) -> None:
        async def nothing(conn: _Conn) -> None:
            return None

        await self._run(nothing)

    async def close(self) -> None:
        async with self._open_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def schema_version(self) -> int:
        async def work(conn: _Conn) -> int:
            cur = await conn.execute("SELECT MAX(version) FROM tokenward_schema_version")
            row = await cur.fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        return await self._run(work)

    # --- refresh tokens -----------------------------------------------------------------------

    async def add_refresh_session(self, session: RefreshSession) -> None:
        await self._run(lambda conn: _insert_token(conn, session))

    async def get_refresh_session(self, token_hash: str) -> RefreshSession | None:
        async def work(conn: _Conn) -> RefreshSession | None:
            cur = await conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM tokenward_refresh_sessions"  # noqa: S608
                " WHERE token_hash = %s",
                (token_hash,),
            )
            row = await cur.fetchone()
            return None if row is None else _token(row)

        return await self._run(work)

    async def spend_refresh_session(
        self,
        token_hash: str,
        *,
        successor_hash: str,
        successor_jti: str,
        now: float,
        expires_at: float,
    ) -> SpendResult:
        async def work(conn: _Conn) -> SpendResult:
            cur = await conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM tokenward_refresh_sessions"  # noqa: S608
                " WHERE token_hash = %s FOR UPDATE",
                (token_hash,),
            )
            row = await cur.fetchone()
            old = None if row is None else _token(row)
            if old is None or not old.is_live(now):
                return SpendResult(old, spent=False)
            await conn.execute(
                "UPDATE tokenward_refresh_sessions SET spent_at = %s, successor_hash = %s,"
                " successor_jti = %s WHERE token_hash = %s",
                (now, successor_hash, successor_jti, token_hash),
            )
            await _insert_token(
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
            await conn.execute(
                "UPDATE tokenward_sessions SET last_used_at = %s, expires_at = %s WHERE id = %s",
                (now, expires_at, old.family_id),
            )
            return SpendResult(old, spent=True)

        return await self._transaction(work)

    async def revoke_refresh_family(self, family_id: str, *, now: float) -> int:
        return await self._transaction(lambda conn: _revoke_families(conn, [family_id], now))

    async def purge_refresh_sessions(self, *, before: float) -> int:
        async def work(conn: _Conn) -> int:
            cur = await conn.execute(
                "DELETE FROM tokenward_refresh_sessions WHERE expires_at < %s", (before,)
            )
            await conn.execute(
                "DELETE FROM tokenward_sessions s WHERE NOT EXISTS"
                " (SELECT 1 FROM tokenward_refresh_sessions r WHERE r.family_id = s.id)"
            )
            return cur.rowcount

        return await self._transaction(work)

    # --- sessions -----------------------------------------------------------------------------

    async def start_session(
        self, info: SessionInfo, first: RefreshSession, *, max_sessions: int, now: float
    ) -> tuple[str, ...]:
        _check_start_session(info, first, max_sessions)

        async def work(conn: _Conn) -> tuple[str, ...]:
            await _lock_subject(conn, info.subject)
            await conn.execute(
                "INSERT INTO tokenward_sessions (id, subject, started_at, last_used_at,"
                " client_address, user_agent, revoked_at, expires_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
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
            await _insert_token(conn, first)
            others = [i for i in await _live_ids(conn, info.subject, now) if i != info.id]
            ended = list(reversed(others[max_sessions - 1 :]))
            await _revoke_families(conn, ended, now)
            return tuple(ended)

        return await self._transaction(work)

    async def get_session(self, session_id: str) -> SessionInfo | None:
        async def work(conn: _Conn) -> SessionInfo | None:
            cur = await conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM tokenward_sessions s WHERE s.id = %s",  # noqa: S608
                (session_id,),
            )
            row = await cur.fetchone()
            return None if row is None else SessionInfo(*row)

        return await self._run(work)

    async def list_sessions(self, subject: str, *, now: float) -> list[SessionInfo]:
        async def work(conn: _Conn) -> list[SessionInfo]:
            cur = await conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM tokenward_sessions s"  # noqa: S608
                f" WHERE s.subject = %s AND {_LIVE} ORDER BY s.started_at DESC, s.id DESC",
                (subject, now),
            )
            return [SessionInfo(*row) for row in await cur.fetchall()]

        return await self._run(work)

    async def revoke_session(self, session_id: str, *, subject: str, now: float) -> bool:
        async def work(conn: _Conn) -> bool:
            cur = await conn.execute(
                "SELECT s.id FROM tokenward_sessions s"  # noqa: S608
                f" WHERE s.id = %s AND s.subject = %s AND {_LIVE} FOR UPDATE OF s",
                (session_id, subject, now),
            )
            if await cur.fetchone() is None:
                return False
            await _revoke_families(conn, [session_id], now)
            return True

        return await self._transaction(work)

    async def revoke_sessions(self, subject: str, *, now: float, keep: str | None = None) -> int:
        async def work(conn: _Conn) -> int:
            await _lock_subject(conn, subject)
            ids = [i for i in await _live_ids(conn, subject, now) if i != keep]
            await _revoke_families(conn, ids, now)
            return len(ids)

        return await self._transaction(work)

    # --- API keys -----------------------------------------------------------------------------

    async def add_api_key(self, record: ApiKeyRecord) -> None:
        async def work(conn: _Conn) -> None:
            try:
                await conn.execute(
                    f"INSERT INTO tokenward_api_keys ({_KEY_COLUMNS})"  # noqa: S608
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        record.id,
                        record.prefix,
                        record.key_hash,
                        record.name,
                        record.owner_subject,
                        record.owner_email,
                        list(record.owner_groups),
                        list(record.scopes),
                        record.created_at,
                        record.expires_at,
                        record.last_used_at,
                        record.revoked_at,
                        list(record.groups),
                    ),
                )
            except pg_errors.UniqueViolation as exc:
                raise DuplicateKeyError(
                    f"an API key with the prefix {record.prefix!r} or id {record.id!r} exists"
                ) from exc

        await self._run(work)

    async def _one_key(self, column: str, value: str) -> ApiKeyRecord | None:
        async def work(conn: _Conn) -> ApiKeyRecord | None:
            cur = await conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM tokenward_api_keys WHERE {column} = %s",  # noqa: S608
                (value,),
            )
            row = await cur.fetchone()
            # A miss builds a record from a decoy row as a hit does from its row, so that an
            # unknown prefix costs what a known one does.
            record = _key(_DECOY_KEY_ROW if row is None else row)
            return None if row is None else record

        return await self._run(work)

    async def get_api_key(self, prefix: str) -> ApiKeyRecord | None:
        return await self._one_key("prefix", prefix)

    async def get_api_key_by_id(self, key_id: str) -> ApiKeyRecord | None:
        return await self._one_key("id", key_id)

    async def list_api_keys(self, owner_subject: str | None) -> list[ApiKeyRecord]:
        async def work(conn: _Conn) -> list[ApiKeyRecord]:
            cur = await conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM tokenward_api_keys"  # noqa: S608
                " WHERE (%(owner)s::text IS NULL OR owner_subject = %(owner)s)"
                " ORDER BY created_at DESC, id DESC",
                {"owner": owner_subject},
            )
            return [_key(row) for row in await cur.fetchall()]

        return await self._run(work)

    async def revoke_api_key(self, key_id: str, *, owner_subject: str | None, now: float) -> bool:
        async def work(conn: _Conn) -> bool:
            if owner_subject is None:
                cur = await conn.execute(
                    "UPDATE tokenward_api_keys SET revoked_at = %s"
                    " WHERE id = %s AND revoked_at IS NULL",
                    (now, key_id),
                )
            else:
                cur = await conn.execute(
                    "UPDATE tokenward_api_keys SET revoked_at = %s"
                    " WHERE id = %s AND revoked_at IS NULL AND owner_subject = %s",
                    (now, key_id, owner_subject),
                )
            return cur.rowcount == 1

        return await self._run(work)

    async def touch_api_key(self, key_id: str, *, now: float, min_interval: float = 60.0) -> bool:
        async def work(conn: _Conn) -> bool:
            cur = await conn.execute(
                "UPDATE tokenward_api_keys SET last_used_at = %s WHERE id = %s"
                " AND (last_used_at IS NULL OR last_used_at <= %s)",
                (now, key_id, now - min_interval),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def claim_api_key_check(
        self, probe: str, probe_hash: str, *, now: float
    ) -> tuple[str, str]:
        async def work(conn: _Conn) -> tuple[str, str]:
            await conn.execute(
                "INSERT INTO tokenward_api_key_check (id, probe, probe_hash, created_at)"
                " VALUES (1, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (probe, probe_hash, now),
            )
            cur = await conn.execute(
                "SELECT probe, probe_hash FROM tokenward_api_key_check WHERE id = 1"
            )
            row = await cur.fetchone()
            if row is None:  # inserted or found above, in this transaction
                raise StoreError("the API-key check value could not be read")
            return str(row[0]), str(row[1])

        return await self._transaction(work)

    async def replace_api_key_check(
        self, old_probe_hash: str, probe: str, probe_hash: str, *, now: float
    ) -> bool:
        async def work(conn: _Conn) -> bool:
            cur = await conn.execute(
                "UPDATE tokenward_api_key_check SET probe = %s, probe_hash = %s, created_at = %s"
                " WHERE id = 1 AND probe_hash = %s",
                (probe, probe_hash, now, old_probe_hash),
            )
            return cur.rowcount == 1

        return await self._transaction(work)

    # --- counters -----------------------------------------------------------------------------

    async def hit(self, key: str, *, window: float, now: float, amount: int = 1) -> Counter:
        _check_hit(window, amount)

        async def work(conn: _Conn) -> Counter:
            cur = await conn.execute(
                "INSERT INTO tokenward_counters AS c (key, count, reset_at)"
                " VALUES (%(key)s, %(amount)s, %(reset)s)"
                " ON CONFLICT (key) DO UPDATE SET"
                " count = CASE WHEN c.reset_at <= %(now)s THEN EXCLUDED.count"
                " ELSE c.count + EXCLUDED.count END,"
                " reset_at = CASE WHEN c.reset_at <= %(now)s THEN EXCLUDED.reset_at"
                " ELSE c.reset_at END"
                " RETURNING c.count, c.reset_at",
                {"key": key, "amount": amount, "reset": now + window, "now": now},
            )
            row = await cur.fetchone()
            if row is None:  # an upsert always returns its row
                raise StoreError("the counter upsert returned nothing")
            return Counter(count=int(row[0]), reset_at=float(row[1]))

        return await self._run(work)

    async def peek(self, key: str, *, now: float) -> Counter | None:
        async def work(conn: _Conn) -> Counter | None:
            cur = await conn.execute(
                "SELECT count, reset_at FROM tokenward_counters WHERE key = %s AND reset_at > %s",
                (key, now),
            )
            row = await cur.fetchone()
            return None if row is None else Counter(count=int(row[0]), reset_at=float(row[1]))

        return await self._run(work)

    async def reserve(self, key: str, *, limit: int, window: float, now: float) -> Reservation:
        _check_reserve(limit, window)

        async def work(conn: _Conn) -> Reservation:
            # One upsert decides and counts under the row's lock; its WHERE refuses a full
            # window without writing (the row stays locked, so the read after it is current).
            cur = await conn.execute(
                "INSERT INTO tokenward_counters AS c (key, count, reset_at)"
                " VALUES (%(key)s, 1, %(reset)s)"
                " ON CONFLICT (key) DO UPDATE SET"
                " count = CASE WHEN c.reset_at <= %(now)s THEN 1 ELSE c.count + 1 END,"
                " reset_at = CASE WHEN c.reset_at <= %(now)s THEN EXCLUDED.reset_at"
                " ELSE c.reset_at END"
                " WHERE c.reset_at <= %(now)s OR c.count < %(limit)s"
                " RETURNING c.count, c.reset_at",
                {"key": key, "reset": now + window, "now": now, "limit": limit},
            )
            row = await cur.fetchone()
            if row is not None:
                return Reservation(True, int(row[0]), float(row[1]))
            cur = await conn.execute(
                "SELECT count, reset_at FROM tokenward_counters WHERE key = %s", (key,)
            )
            row = await cur.fetchone()
            if row is None:  # the refusing upsert locked the row: it cannot have gone
                raise StoreError("the counter refused a reservation but has no row")
            return Reservation(False, int(row[0]), float(row[1]))

        return await self._transaction(work)

    async def release(self, key: str, *, reset_at: float) -> bool:
        async def work(conn: _Conn) -> bool:
            cur = await conn.execute(
                "UPDATE tokenward_counters SET count = count - 1"
                " WHERE key = %s AND reset_at = %s AND count > 0",
                (key, reset_at),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def clear(self, key: str) -> None:
        async def work(conn: _Conn) -> None:
            await conn.execute("DELETE FROM tokenward_counters WHERE key = %s", (key,))

        await self._run(work)

    async def purge_counters(self, *, before: float) -> int:
        async def work(conn: _Conn) -> int:
            cur = await conn.execute(
                "DELETE FROM tokenward_counters WHERE reset_at <= %s", (before,)
            )
            return cur.rowcount

        return await self._run(work)

    # --- access: role assignments and the resource hierarchy ---------------------------------

    async def assign_role(self, user_id: str, role: str, resource: Resource) -> bool:
        rtype, rid = _check_grant(user_id, role, resource)

        async def work(conn: _Conn) -> bool:
            cur = await conn.execute(
                "INSERT INTO tokenward_role_assignments (user_id, resource_type, resource_id,"
                " role) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (user_id, rtype, rid, role),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def revoke_role(self, user_id: str, role: str, resource: Resource) -> bool:
        rtype, rid = _check_grant(user_id, role, resource)

        async def work(conn: _Conn) -> bool:
            cur = await conn.execute(
                "DELETE FROM tokenward_role_assignments WHERE user_id = %s"
                " AND resource_type = %s AND resource_id = %s AND role = %s",
                (user_id, rtype, rid, role),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def set_parent(self, resource: Resource, parent: Resource | None) -> None:
        _check_parent(resource, parent)

        async def work(conn: _Conn) -> None:
            # One hierarchy change at a time: two concurrent moves (a under b, b under a) could
            # otherwise each pass the cycle check and together make a cycle.
            await conn.execute(f"SELECT pg_advisory_xact_lock({_HIERARCHY_LOCK})")
            if parent is not None:
                cur = await conn.execute(
                    "SELECT 1 FROM tokenward_resource_closure WHERE descendant_type = %s"
                    " AND descendant_id = %s AND ancestor_type = %s AND ancestor_id = %s",
                    (*parent, *resource),
                )
                if await cur.fetchone() is not None:
                    raise _cycle(resource, parent)
            # Cut the subtree (the resource and its descendants) from the resource's ancestors.
            await conn.execute(
                "DELETE FROM tokenward_resource_closure"
                " WHERE (descendant_type, descendant_id) IN"
                " (SELECT descendant_type, descendant_id FROM tokenward_resource_closure"
                "  WHERE ancestor_type = %(t)s AND ancestor_id = %(i)s"
                "  UNION SELECT %(t)s::text, %(i)s::text)"
                " AND (ancestor_type, ancestor_id) IN"
                " (SELECT ancestor_type, ancestor_id FROM tokenward_resource_closure"
                "  WHERE descendant_type = %(t)s AND descendant_id = %(i)s)",
                {"t": resource[0], "i": resource[1]},
            )
            if parent is None:
                return
            # Link every node of the subtree to the parent and each of its ancestors.
            await conn.execute(
                "INSERT INTO tokenward_resource_closure"
                " (descendant_type, descendant_id, ancestor_type, ancestor_id, depth)"
                " SELECT s.dt, s.di, a.at, a.ai, a.d + s.d + 1 FROM"
                " (SELECT %(pt)s::text AS at, %(pi)s::text AS ai, 0 AS d UNION ALL"
                "  SELECT ancestor_type, ancestor_id, depth FROM tokenward_resource_closure"
                "  WHERE descendant_type = %(pt)s AND descendant_id = %(pi)s) AS a,"
                " (SELECT %(t)s::text AS dt, %(i)s::text AS di, 0 AS d UNION ALL"
                "  SELECT descendant_type, descendant_id, depth FROM tokenward_resource_closure"
                "  WHERE ancestor_type = %(t)s AND ancestor_id = %(i)s) AS s",
                {"t": resource[0], "i": resource[1], "pt": parent[0], "pi": parent[1]},
            )

        await self._transaction(work)

    async def resource_chains(
        self, user_id: str, resources: Sequence[Resource]
    ) -> dict[Resource, ResourceChain]:
        wanted = _check_resources(resources)
        if not wanted:
            return {}

        async def work(conn: _Conn) -> dict[Resource, ResourceChain]:
            cur = await conn.execute(
                "WITH targets AS (SELECT * FROM unnest(%(types)s::text[], %(ids)s::text[])"
                "  AS x(t, i)),"
                " chain AS ("
                "  SELECT t, i, t AS at, i AS ai, 0 AS depth FROM targets UNION ALL"
                "  SELECT targets.t, targets.i, c.ancestor_type, c.ancestor_id, c.depth"
                "  FROM targets JOIN tokenward_resource_closure c"
                "  ON c.descendant_type = targets.t AND c.descendant_id = targets.i)"
                " SELECT chain.t, chain.i, chain.at, chain.ai, chain.depth, a.role FROM chain"
                " LEFT JOIN tokenward_role_assignments a ON a.user_id = %(user)s"
                " AND a.resource_type = chain.at AND a.resource_id = chain.ai",
                {"types": [r[0] for r in wanted], "ids": [r[1] for r in wanted], "user": user_id},
            )
            return _chains_from_rows(wanted, await cur.fetchall())

        return await self._run(work)

    async def role_assignments(self, user_id: str) -> list[RoleAssignment]:
        async def work(conn: _Conn) -> list[RoleAssignment]:
            cur = await conn.execute(
                "SELECT role, resource_type, resource_id FROM tokenward_role_assignments"
                " WHERE user_id = %s ORDER BY resource_type, resource_id, role",
                (user_id,),
            )
            return [RoleAssignment(user_id, r[0], (r[1], r[2])) for r in await cur.fetchall()]

        return await self._run(work)

    # --- users and their single-use tokens ---------------------------------------------------

    async def create_user(self, user: UserRecord) -> UserRecord:
        checked = _check_new_user(user)

        async def work(conn: _Conn) -> UserRecord:
            try:
                await conn.execute(
                    f"INSERT INTO tokenward_users ({_USER_COLUMNS})"  # noqa: S608
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        checked.id,
                        checked.email,
                        checked.password_hash,
                        checked.created_at,
                        checked.updated_at,
                        checked.email_verified,
                        checked.disabled,
                        list(checked.groups),
                        list(checked.roles),
                        checked.last_sign_in_at,
                        Jsonb(checked.attributes),
                    ),
                )
            except pg_errors.UniqueViolation as exc:
                raise DuplicateUserError("a user with this email or id exists") from exc
            return checked

        return await self._run(work)

    async def _one_user(self, column: str, value: str) -> UserRecord | None:
        if not _lookup_ok(value):
            return None

        async def work(conn: _Conn) -> UserRecord | None:
            cur = await conn.execute(
                f"SELECT {_USER_COLUMNS} FROM tokenward_users WHERE {column} = %s",  # noqa: S608
                (value,),
            )
            row = await cur.fetchone()
            return None if row is None else _user(row)

        return await self._run(work)

    async def get_user(self, user_id: str) -> UserRecord | None:
        return await self._one_user("id", user_id)

    async def get_user_by_email(self, email: str) -> UserRecord | None:
        return await self._one_user("email", email)

    async def list_users(self, *, limit: int = 100, after: str | None = None) -> list[UserRecord]:
        _check_page(limit, after)

        async def work(conn: _Conn) -> list[UserRecord]:
            cur = await conn.execute(
                f"SELECT {_USER_COLUMNS} FROM tokenward_users"  # noqa: S608
                " WHERE (%s::text IS NULL OR id > %s) ORDER BY id LIMIT %s",
                (after, after, limit),
            )
            return [_user(row) for row in await cur.fetchall()]

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
        sets = ["updated_at = %s"]
        params: list[Any] = [now]
        if not isinstance(password_hash, _Unset):
            sets.append("password_hash = %s")
            params.append(password_hash)
        for column, value in (
            ("email_verified", email_verified),
            ("disabled", disabled),
            ("user_groups", None if new_groups is None else list(new_groups)),
            ("user_roles", None if new_roles is None else list(new_roles)),
            ("attributes", None if new_attributes is None else Jsonb(new_attributes)),
        ):
            if value is not None:
                sets.append(f"{column} = %s")
                params.append(value)
        sql = (
            f"UPDATE tokenward_users SET {', '.join(sets)} WHERE id = %s"  # noqa: S608
            f" RETURNING {_USER_COLUMNS}"
        )

        async def work(conn: _Conn) -> UserRecord | None:
            cur = await conn.execute(sql, (*params, user_id))
            row = await cur.fetchone()
            return None if row is None else _user(row)

        return await self._run(work)

    async def record_sign_in(self, user_id: str, *, now: float) -> bool:
        if not _lookup_ok(user_id):
            return False

        async def work(conn: _Conn) -> bool:
            cur = await conn.execute(
                "UPDATE tokenward_users SET last_sign_in_at = %s WHERE id = %s", (now, user_id)
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def add_user_token(
        self, token_hash: str, *, user_id: str, purpose: str, expires_at: float, now: float
    ) -> None:
        _check_user_token(token_hash, user_id, purpose)

        async def work(conn: _Conn) -> None:
            try:
                await conn.execute(
                    "INSERT INTO tokenward_user_tokens"
                    " (token_hash, user_id, purpose, created_at, expires_at)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (token_hash, user_id, purpose, now, expires_at),
                )
            except pg_errors.UniqueViolation as exc:
                raise DuplicateKeyError("a user token with this hash exists") from exc

        await self._run(work)

    async def consume_user_token(self, token_hash: str, *, purpose: str, now: float) -> str | None:
        if not _lookup_ok(token_hash, purpose):
            return None

        async def work(conn: _Conn) -> str | None:
            # one statement: a concurrent DELETE of the row waits for this one's row lock, then
            # finds the row gone, so exactly one consumer gets the user id
            cur = await conn.execute(
                "DELETE FROM tokenward_user_tokens"
                " WHERE token_hash = %s AND purpose = %s AND expires_at > %s RETURNING user_id",
                (token_hash, purpose, now),
            )
            row = await cur.fetchone()
            return None if row is None else str(row[0])

        return await self._run(work)

    async def delete_user_tokens(self, user_id: str, *, purpose: str | None = None) -> int:
        if not _lookup_ok(user_id, purpose):
            return 0

        async def work(conn: _Conn) -> int:
            cur = await conn.execute(
                "DELETE FROM tokenward_user_tokens"
                " WHERE user_id = %s AND (%s::text IS NULL OR purpose = %s)",
                (user_id, purpose, purpose),
            )
            return cur.rowcount

        return await self._run(work)

    async def purge_user_tokens(self, *, before: float) -> int:
        async def work(conn: _Conn) -> int:
            cur = await conn.execute(
                "DELETE FROM tokenward_user_tokens WHERE expires_at <= %s", (before,)
            )
            return cur.rowcount

        return await self._run(work)

    # --- second factors -----------------------------------------------------------------------

    async def begin_totp(
        self, user_id: str, secret: str, code_hashes: Sequence[str], *, now: float
    ) -> bool:
        _check_totp(user_id, secret, code_hashes)

        async def work(conn: _Conn) -> bool:
            # the upsert takes the row's lock (or the new row's), so two enrolments of one user
            # run one after the other; a confirmed factor is left alone
            cur = await conn.execute(
                "INSERT INTO tokenward_mfa_totp (user_id, secret, created_at)"
                " VALUES (%s, %s, %s)"
                " ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret,"
                " created_at = excluded.created_at, confirmed_at = NULL, last_step = NULL"
                " WHERE tokenward_mfa_totp.confirmed_at IS NULL",
                (user_id, secret, now),
            )
            if cur.rowcount != 1:
                return False
            await conn.execute(
                "DELETE FROM tokenward_mfa_recovery_codes WHERE user_id = %s", (user_id,)
            )
            if code_hashes:
                await conn.execute(
                    "INSERT INTO tokenward_mfa_recovery_codes (user_id, code_hash)"
                    " SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING",
                    (user_id, list(code_hashes)),
                )
            return True

        return await self._transaction(work)

    async def get_totp(self, user_id: str) -> TotpRecord | None:
        if not _lookup_ok(user_id):
            return None

        async def work(conn: _Conn) -> TotpRecord | None:
            cur = await conn.execute(
                "SELECT user_id, secret, created_at, confirmed_at, last_step"
                " FROM tokenward_mfa_totp WHERE user_id = %s",
                (user_id,),
            )
            row = await cur.fetchone()
            return None if row is None else TotpRecord(*row)

        return await self._run(work)

    async def confirm_totp(self, user_id: str, *, now: float) -> bool:
        if not _lookup_ok(user_id):
            return False

        async def work(conn: _Conn) -> bool:
            cur = await conn.execute(
                "UPDATE tokenward_mfa_totp SET confirmed_at = %s"
                " WHERE user_id = %s AND confirmed_at IS NULL",
                (now, user_id),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def delete_totp(self, user_id: str) -> bool:
        if not _lookup_ok(user_id):
            return False

        async def work(conn: _Conn) -> bool:
            await conn.execute(
                "DELETE FROM tokenward_mfa_recovery_codes WHERE user_id = %s", (user_id,)
            )
            cur = await conn.execute(
                "DELETE FROM tokenward_mfa_totp WHERE user_id = %s", (user_id,)
            )
            return cur.rowcount == 1

        return await self._transaction(work)

    async def accept_totp_step(self, user_id: str, step: int) -> bool:
        if not _lookup_ok(user_id):
            return False

        async def work(conn: _Conn) -> bool:
            # one conditional UPDATE: a concurrent one on the row waits for this one's lock, then
            # re-checks the condition against the committed step, so one of them wins
            cur = await conn.execute(
                "UPDATE tokenward_mfa_totp SET last_step = %s"
                " WHERE user_id = %s AND (last_step IS NULL OR last_step < %s)",
                (step, user_id, step),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def recovery_code_hashes(self, user_id: str) -> list[str]:
        if not _lookup_ok(user_id):
            return []

        async def work(conn: _Conn) -> list[str]:
            cur = await conn.execute(
                "SELECT code_hash FROM tokenward_mfa_recovery_codes WHERE user_id = %s",
                (user_id,),
            )
            return [str(row[0]) for row in await cur.fetchall()]

        return await self._run(work)

    async def use_recovery_code(self, user_id: str, code_hash: str) -> bool:
        if not _lookup_ok(user_id, code_hash):
            return False

        async def work(conn: _Conn) -> bool:
            cur = await conn.execute(
                "DELETE FROM tokenward_mfa_recovery_codes WHERE user_id = %s AND code_hash = %s",
                (user_id, code_hash),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def add_pending_sign_in(self, token_hash: str, pending: PendingSignIn) -> None:
        _check_pending(token_hash, pending)

        async def work(conn: _Conn) -> None:
            try:
                await conn.execute(
                    "INSERT INTO tokenward_mfa_pending (token_hash, user_id, client_address,"
                    " user_agent, scope, expires_at) VALUES (%s, %s, %s, %s, %s, %s)",
                    (
                        token_hash,
                        pending.user_id,
                        pending.client_address,
                        pending.user_agent,
                        pending.scope,
                        pending.expires_at,
                    ),
                )
            except pg_errors.UniqueViolation as exc:
                raise DuplicateKeyError("a pending sign-in with this hash exists") from exc

        await self._run(work)

    async def get_pending_sign_in(self, token_hash: str, *, now: float) -> PendingSignIn | None:
        if not _lookup_ok(token_hash):
            return None

        async def work(conn: _Conn) -> PendingSignIn | None:
            cur = await conn.execute(
                "SELECT user_id, expires_at, client_address, user_agent, scope"
                " FROM tokenward_mfa_pending WHERE token_hash = %s AND expires_at > %s",
                (token_hash, now),
            )
            row = await cur.fetchone()
            return None if row is None else PendingSignIn(*row)

        return await self._run(work)

    async def consume_pending_sign_in(self, token_hash: str, *, now: float) -> PendingSignIn | None:
        if not _lookup_ok(token_hash):
            return None

        async def work(conn: _Conn) -> PendingSignIn | None:
            # one statement: a concurrent DELETE waits for this one's row lock, then finds the
            # row gone, so exactly one consumer gets it
            cur = await conn.execute(
                "DELETE FROM tokenward_mfa_pending WHERE token_hash = %s AND expires_at > %s"
                " RETURNING user_id, expires_at, client_address, user_agent, scope",
                (token_hash, now),
            )
            row = await cur.fetchone()
            return None if row is None else PendingSignIn(*row)

        return await self._run(work)

    async def delete_pending_sign_ins(self, user_id: str) -> int:
        if not _lookup_ok(user_id):
            return 0

        async def work(conn: _Conn) -> int:
            cur = await conn.execute(
                "DELETE FROM tokenward_mfa_pending WHERE user_id = %s", (user_id,)
            )
            return cur.rowcount

        return await self._run(work)

    async def purge_pending_sign_ins(self, *, before: float) -> int:
        async def work(conn: _Conn) -> int:
            cur = await conn.execute(
                "DELETE FROM tokenward_mfa_pending WHERE expires_at <= %s", (before,)
            )
            return cur.rowcount

        return await self._run(work)

    # --- passkeys and their ceremony challenges ----------------------------------------------

    async def add_passkey(self, record: PasskeyRecord) -> None:
        checked = _check_new_passkey(record)

        async def work(conn: _Conn) -> None:
            try:
                await conn.execute(
                    f"INSERT INTO tokenward_passkeys ({_PASSKEY_COLUMNS})"  # noqa: S608
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        checked.id,
                        checked.user_id,
                        checked.public_key,
                        checked.sign_count,
                        checked.name,
                        checked.created_at,
                        list(checked.transports),
                        checked.last_used_at,
                        checked.aaguid,
                        checked.backup_eligible,
                        checked.backed_up,
                    ),
                )
            except pg_errors.UniqueViolation as exc:
                raise DuplicateKeyError("a passkey with this credential id exists") from exc

        await self._run(work)

    async def get_passkey(self, credential_id: str) -> PasskeyRecord | None:
        if not _lookup_ok(credential_id):
            return None

        async def work(conn: _Conn) -> PasskeyRecord | None:
            cur = await conn.execute(
                f"SELECT {_PASSKEY_COLUMNS} FROM tokenward_passkeys WHERE id = %s",  # noqa: S608
                (credential_id,),
            )
            row = await cur.fetchone()
            return None if row is None else _passkey(row)

        return await self._run(work)

    async def list_passkeys(self, user_id: str) -> list[PasskeyRecord]:
        if not _lookup_ok(user_id):
            return []

        async def work(conn: _Conn) -> list[PasskeyRecord]:
            cur = await conn.execute(
                f"SELECT {_PASSKEY_COLUMNS} FROM tokenward_passkeys"  # noqa: S608
                ' WHERE user_id = %s ORDER BY created_at, id COLLATE "C"',
                (user_id,),
            )
            return [_passkey(row) for row in await cur.fetchall()]

        return await self._run(work)

    async def rename_passkey(self, credential_id: str, *, user_id: str, name: str) -> bool:
        _check_passkey_name(name)
        if not _lookup_ok(credential_id, user_id):
            return False

        async def work(conn: _Conn) -> bool:
            cur = await conn.execute(
                "UPDATE tokenward_passkeys SET name = %s WHERE id = %s AND user_id = %s",
                (name, credential_id, user_id),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def revoke_passkey(self, credential_id: str, *, user_id: str) -> bool:
        if not _lookup_ok(credential_id, user_id):
            return False

        async def work(conn: _Conn) -> bool:
            cur = await conn.execute(
                "DELETE FROM tokenward_passkeys WHERE id = %s AND user_id = %s",
                (credential_id, user_id),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def delete_passkeys(self, user_id: str) -> int:
        if not _lookup_ok(user_id):
            return 0

        async def work(conn: _Conn) -> int:
            cur = await conn.execute(
                "DELETE FROM tokenward_passkeys WHERE user_id = %s", (user_id,)
            )
            return cur.rowcount

        return await self._run(work)

    async def use_passkey(
        self, credential_id: str, *, sign_count: int, now: float, backed_up: bool
    ) -> bool:
        _check_sign_count(sign_count)
        if not _lookup_ok(credential_id):
            return False

        async def work(conn: _Conn) -> bool:
            # one conditional UPDATE: a concurrent one on the row waits for this one's lock,
            # then re-checks the condition against the counter it left
            cur = await conn.execute(
                "UPDATE tokenward_passkeys SET sign_count = %s, last_used_at = %s,"
                " backed_up = %s WHERE id = %s"
                " AND (%s > sign_count OR (%s = 0 AND sign_count = 0))",
                (sign_count, now, backed_up, credential_id, sign_count, sign_count),
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

        async def work(conn: _Conn) -> None:
            try:
                await conn.execute(
                    "INSERT INTO tokenward_passkey_challenges"
                    " (challenge_hash, purpose, user_id, created_at, expires_at)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (challenge_hash, purpose, user_id, now, expires_at),
                )
            except pg_errors.UniqueViolation as exc:
                raise DuplicateKeyError("a ceremony challenge with this hash exists") from exc

        await self._run(work)

    async def consume_passkey_challenge(
        self, challenge_hash: str, *, purpose: str, user_id: str | None, now: float
    ) -> bool:
        if not _lookup_ok(challenge_hash, purpose, user_id):
            return False

        async def work(conn: _Conn) -> bool:
            # one statement: a concurrent DELETE of the row waits for this one's row lock, then
            # finds the row gone, so exactly one consumer gets it
            cur = await conn.execute(
                "DELETE FROM tokenward_passkey_challenges WHERE challenge_hash = %s"
                " AND purpose = %s AND user_id IS NOT DISTINCT FROM %s::text"
                " AND expires_at > %s RETURNING 1",
                (challenge_hash, purpose, user_id, now),
            )
            return await cur.fetchone() is not None

        return await self._run(work)

    async def purge_passkey_challenges(self, *, before: float) -> int:
        async def work(conn: _Conn) -> int:
            cur = await conn.execute(
                "DELETE FROM tokenward_passkey_challenges WHERE expires_at <= %s", (before,)
            )
            return cur.rowcount

        return await self._run(work)

    # --- linked external identities and sign-in states ----------------------------------------

    async def link_identity(self, link: LinkedIdentity) -> bool:
        _check_link(link)

        async def work(conn: _Conn) -> bool:
            # both unique constraints in one statement: a link taken either way writes nothing
            cur = await conn.execute(
                "INSERT INTO tokenward_linked_identities"
                " (provider, subject, user_id, email, created_at, last_used_at)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
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

        async def work(conn: _Conn) -> LinkedIdentity | None:
            cur = await conn.execute(
                f"SELECT {_LINK_COLUMNS} FROM tokenward_linked_identities"  # noqa: S608
                " WHERE provider = %s AND subject = %s",
                (provider, subject),
            )
            row = await cur.fetchone()
            return None if row is None else LinkedIdentity(*row)

        return await self._run(work)

    async def linked_identities(self, user_id: str) -> list[LinkedIdentity]:
        if not _lookup_ok(user_id):
            return []

        async def work(conn: _Conn) -> list[LinkedIdentity]:
            cur = await conn.execute(
                f"SELECT {_LINK_COLUMNS} FROM tokenward_linked_identities"  # noqa: S608
                ' WHERE user_id = %s ORDER BY provider COLLATE "C"',
                (user_id,),
            )
            return [LinkedIdentity(*row) for row in await cur.fetchall()]

        return await self._run(work)

    async def touch_linked_identity(self, provider: str, subject: str, *, now: float) -> bool:
        if not _lookup_ok(provider, subject):
            return False

        async def work(conn: _Conn) -> bool:
            cur = await conn.execute(
                "UPDATE tokenward_linked_identities SET last_used_at = %s"
                " WHERE provider = %s AND subject = %s",
                (now, provider, subject),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def unlink_identity(self, provider: str, user_id: str) -> bool:
        if not _lookup_ok(provider, user_id):
            return False

        async def work(conn: _Conn) -> bool:
            cur = await conn.execute(
                "DELETE FROM tokenward_linked_identities WHERE provider = %s AND user_id = %s",
                (provider, user_id),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def add_oauth_state(self, state_hash: str, state: OAuthState) -> None:
        _check_state(state_hash, state)

        async def work(conn: _Conn) -> None:
            try:
                await conn.execute(
                    f"INSERT INTO tokenward_oauth_states (state_hash, {_STATE_COLUMNS})"  # noqa: S608
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
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
            except pg_errors.UniqueViolation as exc:
                raise DuplicateKeyError("a sign-in state with this hash exists") from exc

        await self._run(work)

    async def consume_oauth_state(self, state_hash: str, *, now: float) -> OAuthState | None:
        if not _lookup_ok(state_hash):
            return None

        async def work(conn: _Conn) -> OAuthState | None:
            # one statement: a concurrent DELETE of the row waits for this one's row lock, then
            # finds the row gone, so exactly one consumer gets the state
            cur = await conn.execute(
                "DELETE FROM tokenward_oauth_states"  # noqa: S608
                f" WHERE state_hash = %s AND expires_at > %s RETURNING {_STATE_COLUMNS}",
                (state_hash, now),
            )
            row = await cur.fetchone()
            return None if row is None else OAuthState(*row)

        return await self._run(work)

    async def purge_oauth_states(self, *, before: float) -> int:
        async def work(conn: _Conn) -> int:
            cur = await conn.execute(
                "DELETE FROM tokenward_oauth_states WHERE expires_at <= %s", (before,)
            )
            return cur.rowcount

        return await self._run(work)
