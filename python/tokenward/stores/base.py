"""The store protocols and the records they carry; :mod:`tokenward.stores` re-exports all of it.

A store is split by concern, so that a piece of tokenward can ask for only what it uses:

* :class:`RefreshSessionStore`: refresh tokens (by hash) and the sessions they belong to;
* :class:`ApiKeyStore`: API keys (by hash, found by their public prefix);
* :class:`CounterStore`: fixed-window counters for rate limits;
* :class:`AccessStore`: role assignments on resources and the resource hierarchy (a closure
  table), for :mod:`tokenward.access`; the SQLite and PostgreSQL stores implement it too;
* :class:`UserStore`: accounts (:class:`UserRecord`, unique by normalised email) and their
  single-use verification and reset tokens (by hash); every backend implements it too;
* :class:`MfaStore`: second factors (TOTP secrets, encrypted; the last accepted step; recovery
  codes, hashed; sign-ins waiting for a second factor); every backend implements it too;
* :class:`PasskeyStore`: WebAuthn credentials (several per user) and the single-use challenges
  of their ceremonies; every backend implements it too;
* :class:`LinkedIdentityStore`: accounts at external providers linked to users, and the
  sign-ins with a provider under way (their ``state`` by hash, consumed once); every backend
  implements it too;
* :class:`Store`: all three, plus ``open``/``close``; what a backend implements.

Every method is atomic (one transaction or one statement) and raises :class:`StoreError` when the
database cannot be reached or used, :class:`UnstorableValueError` when handed a string no store
can hold (see :func:`unstorable`). Times are POSIX seconds (floats), always passed in by the
caller, so that a store never reads a clock of its own.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from tokenward.exceptions import (
    DuplicateKeyError,
    DuplicateUserError,
    HierarchyError,
    StoreError,
    UnstorableValueError,
)

__all__ = [
    "MAX_BULK_RESOURCES",
    "MAX_PASSKEY_NAME",
    "MAX_RECOVERY_CODES",
    "MAX_USER_PAGE",
    "PASSKEY_PURPOSES",
    "UNSET",
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
    "TotpRecord",
    "UnstorableValueError",
    "UserRecord",
    "UserStore",
    "unstorable",
]


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> bool:
    """Whether ``text`` holds what no store can keep: a NUL character (PostgreSQL's text and
    jsonb refuse it) or a lone surrogate (no UTF-8 encodes it). No id, key or name tokenward
    makes holds one, so an id that does names nothing."""
    return _UNSTORABLE.search(text) is not None


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
    """What a rotation found and did (decided by :func:`tokenward.rotation.rotate` from what
    :meth:`RefreshSessionStore.spend_refresh_session` returned)."""

    ROTATED = "rotated"  # the session was live: it is now spent and its successor exists
    SPENT = "spent"  # the session had been rotated before (a duplicate or a reuse)
    REVOKED = "revoked"  # its family was revoked (logout or reuse detection)
    EXPIRED = "expired"  # past its expiry, never rotated
    UNKNOWN = "unknown"  # no session has this hash


@dataclass(frozen=True, slots=True)
class RotateResult:
    outcome: RotateOutcome
    session: RefreshSession | None  # the presented session as it was before the call


@dataclass(frozen=True, slots=True)
class SpendResult:
    """What :meth:`RefreshSessionStore.spend_refresh_session` found and did."""

    session: RefreshSession | None  # the token as it was before the call; None: no such hash
    spent: bool  # whether this call spent it (it was live) and inserted its successor


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session: one login, that is one family of refresh tokens (``id`` is the family id).

    ``expires_at`` is the expiry of the family's newest token; the store keeps it (and
    ``last_used_at``) up to date on every rotation. A session is *live* while it is not revoked
    and one of its tokens is unspent, unrevoked and unexpired.
    """

    id: str
    subject: str
    started_at: float
    last_used_at: float
    client_address: str | None = None
    user_agent: str | None = None
    revoked_at: float | None = None
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as stored: never the key, only its public ``prefix`` (unique, how a presented
    key is found) and ``key_hash``; the owner's identity is copied at creation. ``groups`` are
    the key's own (named when it was made, a subset of ``owner_groups``): what a request with
    the key is in. ``owner_groups`` only records what the owner was in at the time."""

    id: str
    prefix: str
    key_hash: str
    name: str
    owner_subject: str
    owner_email: str | None
    owner_groups: tuple[str, ...]
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float | None = None
    last_used_at: float | None = None
    revoked_at: float | None = None
    groups: tuple[str, ...] = ()

    def is_live(self, now: float) -> bool:
        """Not revoked, and not expired at ``now`` (a key without ``expires_at`` never expires)."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


# The columns of refresh tokens and of API keys, in the order both SQL stores (SQLite,
# PostgreSQL) select them; their tables have the same columns, only the types differ.
_TOKEN_COLUMNS = (
    "token_hash, family_id, subject, identity, issued_at, expires_at, spent_at, successor_hash,"
    " successor_jti, revoked_at"
)
_KEY_COLUMNS = (
    "id, prefix, key_hash, name, owner_subject, owner_email, owner_groups, scopes, created_at,"
    " expires_at, last_used_at, revoked_at, key_groups"
)


def _session_from_row(row: Sequence[Any], identity: Any) -> RefreshSession:
    """The RefreshSession of a row selected as ``_TOKEN_COLUMNS``, with its ``identity``
    column decoded by the store (anything but a dict counts as empty)."""
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


def _key_from_row(
    row: Sequence[Any],
    owner_groups: tuple[str, ...],
    scopes: tuple[str, ...],
    groups: tuple[str, ...] = (),
) -> ApiKeyRecord:
    """The ApiKeyRecord of a row selected as ``_KEY_COLUMNS``, with its three list columns
    decoded by the store."""
    return ApiKeyRecord(
        id=row[0],
        prefix=row[1],
        key_hash=row[2],
        name=row[3],
        owner_subject=row[4],
        owner_email=row[5],
        owner_groups=owner_groups,
        scopes=scopes,
        created_at=row[8],
        expires_at=row[9],
        last_used_at=row[10],
        revoked_at=row[11],
        groups=groups,
    )


@dataclass(frozen=True, slots=True)
class Counter:
    """A fixed-window counter: ``count`` hits so far in the window that ends at ``reset_at``."""

    count: int
    reset_at: float


@dataclass(frozen=True, slots=True)
class Reservation:
    """What :meth:`CounterStore.reserve` decided: whether the attempt may run (``granted``), and
    the key's counter after the decision (``count`` reserved so far in the window that ends at
    ``reset_at``)."""

    granted: bool
    count: int
    reset_at: float


@runtime_checkable
class RefreshSessionStore(Protocol):
    """Refresh tokens and sessions. Only hashes of refresh tokens are ever stored."""

    async def add_refresh_session(self, session: RefreshSession) -> None:
        """Insert a refresh token without a session row (the path before sessions existed; its
        family is then invisible to :meth:`list_sessions`)."""

    async def get_refresh_session(self, token_hash: str) -> RefreshSession | None:
        """The refresh token with this hash, or None."""

    async def spend_refresh_session(
        self,
        token_hash: str,
        *,
        successor_hash: str,
        successor_jti: str,
        now: float,
        expires_at: float,
    ) -> SpendResult:
        """A compare-and-set, in one transaction: when the token is live at ``now``
        (:meth:`RefreshSession.is_live`), mark it spent at ``now`` with ``successor_hash`` and
        ``successor_jti``, insert its successor (same family, subject and identity, issued at
        ``now``, expiring at ``expires_at``) and set the session's ``last_used_at`` and
        ``expires_at``; otherwise change nothing. Returns the token as it was before the call and
        whether it was spent. Of concurrent calls on one token at most one spends it; each of the
        others returns the token as this one left it. A store decides nothing else: what a spend
        that did not happen means (and reuse detection) is :mod:`tokenward.rotation`'s."""

    async def revoke_refresh_family(self, family_id: str, *, now: float) -> int:
        """Revoke every token of a family and its session; returns how many tokens were still
        unrevoked."""

    async def purge_refresh_sessions(self, *, before: float) -> int:
        """Delete tokens that expired before ``before``, then sessions with no token left;
        returns how many tokens."""

    async def start_session(
        self, info: SessionInfo, first: RefreshSession, *, max_sessions: int, now: float
    ) -> tuple[str, ...]:
        """A login, in one transaction: insert the session ``info`` and its first token
        ``first`` (``first.family_id == info.id``, same subject; the session's ``expires_at`` is
        ``first.expires_at``), then revoke the oldest live sessions of the subject beyond
        ``max_sessions`` (at least 1; the new one counts) with all their tokens. Returns the ids
        of the sessions it ended, oldest first. ValueError for inconsistent arguments."""

    async def get_session(self, session_id: str) -> SessionInfo | None:
        """The session with this id, live or not, or None."""

    async def list_sessions(self, subject: str, *, now: float) -> list[SessionInfo]:
        """The subject's live sessions at ``now``, newest (latest started) first."""

    async def revoke_session(self, session_id: str, *, subject: str, now: float) -> bool:
        """Revoke one live session of ``subject`` and its tokens. False when there is no such
        session, it is another subject's, or it is not live (callers answer 404 for all)."""

    async def revoke_sessions(self, subject: str, *, now: float, keep: str | None = None) -> int:
        """Revoke every live session of ``subject`` but ``keep``; returns how many."""


@runtime_checkable
class ApiKeyStore(Protocol):
    """API keys, found by their public prefix; only hashes of the secrets are stored."""

    async def add_api_key(self, record: ApiKeyRecord) -> None:
        """Insert a key; :class:`DuplicateKeyError` when its prefix or id is taken."""

    async def get_api_key(self, prefix: str) -> ApiKeyRecord | None:
        """The key with this prefix (live or not), or None."""

    async def get_api_key_by_id(self, key_id: str) -> ApiKeyRecord | None:
        """The key with this id (live or not), or None."""

    async def list_api_keys(self, owner_subject: str | None) -> list[ApiKeyRecord]:
        """Every key of the owner, newest first; revoked ones included (``revoked_at`` set).
        ``owner_subject`` None lists every owner's keys (for the CLI)."""

    async def revoke_api_key(self, key_id: str, *, owner_subject: str | None, now: float) -> bool:
        """Revoke a key at ``now``. ``owner_subject`` None means any owner's (for the CLI).
        False when there is no such key, it is another owner's, or it was revoked already."""

    async def touch_api_key(self, key_id: str, *, now: float, min_interval: float = 60.0) -> bool:
        """Set ``last_used_at = now`` in one conditional write, only when it is unset or at least
        ``min_interval`` seconds old (so a busy key costs one write a minute, not one a request).
        True when it wrote."""

    async def claim_api_key_check(
        self, probe: str, probe_hash: str, *, now: float
    ) -> tuple[str, str]:
        """The store's check value of the API-key hashing key: a random ``probe`` (shaped like a
        key, never one: it is in no key table) and its keyed hash. Writes ``(probe,
        probe_hash)`` when the store has none yet, once (of concurrent first calls one pair
        wins); returns the stored pair. A hasher that does not match it hashes under another
        ``AUTH_SECRET`` than the one that made the store's keys.

        A store may also have ``replace_api_key_check(old_probe_hash, probe, probe_hash, *,
        now) -> bool`` (optional; the SQLite, PostgreSQL and memory stores do): one conditional
        write replacing the pair only while its hash is still ``old_probe_hash``, True when it
        wrote.
        After a secret rotation the check value made under ``AUTH_SECRET_PREVIOUS`` is replaced
        by one under the new ``AUTH_SECRET`` through it."""


@runtime_checkable
class CounterStore(Protocol):
    """Fixed-window counters (rate limits), each updated by one atomic statement."""

    async def hit(self, key: str, *, window: float, now: float, amount: int = 1) -> Counter:
        """Add ``amount`` to the key's counter and return its new state. When the key has no
        counter or its window has ended (``reset_at <= now``), a new window starts at
        ``amount`` with ``reset_at = now + window``. ValueError unless ``window > 0`` and
        ``amount >= 0``."""

    async def peek(self, key: str, *, now: float) -> Counter | None:
        """The key's counter, or None when it has none or its window has ended at ``now``."""

    async def reserve(self, key: str, *, limit: int, window: float, now: float) -> Reservation:
        """In one atomic step, "may this attempt run?" and "count it": when the key's counter is
        below ``limit`` (or has no live window at ``now``; a new one starts as with :meth:`hit`),
        add 1 and grant; otherwise change nothing and refuse. However many run at once, at most
        ``limit`` reservations are granted per window. ValueError unless ``limit >= 1`` and
        ``window > 0``."""

    async def release(self, key: str, *, reset_at: float) -> bool:
        """Give one granted reservation back: subtract 1 from the key's counter, only while it
        is still the window that ends at ``reset_at`` (a later window is left alone) and above
        0. True when it did."""

    async def clear(self, key: str) -> None:
        """Forget the key's counter (an operator clearing a lock-out)."""

    async def purge_counters(self, *, before: float) -> int:
        """Delete counters whose window ended at or before ``before``; returns how many."""


@runtime_checkable
class Store(RefreshSessionStore, ApiKeyStore, CounterStore, Protocol):
    """Everything tokenward keeps: what a backend implements. Implementations never block the
    event loop and may be shared by every request of a process."""

    async def open(self) -> None:
        """Connect and create or migrate the schema. Called at start-up; other methods open
        lazily."""

    async def close(self) -> None:
        """Release connections. The store may be opened again afterwards."""


Resource = tuple[str, str]
"""A resource: its type (an entity of the access definition, e.g. ``"project"``) and its id."""

MAX_BULK_RESOURCES = 100  # how many resources one AccessStore.resource_chains call may ask for
MAX_RESOURCE_PART = 256  # characters of a resource type or id


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    """A role a user holds directly on one resource."""

    user_id: str
    role: str
    resource: Resource


@dataclass(frozen=True, slots=True)
class ResourceChain:
    """A resource and its ancestors, with the roles one user holds directly on each.

    ``resources[0]`` is the resource itself, ``resources[1]`` its parent, and so on up to the
    root; ``roles[i]`` are the user's direct roles on ``resources[i]``."""

    resources: tuple[Resource, ...]
    roles: tuple[frozenset[str], ...]


@runtime_checkable
class AccessStore(Protocol):
    """Role assignments on resources and the resource hierarchy.

    The hierarchy is kept as a closure table (every ancestor of every resource, with its
    distance), so that a resource's whole chain of ancestors, and the user's roles on each, come
    back from one query whatever the depth. A resource without a parent is a root; resources
    need no registration (one that was never given a parent or a role is a root with no roles).
    """

    async def assign_role(self, user_id: str, role: str, resource: Resource) -> bool:
        """Give ``user_id`` the ``role`` on ``resource``; False when it held it already."""

    async def revoke_role(self, user_id: str, role: str, resource: Resource) -> bool:
        """Take the role away; False when the user did not hold it."""

    async def set_parent(self, resource: Resource, parent: Resource | None) -> None:
        """Put ``resource`` (with everything below it) under ``parent``, or make it a root
        (None). In one transaction; :class:`HierarchyError` (nothing changed) when ``parent``
        is ``resource`` or one of its descendants."""

    async def resource_chains(
        self, user_id: str, resources: Sequence[Resource]
    ) -> dict[Resource, ResourceChain]:
        """For each of ``resources`` (at most :data:`MAX_BULK_RESOURCES`), its chain of
        ancestors and the user's direct roles on each, in one round trip."""

    async def role_assignments(self, user_id: str) -> list[RoleAssignment]:
        """Every role ``user_id`` holds directly, on any resource."""


def _check_resource(resource: object, what: str = "resource") -> Resource:
    """``resource`` as a (type, id) pair of non-empty strings of at most
    :data:`MAX_RESOURCE_PART` characters; ValueError otherwise."""
    if (
        not isinstance(resource, tuple)
        or len(resource) != 2
        or not all(isinstance(p, str) and 0 < len(p) <= MAX_RESOURCE_PART for p in resource)
    ):
        raise ValueError(
            f"a {what} is a (type, id) pair of non-empty strings of at most "
            f"{MAX_RESOURCE_PART} characters, not {resource!r:.80}"
        )
    return (resource[0], resource[1])


def _check_grant(user_id: object, role: object, resource: object) -> Resource:
    """The checks ``assign_role`` and ``revoke_role`` make (ValueError); the resource back."""
    for what, value in (("user id", user_id), ("role", role)):
        if not isinstance(value, str) or not 0 < len(value) <= MAX_RESOURCE_PART:
            raise ValueError(
                f"a {what} is a non-empty string of at most {MAX_RESOURCE_PART} characters"
            )
    return _check_resource(resource)


def _check_resources(resources: Sequence[Resource]) -> list[Resource]:
    """The distinct resources of a bulk request, in order; ValueError beyond the bound."""
    distinct = list(dict.fromkeys(_check_resource(r) for r in resources))
    if len(distinct) > MAX_BULK_RESOURCES:
        raise ValueError(f"at most {MAX_BULK_RESOURCES} resources at once, not {len(distinct)}")
    return distinct


def _check_parent(resource: Resource, parent: Resource | None) -> None:
    _check_resource(resource)
    if parent is not None:
        _check_resource(parent, "parent")
        if parent == resource:
            raise HierarchyError(f"{resource[0]}:{resource[1]} cannot be its own parent")


def _cycle(resource: Resource, parent: Resource) -> HierarchyError:
    return HierarchyError(
        f"{parent[0]}:{parent[1]} is below {resource[0]}:{resource[1]}; making it the parent "
        "would create a cycle"
    )


def _chains_from_rows(
    resources: list[Resource], rows: Sequence[Sequence[Any]]
) -> dict[Resource, ResourceChain]:
    """Rows ``(type, id, ancestor type, ancestor id, depth, role or None)`` of a chain query
    (depth 0 is the resource itself) as chains."""
    found: dict[Resource, dict[int, tuple[Resource, set[str]]]] = {r: {} for r in resources}
    for rtype, rid, atype, aid, depth, role in rows:
        levels = found.setdefault((rtype, rid), {})
        level = levels.setdefault(int(depth), ((atype, aid), set()))
        if role is not None:
            level[1].add(role)
    out: dict[Resource, ResourceChain] = {}
    for resource in resources:
        levels = found[resource]
        if 0 not in levels:
            levels[0] = (resource, set())
        ordered = [levels[d] for d in sorted(levels)]
        out[resource] = ResourceChain(
            resources=tuple(r for r, _ in ordered),
            roles=tuple(frozenset(roles) for _, roles in ordered),
        )
    return out


def _check_start_session(info: SessionInfo, first: RefreshSession, max_sessions: int) -> None:
    """The argument checks every backend's ``start_session`` makes (ValueError)."""
    if first.family_id != info.id:
        raise ValueError("the first refresh token must belong to the session's family")
    if first.subject != info.subject:
        raise ValueError("the first refresh token must have the session's subject")
    if max_sessions < 1:
        raise ValueError("max_sessions must be at least 1")


def _check_reserve(limit: int, window: float) -> None:
    """The argument checks every backend's ``reserve`` makes (ValueError)."""
    if limit < 1:
        raise ValueError("a reservation limit must be at least 1")
    if not window > 0:
        raise ValueError("a counter window must be positive")


def _check_hit(window: float, amount: int) -> None:
    """The argument checks every backend's ``hit`` makes (ValueError)."""
    if not window > 0:
        raise ValueError("a counter window must be positive")
    if amount < 0:
        raise ValueError("a counter amount must not be negative")


# --- users -------------------------------------------------------------------------------------

MAX_USER_PAGE = 1000  # the most users one UserStore.list_users call returns
MAX_PURPOSE = 64  # characters of a user token's purpose

AttributeValue = str | int | float | bool | None
"""What a user's ``attributes`` may hold: flat JSON scalars (allow-listed sign-up fields)."""


class _Unset(enum.Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET
"""The default of :meth:`UserStore.update_user`'s arguments: leave the field as it is (so that
``password_hash=None`` can clear a hash)."""


@dataclass(frozen=True, slots=True)
class UserRecord:
    """An account as stored.

    ``email`` is normalised by the caller (:func:`tokenward.users.normalize_email`: trimmed,
    NFKC, case-folded) before it reaches a store, and unique; a store compares it as given.
    ``password_hash`` is a PHC string (``$argon2id$v=19$…``) or None (no password: the account
    signs in another way, or not yet). ``attributes`` holds the allow-listed fields a client gave
    at sign-up (flat JSON scalars); ``groups``, ``roles``, ``email_verified`` and ``disabled`` are
    only ever set by the server.
    """

    id: str
    email: str
    password_hash: str | None
    created_at: float
    updated_at: float
    email_verified: bool = False
    disabled: bool = False
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    last_sign_in_at: float | None = None
    attributes: dict[str, AttributeValue] = field(default_factory=dict)


# The columns of users, in the order both SQL stores select them.
_USER_COLUMNS = (
    "id, email, password_hash, created_at, updated_at, email_verified, disabled, user_groups,"
    " user_roles, last_sign_in_at, attributes"
)


def _user_from_row(
    row: Sequence[Any],
    groups: tuple[str, ...],
    roles: tuple[str, ...],
    attributes: Any,
) -> UserRecord:
    """The UserRecord of a row selected as ``_USER_COLUMNS``, with its list and JSON columns
    decoded by the store (attributes that are not a dict count as empty)."""
    return UserRecord(
        id=row[0],
        email=row[1],
        password_hash=row[2],
        created_at=row[3],
        updated_at=row[4],
        email_verified=bool(row[5]),
        disabled=bool(row[6]),
        groups=groups,
        roles=roles,
        last_sign_in_at=row[9],
        attributes=dict(attributes) if isinstance(attributes, dict) else {},
    )


def _refuse(values: Sequence[str | None], where: str) -> None:
    for value in values:
        if value is not None and unstorable(value):
            raise UnstorableValueError(f"{where}: a string with a NUL or a lone surrogate")


def _check_names(names: Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"a user's {what} are a sequence of non-empty strings")
    out = tuple(dict.fromkeys(names))
    _refuse(out, f"a user's {what}")
    return out


def _check_attributes(attributes: object) -> dict[str, AttributeValue]:
    if not isinstance(attributes, dict):
        raise ValueError("a user's attributes are a dict")
    for key, value in attributes.items():
        if (
            not isinstance(key, str)
            or not isinstance(value, str | int | float | bool | None)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            raise ValueError("a user's attributes map strings to JSON scalars (finite numbers)")
        _refuse([key, value if isinstance(value, str) else None], "a user's attributes")
    return dict(attributes)


def _check_new_user(user: UserRecord) -> UserRecord:
    """The checks every backend's ``create_user`` makes before it writes: ValueError for an
    empty id or email, malformed groups, roles or attributes; UnstorableValueError for a string
    no store holds. Returns the record with its groups and roles as tuples without repeats."""
    for what, value in (("id", user.id), ("email", user.email)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"a user's {what} is a non-empty string")
    if user.password_hash is not None and not isinstance(user.password_hash, str):
        raise ValueError("a user's password hash is a string or None")
    _refuse([user.id, user.email, user.password_hash], "a user")
    return replace(
        user,
        groups=_check_names(user.groups, "groups"),
        roles=_check_names(user.roles, "roles"),
        attributes=_check_attributes(user.attributes),
    )


def _check_update(
    password_hash: str | _Unset | None,
    groups: Sequence[str] | None,
    roles: Sequence[str] | None,
    attributes: dict[str, AttributeValue] | None,
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None, dict[str, AttributeValue] | None]:
    """The checks every backend's ``update_user`` makes; the checked groups, roles and
    attributes back (None: unchanged)."""
    if not isinstance(password_hash, _Unset):
        if password_hash is not None and not isinstance(password_hash, str):
            raise ValueError("a user's password hash is a string or None")
        _refuse([password_hash], "a user's password hash")
    return (
        None if groups is None else _check_names(groups, "groups"),
        None if roles is None else _check_names(roles, "roles"),
        None if attributes is None else _check_attributes(attributes),
    )


def _check_page(limit: int, after: str | None) -> None:
    if not 1 <= limit <= MAX_USER_PAGE:
        raise ValueError(f"a page of users holds 1 to {MAX_USER_PAGE}, not {limit}")
    if after is not None:
        _refuse([after], "a page cursor")


def _check_user_token(token_hash: str, user_id: str, purpose: str) -> None:
    if not token_hash or not user_id:
        raise ValueError("a user token needs a hash and a user id")
    if not 0 < len(purpose) <= MAX_PURPOSE:
        raise ValueError(f"a user token's purpose is 1 to {MAX_PURPOSE} characters")
    _refuse([token_hash, user_id, purpose], "a user token")


def _lookup_ok(*values: str | None) -> bool:
    """Whether a look-up by these values can find anything: a string no store holds names
    nothing, so the look-up answers None/False without asking the database."""
    return not any(v is not None and unstorable(v) for v in values)


@runtime_checkable
class UserStore(Protocol):
    """Accounts, and the single-use tokens that verify an email or reset a password.

    Emails reach a store normalised (:func:`tokenward.users.normalize_email`) and are unique
    as given. Tokens are stored only as hashes (the caller hashes them, as API keys); each has a
    ``purpose`` (``"verify-email"``, ``"reset-password"``) and is consumed once, for that
    purpose only, before it expires. A look-up with a string no store can hold (a NUL, a lone
    surrogate) finds nothing; a write with one raises :class:`UnstorableValueError`.
    """

    async def create_user(self, user: UserRecord) -> UserRecord:
        """Insert ``user``; :class:`DuplicateUserError` (nothing written) when its email or id
        is taken. ValueError for an empty id or email or malformed groups, roles or attributes.
        Returns the record as stored."""

    async def get_user(self, user_id: str) -> UserRecord | None:
        """The user with this id (disabled or not), or None."""

    async def get_user_by_email(self, email: str) -> UserRecord | None:
        """The user with this (normalised) email, or None."""

    async def list_users(self, *, limit: int = 100, after: str | None = None) -> list[UserRecord]:
        """At most ``limit`` (1 to :data:`MAX_USER_PAGE`) users, by id in code-point order,
        starting after the id ``after`` (None: from the first). The last id of a page is the
        ``after`` of the next; a page shorter than ``limit`` is the last."""

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
        """Change the fields given (``UNSET``/None leave one as it is; ``password_hash=None``
        removes the hash) and set ``updated_at = now``, in one statement. Returns the user as
        it is now, or None when there is no such user."""

    async def record_sign_in(self, user_id: str, *, now: float) -> bool:
        """Set ``last_sign_in_at = now``; False when there is no such user."""

    async def add_user_token(
        self, token_hash: str, *, user_id: str, purpose: str, expires_at: float, now: float
    ) -> None:
        """Store a single-use token by its hash; :class:`DuplicateKeyError` when the hash is
        taken. ValueError for an empty hash or user id or a purpose not of 1 to
        :data:`MAX_PURPOSE` characters."""

    async def consume_user_token(self, token_hash: str, *, purpose: str, now: float) -> str | None:
        """In one atomic step: when a token with this hash and ``purpose`` exists and has not
        expired at ``now`` (``now < expires_at``), delete it and return its user id; otherwise
        change nothing and return None. Of concurrent calls on one token exactly one succeeds.
        A token asked for under another purpose stays as it is."""

    async def delete_user_tokens(self, user_id: str, *, purpose: str | None = None) -> int:
        """Delete the user's tokens (of ``purpose``, or all); returns how many (so a reset
        link mailed earlier stops working once the password is changed)."""

    async def purge_user_tokens(self, *, before: float) -> int:
        """Delete tokens that expired at or before ``before``; returns how many."""


# --- second factors ----------------------------------------------------------------------------

MAX_RECOVERY_CODES = 32  # the most recovery-code hashes one user may hold


@dataclass(frozen=True, slots=True)
class TotpRecord:
    """A user's TOTP factor as stored. ``secret`` is the secret *encrypted* (a field-cipher
    ciphertext, never the raw bytes: :mod:`tokenward.secondfactor` encrypts and decrypts it);
    ``confirmed_at`` is None while the factor is pending (enrolled, not yet proven with a code:
    it does not guard sign-in); ``last_step`` is the last accepted time step (replay refusal,
    :class:`tokenward.mfa.TotpSteps`)."""

    user_id: str
    secret: str
    created_at: float
    confirmed_at: float | None = None
    last_step: int | None = None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    """A password sign-in waiting for its second factor (the ``mfa_token`` it was answered
    with is stored only as a hash): whose, from where, the scope it asked for, until when."""

    user_id: str
    expires_at: float
    client_address: str | None = None
    user_agent: str | None = None
    scope: str | None = None


def _check_totp(user_id: str, secret: str, code_hashes: Sequence[str]) -> None:
    if not user_id or not secret:
        raise ValueError("a TOTP factor needs a user id and an encrypted secret")
    if isinstance(code_hashes, str) or len(code_hashes) > MAX_RECOVERY_CODES:
        raise ValueError(f"at most {MAX_RECOVERY_CODES} recovery-code hashes")
    if not all(isinstance(h, str) and h for h in code_hashes):
        raise ValueError("a recovery-code hash is a non-empty string")
    _refuse([user_id, secret, *code_hashes], "a TOTP factor")


def _check_pending(token_hash: str, pending: PendingSignIn) -> None:
    if not token_hash or not pending.user_id:
        raise ValueError("a pending sign-in needs a token hash and a user id")
    _refuse(
        [token_hash, pending.user_id, pending.client_address, pending.user_agent, pending.scope],
        "a pending sign-in",
    )


@runtime_checkable
class MfaStore(Protocol):
    """Second factors: each user's TOTP factor (its secret encrypted), the last accepted time
    step, the recovery codes (hashes only), and the password sign-ins waiting for a second
    factor (by the hash of their ``mfa_token``).

    It is a :class:`tokenward.mfa.TotpSteps` (``accept_totp_step``: one conditional ``UPDATE``)
    and a :class:`tokenward.mfa.RecoveryCodeStore` (``use_recovery_code``: one ``DELETE``), so
    that a code, a recovery code or an ``mfa_token`` works once however many requests race
    with it. A look-up with a string no store can hold finds nothing."""

    async def begin_totp(
        self, user_id: str, secret: str, code_hashes: Sequence[str], *, now: float
    ) -> bool:
        """In one transaction, unless the user has a *confirmed* factor: store ``secret`` as the
        user's pending factor (replacing a pending one; ``last_step`` reset) and
        ``code_hashes`` as their recovery codes (replacing every earlier one). False, changing
        nothing, when a confirmed factor exists."""

    async def get_totp(self, user_id: str) -> TotpRecord | None:
        """The user's factor, pending or confirmed, or None."""

    async def confirm_totp(self, user_id: str, *, now: float) -> bool:
        """Mark the user's pending factor confirmed at ``now``; False when there is none (no
        factor, or it was confirmed already)."""

    async def delete_totp(self, user_id: str) -> bool:
        """Remove the user's factor and recovery codes, in one transaction; False when there
        was no factor."""

    async def accept_totp_step(self, user_id: str, step: int) -> bool:
        """Atomically: when the user has a factor and ``step`` is greater than its
        ``last_step`` (or that is unset), set ``last_step = step`` and return True; otherwise
        change nothing and return False."""

    async def recovery_code_hashes(self, user_id: str) -> list[str]:
        """The hashes of the user's unused recovery codes (in no particular order)."""

    async def use_recovery_code(self, user_id: str, code_hash: str) -> bool:
        """Atomically delete one of the user's unused codes: True for the one caller that did."""

    async def add_pending_sign_in(self, token_hash: str, pending: PendingSignIn) -> None:
        """Store a sign-in waiting for its second factor; :class:`DuplicateKeyError` when the
        hash is taken."""

    async def get_pending_sign_in(self, token_hash: str, *, now: float) -> PendingSignIn | None:
        """The pending sign-in with this hash when it has not expired at ``now``, or None."""

    async def consume_pending_sign_in(self, token_hash: str, *, now: float) -> PendingSignIn | None:
        """In one atomic step: delete the pending sign-in with this hash when it has not
        expired at ``now`` and return it; otherwise None. Of concurrent calls exactly one gets
        it."""

    async def delete_pending_sign_ins(self, user_id: str) -> int:
        """Delete every pending sign-in of the user (their factor was removed); how many."""

    async def purge_pending_sign_ins(self, *, before: float) -> int:
        """Delete pending sign-ins that expired at or before ``before``; how many."""


# --- passkeys (WebAuthn credentials) and their ceremony challenges -----------------------------

MAX_PASSKEY_NAME = 64  # characters of a passkey's name
MAX_CREDENTIAL_ID = 1400  # characters of a credential id in base64url (1023 bytes: WebAuthn's cap)
MAX_PUBLIC_KEY_BYTES = 4096  # bytes of a COSE public key
MAX_SIGN_COUNT = 2**32 - 1  # the authenticator data's counter is 32 bits
PASSKEY_PURPOSES = ("register", "authenticate")
"""What a ceremony challenge is for: a registration, or an authentication (a sign-in or a
step-up)."""


@dataclass(frozen=True, slots=True)
class PasskeyRecord:
    """A WebAuthn credential (a passkey) as stored: never a secret, only the public key.

    ``id`` is the credential id in base64url without padding (unique across users: an
    authenticator makes a new random one per registration); ``public_key`` the COSE key the
    registration gave; ``sign_count`` the authenticator's signature counter as last seen (0 for
    authenticators without one, such as most synced passkeys); ``name`` the label the user
    chose; ``aaguid`` the authenticator model (all zeros when it does not say);
    ``backup_eligible``/``backed_up`` the flags of WebAuthn §6.1 (a synced passkey is both)."""

    id: str
    user_id: str
    public_key: bytes
    sign_count: int
    name: str
    created_at: float
    transports: tuple[str, ...] = ()
    last_used_at: float | None = None
    aaguid: str = ""
    backup_eligible: bool = False
    backed_up: bool = False


# The columns of passkeys, in the order both SQL stores select them.
_PASSKEY_COLUMNS = (
    "id, user_id, public_key, sign_count, name, created_at, transports, last_used_at, aaguid,"
    " backup_eligible, backed_up"
)


def _passkey_from_row(row: Sequence[Any], transports: tuple[str, ...]) -> PasskeyRecord:
    """The PasskeyRecord of a row selected as ``_PASSKEY_COLUMNS``, with its transports
    decoded by the store."""
    return PasskeyRecord(
        id=row[0],
        user_id=row[1],
        public_key=bytes(row[2]),
        sign_count=int(row[3]),
        name=row[4],
        created_at=row[5],
        transports=transports,
        last_used_at=row[7],
        aaguid=row[8],
        backup_eligible=bool(row[9]),
        backed_up=bool(row[10]),
    )


def _check_passkey_name(name: object) -> str:
    if not isinstance(name, str) or not 0 < len(name) <= MAX_PASSKEY_NAME:
        raise ValueError(f"a passkey's name is 1 to {MAX_PASSKEY_NAME} characters")
    _refuse([name], "a passkey's name")
    return name


def _check_sign_count(sign_count: object) -> int:
    if (
        isinstance(sign_count, bool)
        or not isinstance(sign_count, int)
        or not 0 <= sign_count <= MAX_SIGN_COUNT
    ):
        raise ValueError(f"a signature counter is an integer from 0 to {MAX_SIGN_COUNT}")
    return sign_count


def _check_new_passkey(record: PasskeyRecord) -> PasskeyRecord:
    """The checks every backend's ``add_passkey`` makes before it writes (ValueError,
    UnstorableValueError); the record back with its transports as a tuple without repeats."""
    if not isinstance(record.id, str) or not 0 < len(record.id) <= MAX_CREDENTIAL_ID:
        raise ValueError(f"a credential id is 1 to {MAX_CREDENTIAL_ID} characters")
    if not isinstance(record.user_id, str) or not record.user_id:
        raise ValueError("a passkey's user id is a non-empty string")
    key = record.public_key
    if not isinstance(key, bytes) or not 0 < len(key) <= MAX_PUBLIC_KEY_BYTES:
        raise ValueError(f"a passkey's public key is 1 to {MAX_PUBLIC_KEY_BYTES} bytes")
    _check_sign_count(record.sign_count)
    _check_passkey_name(record.name)
    if not isinstance(record.aaguid, str):
        raise ValueError("a passkey's AAGUID is a string")
    _refuse([record.id, record.user_id, record.aaguid], "a passkey")
    return replace(record, transports=_check_names(record.transports, "transports"))


def _check_challenge(challenge_hash: str, purpose: str, user_id: str | None) -> None:
    if not isinstance(challenge_hash, str) or not challenge_hash:
        raise ValueError("a ceremony challenge needs its hash")
    if purpose not in PASSKEY_PURPOSES:
        raise ValueError(f"a ceremony challenge's purpose is one of {', '.join(PASSKEY_PURPOSES)}")
    if user_id is not None and (not isinstance(user_id, str) or not user_id):
        raise ValueError("a ceremony challenge's user id is a non-empty string or None")
    _refuse([challenge_hash, user_id], "a ceremony challenge")


@runtime_checkable
class PasskeyStore(Protocol):
    """Passkeys (WebAuthn credentials, several per user) and the single-use challenges of their
    ceremonies.

    A credential is found by its id (unique); its owner renames or revokes it (a call naming
    another user changes nothing). The signature counter moves only forward, in one conditional
    write (:meth:`use_passkey`). A challenge is stored by its hash with a purpose, the user it
    is bound to (None: a sign-in with a discoverable passkey, bound to nobody yet) and an
    expiry, and is consumed once. A look-up with a string no store can hold finds nothing; a
    write with one raises :class:`UnstorableValueError`."""

    async def add_passkey(self, record: PasskeyRecord) -> None:
        """Insert a credential; :class:`DuplicateKeyError` (nothing written) when its id is
        taken. ValueError for an empty id or user id, an empty or oversized public key, a
        counter outside 32 bits, a name not of 1 to :data:`MAX_PASSKEY_NAME` characters."""

    async def get_passkey(self, credential_id: str) -> PasskeyRecord | None:
        """The credential with this id, or None."""

    async def list_passkeys(self, user_id: str) -> list[PasskeyRecord]:
        """The user's credentials, oldest first (by creation, then id)."""

    async def rename_passkey(self, credential_id: str, *, user_id: str, name: str) -> bool:
        """Rename one of the user's credentials; False when there is none with this id or it is
        another user's. ValueError for a name as :meth:`add_passkey` refuses it."""

    async def revoke_passkey(self, credential_id: str, *, user_id: str) -> bool:
        """Delete one of the user's credentials (it can no longer sign anyone in); False when
        there is none with this id or it is another user's."""

    async def delete_passkeys(self, user_id: str) -> int:
        """Delete every credential of the user (a lost account's reset); returns how many."""

    async def use_passkey(
        self, credential_id: str, *, sign_count: int, now: float, backed_up: bool
    ) -> bool:
        """After a verified assertion, in one conditional write: when ``sign_count`` is greater
        than the stored counter, or both are 0 (an authenticator without a counter), store it
        with ``last_used_at = now`` and ``backed_up``, and return True; otherwise (a counter
        that did not move forward: a cloned authenticator, or a replay racing the first use)
        change nothing and return False. Of concurrent calls with one counter value at most one
        succeeds, unless both counters are 0 (WebAuthn §6.1.1)."""

    async def add_passkey_challenge(
        self,
        challenge_hash: str,
        *,
        purpose: str,
        user_id: str | None,
        expires_at: float,
        now: float,
    ) -> None:
        """Store a ceremony challenge by its hash; :class:`DuplicateKeyError` when the hash is
        taken. ValueError for an empty hash, a purpose not in :data:`PASSKEY_PURPOSES`, an
        empty user id."""

    async def consume_passkey_challenge(
        self, challenge_hash: str, *, purpose: str, user_id: str | None, now: float
    ) -> bool:
        """In one atomic step: when a challenge with this hash, ``purpose`` and ``user_id``
        (None matches only a challenge bound to nobody) exists and has not expired at ``now``,
        delete it and return True; otherwise change nothing and return False. Of concurrent
        calls on one challenge exactly one succeeds."""

    async def purge_passkey_challenges(self, *, before: float) -> int:
        """Delete challenges that expired at or before ``before``; returns how many."""


# --- linked external identities and sign-in states (external sign-in, docs/oidc.md) ------------

MAX_PROVIDER_NAME = 64  # characters of a provider's name ("google", "github", "oidc", ...)
MAX_EXTERNAL_SUBJECT = 255  # characters of a provider's subject (its user id)


@dataclass(frozen=True, slots=True)
class LinkedIdentity:
    """An account at an external provider linked to a user: ``subject`` is the provider's own
    stable user id (an ID token's ``sub``, GitHub's numeric id), never an email. One link per
    (provider, subject), and at most one per (provider, user)."""

    provider: str
    subject: str
    user_id: str
    created_at: float
    last_used_at: float | None = None
    email: str | None = None  # the provider's email when the link was made (for display)


@dataclass(frozen=True, slots=True)
class OAuthState:
    """A sign-in with an external provider under way, stored by the hash of its ``state``.

    ``code_verifier`` (PKCE) never leaves the server but for the provider's token endpoint;
    ``nonce`` must come back in the ID token; ``binding_hash`` is the hash of the value of the
    browser's state cookie (the callback must come from the browser that started);
    ``redirect_to`` is where the browser goes once signed in (a path of this site, or None)."""

    provider: str
    code_verifier: str
    nonce: str
    binding_hash: str
    created_at: float
    expires_at: float
    redirect_to: str | None = None


# The columns of links and of sign-in states, in the order of their records' fields (both SQL
# stores select them so).
_LINK_COLUMNS = "provider, subject, user_id, created_at, last_used_at, email"
_STATE_COLUMNS = "provider, code_verifier, nonce, binding_hash, created_at, expires_at, redirect_to"


def _check_link(link: LinkedIdentity) -> None:
    if not 0 < len(link.provider) <= MAX_PROVIDER_NAME:
        raise ValueError(f"a provider's name is 1 to {MAX_PROVIDER_NAME} characters")
    if not 0 < len(link.subject) <= MAX_EXTERNAL_SUBJECT:
        raise ValueError(f"an external subject is 1 to {MAX_EXTERNAL_SUBJECT} characters")
    if not link.user_id:
        raise ValueError("a linked identity needs a user id")
    _refuse([link.provider, link.subject, link.user_id, link.email], "a linked identity")


def _check_state(state_hash: str, state: OAuthState) -> None:
    if not state_hash or not state.code_verifier or not state.nonce or not state.binding_hash:
        raise ValueError("a sign-in state needs its hash, a code verifier, a nonce and a binding")
    if not 0 < len(state.provider) <= MAX_PROVIDER_NAME:
        raise ValueError(f"a provider's name is 1 to {MAX_PROVIDER_NAME} characters")
    _refuse(
        [
            state_hash,
            state.provider,
            state.code_verifier,
            state.nonce,
            state.binding_hash,
            state.redirect_to,
        ],
        "a sign-in state",
    )


@runtime_checkable
class LinkedIdentityStore(Protocol):
    """Accounts at external providers linked to users, and the sign-ins with a provider under
    way (their ``state``, stored by hash, consumed once).

    A link is unique both ways per provider: a (provider, subject) names one user, and a user
    has at most one link per provider. A look-up with a string no store can hold finds nothing;
    a write with one raises :class:`UnstorableValueError`.
    """

    async def link_identity(self, link: LinkedIdentity) -> bool:
        """Insert ``link``; False (nothing written) when the (provider, subject) is linked
        already, or the user has a link at that provider already. ValueError for an empty or
        over-long provider, subject or user id."""

    async def get_linked_identity(self, provider: str, subject: str) -> LinkedIdentity | None:
        """The link of ``subject`` at ``provider``, or None."""

    async def linked_identities(self, user_id: str) -> list[LinkedIdentity]:
        """Every link of the user, by provider name."""

    async def touch_linked_identity(self, provider: str, subject: str, *, now: float) -> bool:
        """Set the link's ``last_used_at = now``; False when there is no such link."""

    async def unlink_identity(self, provider: str, user_id: str) -> bool:
        """Delete the user's link at ``provider``; False when there was none."""

    async def add_oauth_state(self, state_hash: str, state: OAuthState) -> None:
        """Store a sign-in state by the hash of its ``state``; :class:`DuplicateKeyError` when
        the hash is taken. ValueError for an empty hash, verifier, nonce or binding."""

    async def consume_oauth_state(self, state_hash: str, *, now: float) -> OAuthState | None:
        """In one atomic step: when a state with this hash exists and has not expired at ``now``
        (``now < expires_at``), delete it and return it; otherwise return None (an expired one
        is left for :meth:`purge_oauth_states`). Of concurrent calls on one state exactly one
        gets it."""

    async def purge_oauth_states(self, *, before: float) -> int:
        """Delete states that expired at or before ``before``; returns how many."""
