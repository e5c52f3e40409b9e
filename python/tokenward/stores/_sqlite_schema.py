"""The SQLite schema, version by version, and the migration that brings a file up to date.

Each version is a list of statements applied in order, in the same transaction that records the
version in ``tokenward_schema_version`` (one row per applied version). A fresh file runs them all.

* 1: refresh tokens (``tokenward_refresh_sessions``).
* 2: sessions (``tokenward_sessions``, one row per refresh-token family, filled from the existing
  families), API keys (``tokenward_api_keys``) and rate-limit counters (``tokenward_counters``).
* 3: an API key's own groups (``key_groups``; keys made before hold none) and the check value of
  the API-key hashing key (``tokenward_api_key_check``, one row, written once).
* 4: role assignments on resources (``tokenward_role_assignments``) and the resource hierarchy
  as a closure table (``tokenward_resource_closure``: one row per ancestor of each resource,
  with its distance; no row for a resource and itself).
* 5: accounts (``tokenward_users``, unique by normalised email; groups, roles and attributes
  as JSON text) and their single-use verification and reset tokens (``tokenward_user_tokens``,
  by hash).
* 6: second factors: each user's TOTP factor (``tokenward_mfa_totp``: the secret encrypted,
  pending or confirmed, the last accepted time step), recovery codes
  (``tokenward_mfa_recovery_codes``, hashes only) and the password sign-ins waiting for a second
  factor (``tokenward_mfa_pending``, by the hash of their ``mfa_token``).
* 7: passkeys (``tokenward_passkeys``: WebAuthn credentials by credential id, several per user)
  and the single-use challenges of their ceremonies (``tokenward_passkey_challenges``, by hash).
  (6 is the second factors'.)
* 8: external sign-in: accounts at external providers linked to users
  (``tokenward_linked_identities``, unique by (provider, subject) and by (provider, user id))
  and the sign-ins with a provider under way (``tokenward_oauth_states``, by the hash of their
  ``state``). (6 and 7 are the second factors' and the passkeys'.)

A version is applied when it is not recorded yet, whatever the highest recorded one is, so a
file migrated before an intermediate version existed still gets it.
"""

from __future__ import annotations

import sqlite3

from tokenward.exceptions import ConfigurationError

SCHEMA_VERSION = 8

_V1 = (
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

_V2 = (
    """CREATE TABLE tokenward_sessions (
        id             TEXT PRIMARY KEY,
        subject        TEXT NOT NULL,
        started_at     REAL NOT NULL,
        last_used_at   REAL NOT NULL,
        client_address TEXT,
        user_agent     TEXT,
        revoked_at     REAL,
        expires_at     REAL
    )""",
    "CREATE INDEX tokenward_sessions_subject ON tokenward_sessions (subject, started_at)",
    # Families written before version 2 become sessions, so users see (and can end) them.
    """INSERT INTO tokenward_sessions (id, subject, started_at, last_used_at, revoked_at,
                                       expires_at)
       SELECT family_id, MIN(subject), MIN(issued_at), MAX(issued_at), MAX(revoked_at),
              MAX(expires_at)
       FROM tokenward_refresh_sessions GROUP BY family_id""",
    """CREATE TABLE tokenward_api_keys (
        id            TEXT PRIMARY KEY,
        prefix        TEXT NOT NULL UNIQUE,
        key_hash      TEXT NOT NULL,
        name          TEXT NOT NULL,
        owner_subject TEXT NOT NULL,
        owner_email   TEXT,
        owner_groups  TEXT NOT NULL,
        scopes        TEXT NOT NULL,
        created_at    REAL NOT NULL,
        expires_at    REAL,
        last_used_at  REAL,
        revoked_at    REAL
    )""",
    "CREATE INDEX tokenward_api_keys_owner ON tokenward_api_keys (owner_subject, created_at)",
    """CREATE TABLE tokenward_counters (
        key      TEXT PRIMARY KEY,
        count    INTEGER NOT NULL,
        reset_at REAL NOT NULL
    )""",
    "CREATE INDEX tokenward_counters_reset ON tokenward_counters (reset_at)",
)

# Keys made before version 3 carried their owner's groups; from now on a key holds only the
# groups named when it is made, so the existing ones migrate to none.
_V3 = (
    "ALTER TABLE tokenward_api_keys ADD COLUMN key_groups TEXT NOT NULL DEFAULT '[]'",
    """CREATE TABLE tokenward_api_key_check (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        probe      TEXT NOT NULL,
        probe_hash TEXT NOT NULL,
        created_at REAL NOT NULL
    )""",
)


_V4 = (
    """CREATE TABLE tokenward_role_assignments (
        user_id       TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        resource_id   TEXT NOT NULL,
        role          TEXT NOT NULL,
        PRIMARY KEY (user_id, resource_type, resource_id, role)
    ) WITHOUT ROWID""",
    """CREATE TABLE tokenward_resource_closure (
        descendant_type TEXT NOT NULL,
        descendant_id   TEXT NOT NULL,
        ancestor_type   TEXT NOT NULL,
        ancestor_id     TEXT NOT NULL,
        depth           INTEGER NOT NULL,
        PRIMARY KEY (descendant_type, descendant_id, ancestor_type, ancestor_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX tokenward_resource_closure_ancestor"
    " ON tokenward_resource_closure (ancestor_type, ancestor_id)",
)

_V5 = (
    """CREATE TABLE tokenward_users (
        id              TEXT PRIMARY KEY,
        email           TEXT NOT NULL UNIQUE,
        password_hash   TEXT,
        created_at      REAL NOT NULL,
        updated_at      REAL NOT NULL,
        email_verified  INTEGER NOT NULL DEFAULT 0,
        disabled        INTEGER NOT NULL DEFAULT 0,
        user_groups     TEXT NOT NULL DEFAULT '[]',
        user_roles      TEXT NOT NULL DEFAULT '[]',
        last_sign_in_at REAL,
        attributes      TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE tokenward_user_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL,
        purpose    TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    )""",
    "CREATE INDEX tokenward_user_tokens_user ON tokenward_user_tokens (user_id, purpose)",
    "CREATE INDEX tokenward_user_tokens_expiry ON tokenward_user_tokens (expires_at)",
)

_V6 = (
    """CREATE TABLE tokenward_mfa_totp (
        user_id      TEXT PRIMARY KEY,
        secret       TEXT NOT NULL,
        created_at   REAL NOT NULL,
        confirmed_at REAL,
        last_step    INTEGER
    )""",
    """CREATE TABLE tokenward_mfa_recovery_codes (
        user_id   TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        PRIMARY KEY (user_id, code_hash)
    ) WITHOUT ROWID""",
    """CREATE TABLE tokenward_mfa_pending (
        token_hash     TEXT PRIMARY KEY,
        user_id        TEXT NOT NULL,
        client_address TEXT,
        user_agent     TEXT,
        scope          TEXT,
        expires_at     REAL NOT NULL
    )""",
    "CREATE INDEX tokenward_mfa_pending_user ON tokenward_mfa_pending (user_id)",
    "CREATE INDEX tokenward_mfa_pending_expiry ON tokenward_mfa_pending (expires_at)",
)

# IF NOT EXISTS: applying it again (a file that recorded it in another order) changes nothing.
_V7 = (
    """CREATE TABLE IF NOT EXISTS tokenward_passkeys (
        id              TEXT PRIMARY KEY,
        user_id         TEXT NOT NULL,
        public_key      BLOB NOT NULL,
        sign_count      INTEGER NOT NULL,
        name            TEXT NOT NULL,
        created_at      REAL NOT NULL,
        transports      TEXT NOT NULL DEFAULT '[]',
        last_used_at    REAL,
        aaguid          TEXT NOT NULL DEFAULT '',
        backup_eligible INTEGER NOT NULL DEFAULT 0,
        backed_up       INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS tokenward_passkeys_user"
    " ON tokenward_passkeys (user_id, created_at)",
    """CREATE TABLE IF NOT EXISTS tokenward_passkey_challenges (
        challenge_hash TEXT PRIMARY KEY,
        purpose        TEXT NOT NULL,
        user_id        TEXT,
        created_at     REAL NOT NULL,
        expires_at     REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS tokenward_passkey_challenges_expiry"
    " ON tokenward_passkey_challenges (expires_at)",
)

_V8 = (
    """CREATE TABLE tokenward_linked_identities (
        provider     TEXT NOT NULL,
        subject      TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        email        TEXT,
        created_at   REAL NOT NULL,
        last_used_at REAL,
        PRIMARY KEY (provider, subject),
        UNIQUE (provider, user_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX tokenward_linked_identities_user ON tokenward_linked_identities (user_id)",
    """CREATE TABLE tokenward_oauth_states (
        state_hash    TEXT PRIMARY KEY,
        provider      TEXT NOT NULL,
        code_verifier TEXT NOT NULL,
        nonce         TEXT NOT NULL,
        binding_hash  TEXT NOT NULL,
        redirect_to   TEXT,
        created_at    REAL NOT NULL,
        expires_at    REAL NOT NULL
    )""",
    "CREATE INDEX tokenward_oauth_states_expiry ON tokenward_oauth_states (expires_at)",
)

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, _V1),
    (2, _V2),
    (3, _V3),
    (4, _V4),
    (5, _V5),
    (6, _V6),
    (7, _V7),
    (8, _V8),
)


def current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MAX(version) FROM tokenward_schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: sqlite3.Connection) -> None:
    """Create or upgrade the schema to :data:`SCHEMA_VERSION` in one ``BEGIN IMMEDIATE``
    transaction (so two processes opening one file at once migrate it once). A newer file is
    refused."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS tokenward_schema_version (version INTEGER NOT NULL)"
        )
        version = current_version(conn)
        if version > SCHEMA_VERSION:
            raise ConfigurationError(
                f"the SQLite store has schema version {version}, newer than this tokenward "
                f"understands ({SCHEMA_VERSION}); upgrade tokenward or use another file"
            )
        applied = {row[0] for row in conn.execute("SELECT version FROM tokenward_schema_version")}
        for number, statements in MIGRATIONS:
            if number not in applied:
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO tokenward_schema_version (version) VALUES (?)", (number,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
