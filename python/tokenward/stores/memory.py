"""The in-memory store (``memory://``): for tests and single-process development.

It implements every protocol the SQL stores do (refresh tokens and sessions, API keys with their
groups and the key check, counters with reservations, the :class:`~tokenward.stores.AccessStore`,
the :class:`~tokenward.stores.UserStore`, the :class:`~tokenward.stores.PasskeyStore`, the
:class:`~tokenward.stores.LinkedIdentityStore`)
on plain dictionaries, and nothing more: refresh rotation and reuse detection are decided above
every store (:mod:`tokenward.rotation`); this store only offers the primitives.

Every method is atomic: its whole read-and-write runs under one lock with no ``await`` inside, so
neither concurrent coroutines nor threads ever see half of a change, and the event loop is never
blocked for longer than a dictionary update.

What it holds lives in the process and nowhere else: a restart forgets every session, API key and
counter, and other processes (uvicorn ``--workers``, another host, the ``tokenward`` command
line) never see it. ``memory://`` gives each store its own empty database; ``memory://NAME``
names one, shared by every store of the process opened with the same name (so a test can open
several stores on one database) and kept until the process ends. Settings refuse it outside a
development ``ENVIRONMENT``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from tokenward.stores.base import (
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
    _lookup_ok,
    _Unset,
    unstorable,
)

__all__ = ["MemoryStore"]

T = TypeVar("T")


@dataclass
class _Database:
    """One in-memory database: what the SQL stores keep in tables. Only touched under
    ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: dict[str, RefreshSession] = field(default_factory=dict)  # by token hash
    identities: dict[str, str] = field(default_factory=dict)  # token hash → identity as JSON
    sessions: dict[str, SessionInfo] = field(default_factory=dict)
    keys: dict[str, ApiKeyRecord] = field(default_factory=dict)  # by id
    prefixes: dict[str, str] = field(default_factory=dict)  # prefix → id
    key_check: tuple[str, str] | None = None
    counters: dict[str, Counter] = field(default_factory=dict)
    roles: set[tuple[str, str, str, str]] = field(default_factory=set)  # user, type, id, role
    # the closure table: resource → {ancestor: depth} (no entry for a resource and itself)
    ancestors: dict[Resource, dict[Resource, int]] = field(default_factory=dict)
    users: dict[str, UserRecord] = field(default_factory=dict)  # by id
    emails: dict[str, str] = field(default_factory=dict)  # email → id
    user_tokens: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    # token hash → (user id, purpose, expires at)
    totp: dict[str, TotpRecord] = field(default_factory=dict)  # by user id
    recovery: dict[str, set[str]] = field(default_factory=dict)  # user id → unused code hashes
    pending: dict[str, PendingSignIn] = field(default_factory=dict)  # by mfa_token hash
    passkeys: dict[str, PasskeyRecord] = field(default_factory=dict)  # by credential id
    passkey_challenges: dict[str, tuple[str, str | None, float]] = field(default_factory=dict)
    # challenge hash → (purpose, user id or None, expires at)
    links: dict[tuple[str, str], LinkedIdentity] = field(default_factory=dict)  # provider, sub
    user_links: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    # (provider, user id) → (provider, subject)
    oauth_states: dict[str, OAuthState] = field(default_factory=dict)  # by state hash


_named_lock = threading.Lock()
_named: dict[str, _Database] = {}


def _database(name: str | None) -> _Database:
    if not name:
        return _Database()
    with _named_lock:
        return _named.setdefault(name, _Database())


def _refuse_unstorable(values: Iterable[str | None]) -> None:
    """What the SQL stores cannot hold is refused here too, so that code tested on this store
    meets the same :class:`UnstorableValueError` it would in production."""
    for value in values:
        if value is not None and unstorable(value):
            raise UnstorableValueError("the memory store: a string with a NUL or a lone surrogate")


class MemoryStore:
    """A :class:`tokenward.stores.Store` (and :class:`~tokenward.stores.AccessStore`) in this
    process's memory. ``name``: stores made with the same non-empty name share one database; an
    empty one (the default) makes a database of its own. See the module's text."""

    def __init__(self, name: str = "") -> None:
        self._name = name
        self._db = _database(name)
        self._open = False

    def __repr__(self) -> str:
        return f"MemoryStore({self._name!r})"

    @property
    def name(self) -> str:
        return self._name

    def _atomic(self, work: Callable[[_Database], T]) -> T:
        """``work`` under the database's lock: it runs whole or (raising) changes nothing that
        it had not changed before it raised; each ``work`` checks before it writes."""
        with self._db.lock:
            return work(self._db)

    # --- Store --------------------------------------------------------------------------------

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False  # the data stays: a store opened again (or of the same name) sees it

    # --- refresh tokens -----------------------------------------------------------------------

    @staticmethod
    def _encode(session: RefreshSession) -> str:
        try:
            return json.dumps(session.identity, separators=(",", ":"), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"the memory store: an identity that is not JSON: {exc}") from exc

    @staticmethod
    def _read(db: _Database, token_hash: str) -> RefreshSession | None:
        """A copy of the stored token (its identity decoded anew, as a SQL store's would be)."""
        found = db.tokens.get(token_hash)
        if found is None:
            return None
        identity = json.loads(db.identities[token_hash])
        return replace(found, identity=identity if isinstance(identity, dict) else {})

    @staticmethod
    def _check_new_token(db: _Database, session: RefreshSession) -> None:
        _refuse_unstorable((session.token_hash, session.family_id, session.subject))
        if session.token_hash in db.tokens:
            raise StoreError("the memory store: a refresh token with this hash exists")

    async def add_refresh_session(self, session: RefreshSession) -> None:
        identity = self._encode(session)  # a bad identity fails before anything is written

        def work(db: _Database) -> None:
            self._check_new_token(db, session)
            db.identities[session.token_hash] = identity
            db.tokens[session.token_hash] = replace(session, identity={})

        self._atomic(work)

    async def get_refresh_session(self, token_hash: str) -> RefreshSession | None:
        return self._atomic(lambda db: self._read(db, token_hash))

    async def spend_refresh_session(
        self,
        token_hash: str,
        *,
        successor_hash: str,
        successor_jti: str,
        now: float,
        expires_at: float,
    ) -> SpendResult:
        def work(db: _Database) -> SpendResult:
            old = self._read(db, token_hash)
            if old is None or not old.is_live(now):
                return SpendResult(old, spent=False)
            successor = RefreshSession(
                token_hash=successor_hash,
                family_id=old.family_id,
                subject=old.subject,
                identity=old.identity,
                issued_at=now,
                expires_at=expires_at,
            )
            self._check_new_token(db, successor)  # every check before the first write
            db.tokens[token_hash] = replace(
                db.tokens[token_hash],
                spent_at=now,
                successor_hash=successor_hash,
                successor_jti=successor_jti,
            )
            db.identities[successor_hash] = db.identities[token_hash]
            db.tokens[successor_hash] = replace(successor, identity={})
            info = db.sessions.get(old.family_id)
            if info is not None:
                db.sessions[old.family_id] = replace(info, last_used_at=now, expires_at=expires_at)
            return SpendResult(old, spent=True)

        return self._atomic(work)

    @staticmethod
    def _revoke_families(db: _Database, ids: Iterable[str], now: float) -> int:
        """Revoke sessions and their tokens (inside an atomic step); returns the tokens."""
        wanted = set(ids)
        for family_id in wanted:
            info = db.sessions.get(family_id)
            if info is not None and info.revoked_at is None:
                db.sessions[family_id] = replace(info, revoked_at=now)
        revoked = 0
        for token_hash, token in db.tokens.items():
            if token.family_id in wanted and token.revoked_at is None:
                db.tokens[token_hash] = replace(token, revoked_at=now)
                revoked += 1
        return revoked

    async def revoke_refresh_family(self, family_id: str, *, now: float) -> int:
        return self._atomic(lambda db: self._revoke_families(db, (family_id,), now))

    async def purge_refresh_sessions(self, *, before: float) -> int:
        def work(db: _Database) -> int:
            gone = [h for h, t in db.tokens.items() if t.expires_at < before]
            for token_hash in gone:
                del db.tokens[token_hash]
                del db.identities[token_hash]
            families = {t.family_id for t in db.tokens.values()}
            for session_id in [s for s in db.sessions if s not in families]:
                del db.sessions[session_id]
            return len(gone)

        return self._atomic(work)

    # --- sessions -----------------------------------------------------------------------------

    @staticmethod
    def _is_live(db: _Database, info: SessionInfo, now: float) -> bool:
        """Not revoked, and one of its tokens usable at ``now`` (as the SQL stores' query)."""
        return info.revoked_at is None and any(
            t.family_id == info.id and t.is_live(now) for t in db.tokens.values()
        )

    @classmethod
    def _live(cls, db: _Database, subject: str, now: float) -> list[SessionInfo]:
        """The subject's live sessions, newest first."""
        found = [s for s in db.sessions.values() if s.subject == subject]
        found.sort(key=lambda s: (s.started_at, s.id), reverse=True)
        return [s for s in found if cls._is_live(db, s, now)]

    async def start_session(
        self, info: SessionInfo, first: RefreshSession, *, max_sessions: int, now: float
    ) -> tuple[str, ...]:
        _check_start_session(info, first, max_sessions)
        identity = self._encode(first)

        def work(db: _Database) -> tuple[str, ...]:
            _refuse_unstorable((info.id, info.subject, info.client_address, info.user_agent))
            if info.id in db.sessions:
                raise StoreError("the memory store: a session with this id exists")
            self._check_new_token(db, first)
            db.sessions[info.id] = replace(info, expires_at=first.expires_at)
            db.identities[first.token_hash] = identity
            db.tokens[first.token_hash] = replace(first, identity={})
            others = [s.id for s in self._live(db, info.subject, now) if s.id != info.id]
            ended = list(reversed(others[max_sessions - 1 :]))
            self._revoke_families(db, ended, now)
            return tuple(ended)

        return self._atomic(work)

    async def get_session(self, session_id: str) -> SessionInfo | None:
        return self._atomic(lambda db: db.sessions.get(session_id))

    async def list_sessions(self, subject: str, *, now: float) -> list[SessionInfo]:
        return self._atomic(lambda db: self._live(db, subject, now))

    async def revoke_session(self, session_id: str, *, subject: str, now: float) -> bool:
        def work(db: _Database) -> bool:
            info = db.sessions.get(session_id)
            if info is None or info.subject != subject or not self._is_live(db, info, now):
                return False
            self._revoke_families(db, (session_id,), now)
            return True

        return self._atomic(work)

    async def revoke_sessions(self, subject: str, *, now: float, keep: str | None = None) -> int:
        def work(db: _Database) -> int:
            ids = [s.id for s in self._live(db, subject, now) if s.id != keep]
            self._revoke_families(db, ids, now)
            return len(ids)

        return self._atomic(work)

    # --- API keys -----------------------------------------------------------------------------

    async def add_api_key(self, record: ApiKeyRecord) -> None:
        def work(db: _Database) -> None:
            _refuse_unstorable(
                (
                    record.id,
                    record.prefix,
                    record.key_hash,
                    record.name,
                    record.owner_subject,
                    record.owner_email,
                    *record.owner_groups,
                    *record.scopes,
                    *record.groups,
                )
            )
            if record.id in db.keys or record.prefix in db.prefixes:
                raise DuplicateKeyError(
                    f"an API key with the prefix {record.prefix!r} or id {record.id!r} exists"
                )
            db.keys[record.id] = record
            db.prefixes[record.prefix] = record.id

        self._atomic(work)

    async def get_api_key(self, prefix: str) -> ApiKeyRecord | None:
        def work(db: _Database) -> ApiKeyRecord | None:
            key_id = db.prefixes.get(prefix)
            return None if key_id is None else db.keys[key_id]

        return self._atomic(work)

    async def get_api_key_by_id(self, key_id: str) -> ApiKeyRecord | None:
        return self._atomic(lambda db: db.keys.get(key_id))

    async def list_api_keys(self, owner_subject: str | None) -> list[ApiKeyRecord]:
        def work(db: _Database) -> list[ApiKeyRecord]:
            found = [
                k
                for k in db.keys.values()
                if owner_subject is None or k.owner_subject == owner_subject
            ]
            found.sort(key=lambda k: (k.created_at, k.id), reverse=True)
            return found

        return self._atomic(work)

    async def revoke_api_key(self, key_id: str, *, owner_subject: str | None, now: float) -> bool:
        def work(db: _Database) -> bool:
            record = db.keys.get(key_id)
            if record is None or record.revoked_at is not None:
                return False
            if owner_subject is not None and record.owner_subject != owner_subject:
                return False
            db.keys[key_id] = replace(record, revoked_at=now)
            return True

        return self._atomic(work)

    async def touch_api_key(self, key_id: str, *, now: float, min_interval: float = 60.0) -> bool:
        def work(db: _Database) -> bool:
            record = db.keys.get(key_id)
            if record is None:
                return False
            if record.last_used_at is not None and record.last_used_at > now - min_interval:
                return False
            db.keys[key_id] = replace(record, last_used_at=now)
            return True

        return self._atomic(work)

    async def claim_api_key_check(
        self, probe: str, probe_hash: str, *, now: float
    ) -> tuple[str, str]:
        def work(db: _Database) -> tuple[str, str]:
            if db.key_check is None:
                _refuse_unstorable((probe, probe_hash))
                db.key_check = (probe, probe_hash)
            return db.key_check

        return self._atomic(work)

    async def replace_api_key_check(
        self, old_probe_hash: str, probe: str, probe_hash: str, *, now: float
    ) -> bool:
        def work(db: _Database) -> bool:
            if db.key_check is None or db.key_check[1] != old_probe_hash:
                return False
            _refuse_unstorable((probe, probe_hash))
            db.key_check = (probe, probe_hash)
            return True

        return self._atomic(work)

    # --- counters -----------------------------------------------------------------------------

    async def hit(self, key: str, *, window: float, now: float, amount: int = 1) -> Counter:
        _check_hit(window, amount)

        def work(db: _Database) -> Counter:
            old = db.counters.get(key)
            if old is None or old.reset_at <= now:
                new = Counter(count=amount, reset_at=now + window)
            else:
                new = Counter(count=old.count + amount, reset_at=old.reset_at)
            db.counters[key] = new
            return new

        return self._atomic(work)

    async def peek(self, key: str, *, now: float) -> Counter | None:
        def work(db: _Database) -> Counter | None:
            found = db.counters.get(key)
            return found if found is not None and found.reset_at > now else None

        return self._atomic(work)

    async def reserve(self, key: str, *, limit: int, window: float, now: float) -> Reservation:
        _check_reserve(limit, window)

        def work(db: _Database) -> Reservation:
            old = db.counters.get(key)
            if old is None or old.reset_at <= now:
                new = Counter(count=1, reset_at=now + window)
            elif old.count < limit:
                new = Counter(count=old.count + 1, reset_at=old.reset_at)
            else:
                return Reservation(False, old.count, old.reset_at)
            db.counters[key] = new
            return Reservation(True, new.count, new.reset_at)

        return self._atomic(work)

    async def release(self, key: str, *, reset_at: float) -> bool:
        def work(db: _Database) -> bool:
            found = db.counters.get(key)
            if found is None or found.reset_at != reset_at or found.count <= 0:
                return False
            db.counters[key] = Counter(count=found.count - 1, reset_at=found.reset_at)
            return True

        return self._atomic(work)

    async def clear(self, key: str) -> None:
        self._atomic(lambda db: db.counters.pop(key, None))

    async def purge_counters(self, *, before: float) -> int:
        def work(db: _Database) -> int:
            gone = [k for k, c in db.counters.items() if c.reset_at <= before]
            for counter_key in gone:
                del db.counters[counter_key]
            return len(gone)

        return self._atomic(work)

    # --- access: role assignments and the resource hierarchy ---------------------------------

    async def assign_role(self, user_id: str, role: str, resource: Resource) -> bool:
        rtype, rid = _check_grant(user_id, role, resource)
        row = (user_id, rtype, rid, role)

        def work(db: _Database) -> bool:
            if row in db.roles:
                return False
            _refuse_unstorable(row)
            db.roles.add(row)
            return True

        return self._atomic(work)

    async def revoke_role(self, user_id: str, role: str, resource: Resource) -> bool:
        rtype, rid = _check_grant(user_id, role, resource)
        row = (user_id, rtype, rid, role)

        def work(db: _Database) -> bool:
            if row not in db.roles:
                return False
            db.roles.discard(row)
            return True

        return self._atomic(work)

    async def set_parent(self, resource: Resource, parent: Resource | None) -> None:
        _check_parent(resource, parent)

        def work(db: _Database) -> None:
            if parent is not None:
                if resource in db.ancestors.get(parent, {}):
                    raise _cycle(resource, parent)
                _refuse_unstorable(parent)
            _refuse_unstorable(resource)
            # the subtree: the resource (at 0) and its descendants, by distance from it
            subtree = {resource: 0}
            for node, above in db.ancestors.items():
                if resource in above:
                    subtree[node] = above[resource]
            # cut the subtree from the resource's ancestors
            cut = set(db.ancestors.get(resource, {}))
            for node in subtree:
                kept = db.ancestors.get(node)
                if kept is not None:
                    for ancestor in cut:
                        kept.pop(ancestor, None)
                    if not kept:
                        del db.ancestors[node]
            if parent is None:
                return
            # link every node of the subtree to the parent and each of its ancestors
            new = {parent: 0, **db.ancestors.get(parent, {})}
            for node, below in subtree.items():
                above = db.ancestors.setdefault(node, {})
                for ancestor, depth in new.items():
                    above[ancestor] = depth + below + 1

        self._atomic(work)

    async def resource_chains(
        self, user_id: str, resources: Sequence[Resource]
    ) -> dict[Resource, ResourceChain]:
        wanted = _check_resources(resources)

        def work(db: _Database) -> dict[Resource, ResourceChain]:
            out: dict[Resource, ResourceChain] = {}
            for resource in wanted:
                above = sorted(db.ancestors.get(resource, {}).items(), key=lambda a: a[1])
                chain = (resource, *(ancestor for ancestor, _ in above))
                out[resource] = ResourceChain(
                    resources=chain,
                    roles=tuple(
                        frozenset(
                            role
                            for user, rtype, rid, role in db.roles
                            if user == user_id and (rtype, rid) == node
                        )
                        for node in chain
                    ),
                )
            return out

        return self._atomic(work)

    async def role_assignments(self, user_id: str) -> list[RoleAssignment]:
        def work(db: _Database) -> list[RoleAssignment]:
            rows = sorted((t, i, role) for user, t, i, role in db.roles if user == user_id)
            return [RoleAssignment(user_id, role, (t, i)) for t, i, role in rows]

        return self._atomic(work)

    # --- users and their single-use tokens ---------------------------------------------------

    @staticmethod
    def _copy(user: UserRecord) -> UserRecord:
        """A record whose attributes the caller may change without changing the stored one."""
        return replace(user, attributes=dict(user.attributes))

    async def create_user(self, user: UserRecord) -> UserRecord:
        checked = _check_new_user(user)

        def work(db: _Database) -> UserRecord:
            if checked.id in db.users or checked.email in db.emails:
                raise DuplicateUserError("a user with this email or id exists")
            db.users[checked.id] = self._copy(checked)
            db.emails[checked.email] = checked.id
            return self._copy(checked)

        return self._atomic(work)

    async def get_user(self, user_id: str) -> UserRecord | None:
        if not _lookup_ok(user_id):
            return None

        def work(db: _Database) -> UserRecord | None:
            found = db.users.get(user_id)
            return None if found is None else self._copy(found)

        return self._atomic(work)

    async def get_user_by_email(self, email: str) -> UserRecord | None:
        if not _lookup_ok(email):
            return None

        def work(db: _Database) -> UserRecord | None:
            user_id = db.emails.get(email)
            return None if user_id is None else self._copy(db.users[user_id])

        return self._atomic(work)

    async def list_users(self, *, limit: int = 100, after: str | None = None) -> list[UserRecord]:
        _check_page(limit, after)

        def work(db: _Database) -> list[UserRecord]:
            ids = sorted(i for i in db.users if after is None or i > after)[:limit]
            return [self._copy(db.users[i]) for i in ids]

        return self._atomic(work)

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

        def work(db: _Database) -> UserRecord | None:
            old = db.users.get(user_id)
            if old is None:
                return None
            new = replace(
                old,
                updated_at=now,
                password_hash=old.password_hash if password_hash is UNSET else password_hash,
                email_verified=old.email_verified if email_verified is None else email_verified,
                disabled=old.disabled if disabled is None else disabled,
                groups=old.groups if new_groups is None else new_groups,
                roles=old.roles if new_roles is None else new_roles,
                attributes=old.attributes if new_attributes is None else new_attributes,
            )
            db.users[user_id] = new
            return self._copy(new)

        return self._atomic(work)

    async def record_sign_in(self, user_id: str, *, now: float) -> bool:
        def work(db: _Database) -> bool:
            old = db.users.get(user_id)
            if old is None:
                return False
            db.users[user_id] = replace(old, last_sign_in_at=now)
            return True

        return self._atomic(work)

    async def add_user_token(
        self, token_hash: str, *, user_id: str, purpose: str, expires_at: float, now: float
    ) -> None:
        _check_user_token(token_hash, user_id, purpose)

        def work(db: _Database) -> None:
            if token_hash in db.user_tokens:
                raise DuplicateKeyError("a user token with this hash exists")
            db.user_tokens[token_hash] = (user_id, purpose, expires_at)

        self._atomic(work)

    async def consume_user_token(self, token_hash: str, *, purpose: str, now: float) -> str | None:
        def work(db: _Database) -> str | None:
            found = db.user_tokens.get(token_hash)
            if found is None or found[1] != purpose or not now < found[2]:
                return None
            del db.user_tokens[token_hash]
            return found[0]

        return self._atomic(work)

    async def delete_user_tokens(self, user_id: str, *, purpose: str | None = None) -> int:
        def work(db: _Database) -> int:
            gone = [
                h
                for h, (owner, kind, _) in db.user_tokens.items()
                if owner == user_id and (purpose is None or kind == purpose)
            ]
            for token_hash in gone:
                del db.user_tokens[token_hash]
            return len(gone)

        return self._atomic(work)

    async def purge_user_tokens(self, *, before: float) -> int:
        def work(db: _Database) -> int:
            gone = [h for h, (_, _, expires) in db.user_tokens.items() if expires <= before]
            for token_hash in gone:
                del db.user_tokens[token_hash]
            return len(gone)

        return self._atomic(work)

    # --- second factors -----------------------------------------------------------------------

    async def begin_totp(
        self, user_id: str, secret: str, code_hashes: Sequence[str], *, now: float
    ) -> bool:
        _check_totp(user_id, secret, code_hashes)

        def work(db: _Database) -> bool:
            old = db.totp.get(user_id)
            if old is not None and old.confirmed:
                return False
            db.totp[user_id] = TotpRecord(user_id=user_id, secret=secret, created_at=now)
            db.recovery[user_id] = set(code_hashes)
            return True

        return self._atomic(work)

    async def get_totp(self, user_id: str) -> TotpRecord | None:
        return self._atomic(lambda db: db.totp.get(user_id))

    async def confirm_totp(self, user_id: str, *, now: float) -> bool:
        def work(db: _Database) -> bool:
            old = db.totp.get(user_id)
            if old is None or old.confirmed:
                return False
            db.totp[user_id] = replace(old, confirmed_at=now)
            return True

        return self._atomic(work)

    async def delete_totp(self, user_id: str) -> bool:
        def work(db: _Database) -> bool:
            db.recovery.pop(user_id, None)
            return db.totp.pop(user_id, None) is not None

        return self._atomic(work)

    async def accept_totp_step(self, user_id: str, step: int) -> bool:
        def work(db: _Database) -> bool:
            old = db.totp.get(user_id)
            if old is None or (old.last_step is not None and step <= old.last_step):
                return False
            db.totp[user_id] = replace(old, last_step=step)
            return True

        return self._atomic(work)

    async def recovery_code_hashes(self, user_id: str) -> list[str]:
        return self._atomic(lambda db: sorted(db.recovery.get(user_id, ())))

    async def use_recovery_code(self, user_id: str, code_hash: str) -> bool:
        def work(db: _Database) -> bool:
            unused = db.recovery.get(user_id)
            if unused is None or code_hash not in unused:
                return False
            unused.remove(code_hash)
            return True

        return self._atomic(work)

    async def add_pending_sign_in(self, token_hash: str, pending: PendingSignIn) -> None:
        _check_pending(token_hash, pending)

        def work(db: _Database) -> None:
            if token_hash in db.pending:
                raise DuplicateKeyError("a pending sign-in with this hash exists")
            db.pending[token_hash] = pending

        self._atomic(work)

    async def get_pending_sign_in(self, token_hash: str, *, now: float) -> PendingSignIn | None:
        def work(db: _Database) -> PendingSignIn | None:
            found = db.pending.get(token_hash)
            return found if found is not None and now < found.expires_at else None

        return self._atomic(work)

    async def consume_pending_sign_in(self, token_hash: str, *, now: float) -> PendingSignIn | None:
        def work(db: _Database) -> PendingSignIn | None:
            found = db.pending.get(token_hash)
            if found is None or not now < found.expires_at:
                return None
            del db.pending[token_hash]
            return found

        return self._atomic(work)

    async def delete_pending_sign_ins(self, user_id: str) -> int:
        def work(db: _Database) -> int:
            gone = [h for h, p in db.pending.items() if p.user_id == user_id]
            for token_hash in gone:
                del db.pending[token_hash]
            return len(gone)

        return self._atomic(work)

    async def purge_pending_sign_ins(self, *, before: float) -> int:
        def work(db: _Database) -> int:
            gone = [h for h, p in db.pending.items() if p.expires_at <= before]
            for token_hash in gone:
                del db.pending[token_hash]
            return len(gone)

        return self._atomic(work)

    # --- passkeys and their ceremony challenges ----------------------------------------------

    async def add_passkey(self, record: PasskeyRecord) -> None:
        checked = _check_new_passkey(record)

        def work(db: _Database) -> None:
            if checked.id in db.passkeys:
                raise DuplicateKeyError("a passkey with this credential id exists")
            db.passkeys[checked.id] = checked

        self._atomic(work)

    async def get_passkey(self, credential_id: str) -> PasskeyRecord | None:
        if not _lookup_ok(credential_id):
            return None
        return self._atomic(lambda db: db.passkeys.get(credential_id))

    async def list_passkeys(self, user_id: str) -> list[PasskeyRecord]:
        def work(db: _Database) -> list[PasskeyRecord]:
            found = [p for p in db.passkeys.values() if p.user_id == user_id]
            return sorted(found, key=lambda p: (p.created_at, p.id))

        return self._atomic(work)

    async def rename_passkey(self, credential_id: str, *, user_id: str, name: str) -> bool:
        _check_passkey_name(name)

        def work(db: _Database) -> bool:
            found = db.passkeys.get(credential_id)
            if found is None or found.user_id != user_id:
                return False
            db.passkeys[credential_id] = replace(found, name=name)
            return True

        return self._atomic(work)

    async def revoke_passkey(self, credential_id: str, *, user_id: str) -> bool:
        def work(db: _Database) -> bool:
            found = db.passkeys.get(credential_id)
            if found is None or found.user_id != user_id:
                return False
            del db.passkeys[credential_id]
            return True

        return self._atomic(work)

    async def delete_passkeys(self, user_id: str) -> int:
        def work(db: _Database) -> int:
            ids = [i for i, p in db.passkeys.items() if p.user_id == user_id]
            for credential_id in ids:
                del db.passkeys[credential_id]
            return len(ids)

        return self._atomic(work)

    async def use_passkey(
        self, credential_id: str, *, sign_count: int, now: float, backed_up: bool
    ) -> bool:
        _check_sign_count(sign_count)

        def work(db: _Database) -> bool:
            found = db.passkeys.get(credential_id)
            if found is None:
                return False
            if not (sign_count > found.sign_count or sign_count == found.sign_count == 0):
                return False
            db.passkeys[credential_id] = replace(
                found, sign_count=sign_count, last_used_at=now, backed_up=backed_up
            )
            return True

        return self._atomic(work)

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

        def work(db: _Database) -> None:
            if challenge_hash in db.passkey_challenges:
                raise DuplicateKeyError("a ceremony challenge with this hash exists")
            db.passkey_challenges[challenge_hash] = (purpose, user_id, expires_at)

        self._atomic(work)

    async def consume_passkey_challenge(
        self, challenge_hash: str, *, purpose: str, user_id: str | None, now: float
    ) -> bool:
        def work(db: _Database) -> bool:
            found = db.passkey_challenges.get(challenge_hash)
            if found is None or found[0] != purpose or found[1] != user_id or found[2] <= now:
                return False
            del db.passkey_challenges[challenge_hash]
            return True

        return self._atomic(work)

    async def purge_passkey_challenges(self, *, before: float) -> int:
        def work(db: _Database) -> int:
            gone = [h for h, (_, _, exp) in db.passkey_challenges.items() if exp <= before]
            for challenge_hash in gone:
                del db.passkey_challenges[challenge_hash]
            return len(gone)

        return self._atomic(work)

    # --- linked external identities and sign-in states ----------------------------------------

    async def link_identity(self, link: LinkedIdentity) -> bool:
        _check_link(link)

        def work(db: _Database) -> bool:
            key = (link.provider, link.subject)
            if key in db.links or (link.provider, link.user_id) in db.user_links:
                return False
            db.links[key] = link
            db.user_links[link.provider, link.user_id] = key
            return True

        return self._atomic(work)

    async def get_linked_identity(self, provider: str, subject: str) -> LinkedIdentity | None:
        return self._atomic(lambda db: db.links.get((provider, subject)))

    async def linked_identities(self, user_id: str) -> list[LinkedIdentity]:
        def work(db: _Database) -> list[LinkedIdentity]:
            found = [link for link in db.links.values() if link.user_id == user_id]
            return sorted(found, key=lambda link: link.provider)

        return self._atomic(work)

    async def touch_linked_identity(self, provider: str, subject: str, *, now: float) -> bool:
        def work(db: _Database) -> bool:
            old = db.links.get((provider, subject))
            if old is None:
                return False
            db.links[provider, subject] = replace(old, last_used_at=now)
            return True

        return self._atomic(work)

    async def unlink_identity(self, provider: str, user_id: str) -> bool:
        def work(db: _Database) -> bool:
            key = db.user_links.pop((provider, user_id), None)
            if key is None:
                return False
            del db.links[key]
            return True

        return self._atomic(work)

    async def add_oauth_state(self, state_hash: str, state: OAuthState) -> None:
        _check_state(state_hash, state)

        def work(db: _Database) -> None:
            if state_hash in db.oauth_states:
                raise DuplicateKeyError("a sign-in state with this hash exists")
            db.oauth_states[state_hash] = state

        self._atomic(work)

    async def consume_oauth_state(self, state_hash: str, *, now: float) -> OAuthState | None:
        def work(db: _Database) -> OAuthState | None:
            found = db.oauth_states.get(state_hash)
            if found is None or not now < found.expires_at:
                return None
            del db.oauth_states[state_hash]
            return found

        return self._atomic(work)

    async def purge_oauth_states(self, *, before: float) -> int:
        def work(db: _Database) -> int:
            gone = [h for h, s in db.oauth_states.items() if s.expires_at <= before]
            for state_hash in gone:
                del db.oauth_states[state_hash]
            return len(gone)

        return self._atomic(work)
