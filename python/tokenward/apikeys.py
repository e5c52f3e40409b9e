"""API keys: credentials for automation, used exactly like a bearer token (``Bearer vk_…``).

A key is ``vk_`` and 256 bits from the OS random source (made in C++), shown once, at creation.
The store keeps only a keyed hash (HMAC-SHA256 under a key HKDF derives from ``AUTH_SECRET``, so a
dump of the database alone cannot test guesses) and a short public prefix for lookup and display;
the comparison runs in constant time in C++ (:class:`tokenward._core.ApiKeyHasher`).

:class:`ApiKeyService` creates, lists, revokes and checks keys over an
:class:`~tokenward.stores.ApiKeyStore`. A key holds the scopes and the groups named when it is made
(subsets of its owner's; none by default), never more. A look-up (a key or the absence of one) is
remembered for ``cache_ttl`` seconds, so a revocation takes effect on every instance within that
time (0: every request asks the store); an unknown prefix and a known one with a wrong secret
take the same steps (one cache or store look-up, one HMAC and comparison), so they cost the same.
``last_used_at`` is written at most once per ``touch_interval`` per key, not on every request.

The store keeps a check value of the hashing key (a random probe and its keyed hash, written by
the first creation): a creation under another ``AUTH_SECRET`` is refused
(:class:`~tokenward.ConfigurationError`) instead of minting a key no server would accept.

Secret rotation (``AUTH_SECRET_PREVIOUS``): ``previous`` hashers, one per older secret, check a
key the current hasher does not match, so keys made under an older secret keep working while that
secret is listed (new keys are always hashed under the current one). A check value made under a
previous secret is accepted and replaced by one under the current secret when the store can
(``replace_api_key_check``).
"""

from __future__ import annotations

import collections
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from tokenward._core import ApiKeyHasher, DebugTokens
from tokenward.caches import remember
from tokenward.exceptions import (
    AuthorizationError,
    ConfigurationError,
    InvalidApiKeyError,
    StoreError,
)
from tokenward.principal import Principal

if TYPE_CHECKING:
    from tokenward.stores import ApiKeyRecord, ApiKeyStore

__all__ = [
    "DEFAULT_CACHE_TTL",
    "MAX_GROUPS",
    "MAX_KEY_LIFETIME",
    "MAX_NAME_CHARS",
    "ApiKeyService",
    "NewApiKey",
    "refuse_api_key",
]

_log = logging.getLogger("tokenward")

DEFAULT_CACHE_TTL = 5.0
DEFAULT_TOUCH_INTERVAL = 60.0
MAX_NAME_CHARS = 100
MAX_SCOPES = 64
MAX_GROUPS = 64
MAX_KEY_LIFETIME = 10 * 366 * 24 * 3600  # ten years, in seconds
_CACHE_ENTRIES = 10_000
_CREATE_ATTEMPTS = 3
_NO_HASH = "0" * 64  # well-formed hex of an HMAC-SHA256: matches() hashes before it compares


class NewApiKey:
    """What a creation returns: the key itself (shown this once) and its record."""

    __slots__ = ("key", "record")

    def __init__(self, key: str, record: ApiKeyRecord) -> None:
        self.key = key
        self.record = record

    def __repr__(self) -> str:  # never the key
        return f"<NewApiKey id={self.record.id!r} prefix={self.record.prefix!r}>"


def _check_name(name: str) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > MAX_NAME_CHARS or not text.isprintable():
        raise ValueError(f"an API key's name is 1 to {MAX_NAME_CHARS} printable characters")
    return text


def _check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(scopes))
    if len(out) > MAX_SCOPES:
        raise ValueError(f"an API key holds at most {MAX_SCOPES} scopes")
    for scope in out:
        if not isinstance(scope, str) or not scope or not scope.isprintable() or " " in scope:
            raise ValueError(f"{scope!r} is not a scope")
        if '"' in scope or "\\" in scope:
            raise ValueError(f"{scope!r} is not a scope")
    return out


def _check_groups(groups: Iterable[str]) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(groups))
    if len(out) > MAX_GROUPS:
        raise ValueError(f"an API key holds at most {MAX_GROUPS} groups")
    for group in out:
        if not isinstance(group, str) or not group or not group.isprintable():
            raise ValueError(f"{group!r} is not a group name")
    return out


def refuse_api_key(principal: Principal, what: str) -> None:
    """AuthorizationError (403) when ``principal`` was proven by an API key: ``what`` (API keys,
    sessions) is managed with the credentials of a signed-in user, never with a key, so that a
    leaked key cannot make itself successors, hide its tracks or sign its owner out."""
    if principal.credential_type == "api_key":
        raise AuthorizationError(
            f"An API key cannot manage {what}: sign in and use an access token.",
            subject=principal.subject,
        )


def _check_lifetime(expires_in: float | None) -> float | None:
    if expires_in is None:
        return None
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        raise ValueError("expires_in is a number of seconds, or null")
    if not math.isfinite(expires_in) or not 1 <= expires_in <= MAX_KEY_LIFETIME:
        raise ValueError(f"expires_in must be between 1 and {MAX_KEY_LIFETIME} seconds")
    return float(expires_in)


class ApiKeyService:
    """Creates, lists, revokes and checks API keys (see the module docstring)."""

    def __init__(
        self,
        hasher: ApiKeyHasher,
        store: ApiKeyStore,
        *,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        touch_interval: float = DEFAULT_TOUCH_INTERVAL,
        clock: Callable[[], float] = time.time,
        check_secret: bool = True,
        previous: Sequence[ApiKeyHasher] = (),
    ) -> None:
        if cache_ttl < 0 or touch_interval < 0:
            raise ConfigurationError("the API-key cache TTL and touch interval are >= 0")
        self.hasher = hasher
        self.previous = tuple(previous)  # under AUTH_SECRET_PREVIOUS, tried after ``hasher``
        self.store = store
        self.cache_ttl = float(cache_ttl)
        self.touch_interval = float(touch_interval)
        self._clock = clock
        # prefix -> (record, or None for no such key; when it was read); bounded, oldest
        # dropped first. Absent keys are remembered too, so that an unknown prefix and a known
        # one take the same path (see authenticate).
        self._cache: collections.OrderedDict[str, tuple[ApiKeyRecord | None, float]] = (
            collections.OrderedDict()
        )
        self._touched: dict[str, float] = {}
        # The Principal of each cached record (by the record's identity, holding it), shared by
        # the requests the record serves: tokenward.caches' rules for a shared Principal.
        self._principals: dict[int, tuple[ApiKeyRecord, Principal]] = {}
        # Off for a per-process random secret (development without AUTH_SECRET): its keys die
        # with the process, and the check value it wrote would refuse the next process's.
        self._secret_checked = not check_secret

    # --- management (an access token's owner) --------------------------------------------------

    @staticmethod
    def _manager(owner: Principal) -> None:
        refuse_api_key(owner, "API keys")

    async def verify_secret(self) -> bool:
        """Whether the store's API keys were made under this service's hashing key (the same
        ``AUTH_SECRET``). The first call on a store without a check value writes it, so the
        first instance to start (or the first creation) decides; True when the store keeps no
        check value (a store of your own without ``claim_api_key_check``) or checking is off."""
        if self._secret_checked:
            return True
        claim = getattr(self.store, "claim_api_key_check", None)
        if claim is None:
            return True
        probe, _ = self.hasher.new_key()
        probe_hash = self.hasher.hash(probe)
        stored, stored_hash = await claim(probe, probe_hash, now=self._clock())
        if not self.hasher.matches(stored, stored_hash):
            if not any(old.matches(stored, stored_hash) for old in self.previous):
                return False
            # Made under a previous secret (a rotation): record the current one from now on;
            # of several instances doing so at once, the first wins, the others find it done.
            replace = getattr(self.store, "replace_api_key_check", None)
            if replace is not None:
                await replace(stored_hash, probe, probe_hash, now=self._clock())
                _log.info("tokenward: the store's API-key check value now names AUTH_SECRET")
        self._secret_checked = True
        return True

    async def _check_secret(self) -> None:
        """ConfigurationError when the store's keys were made under another hashing key."""
        if not await self.verify_secret():
            raise ConfigurationError(
                "this AUTH_SECRET is not the one the store's API keys were made with: a key "
                "created with it would be refused by every server; use the servers' AUTH_SECRET"
            )

    async def create(
        self,
        owner: Principal,
        *,
        name: str,
        scopes: Sequence[str] = (),
        groups: Sequence[str] = (),
        expires_in: float | None = None,
        allowed_scopes: Iterable[str] | None = None,
    ) -> NewApiKey:
        """A new key for ``owner``. ``scopes`` must be among ``allowed_scopes`` (what the owner
        may have, by default its own scopes) and ``groups`` among the owner's groups: asking for
        more is an AuthorizationError (403). The key is in ``groups`` only (none by default).
        Bad values (name, scopes, groups, lifetime) are ValueError; a store whose keys were
        made under another ``AUTH_SECRET`` is a ConfigurationError."""
        from tokenward.stores import ApiKeyRecord, DuplicateKeyError

        self._manager(owner)
        clean_name = _check_name(name)
        wanted = _check_scopes(scopes)
        key_groups = _check_groups(groups)
        lifetime = _check_lifetime(expires_in)
        outside = tuple(g for g in key_groups if g not in owner.groups)
        if outside:
            raise AuthorizationError(
                "An API key can only be in groups its owner is in; the caller is not in: "
                + ", ".join(outside)
                + ".",
                subject=owner.subject,
            )
        allowed = set(owner.scopes if allowed_scopes is None else allowed_scopes)
        beyond = tuple(s for s in wanted if s not in allowed)
        if beyond:
            raise AuthorizationError(
                "an API key cannot hold scopes its owner does not have",
                subject=owner.subject,
                missing_scopes=beyond,
            )
        await self._check_secret()
        now = self._clock()
        for attempt in range(_CREATE_ATTEMPTS):
            key, prefix = self.hasher.new_key()
            record = ApiKeyRecord(
                id="ak_" + DebugTokens.random_id(12),
                prefix=prefix,
                key_hash=self.hasher.hash(key),
                name=clean_name,
                owner_subject=owner.subject,
                owner_email=owner.email,
                owner_groups=tuple(owner.groups),
                scopes=wanted,
                created_at=now,
                expires_at=None if lifetime is None else now + lifetime,
                groups=key_groups,
            )
            try:
                await self.store.add_api_key(record)
            except DuplicateKeyError:  # a prefix seen before: 54 random bits, so very rare
                if attempt + 1 == _CREATE_ATTEMPTS:
                    raise
                continue
            self._cache.pop(prefix, None)  # were it remembered as absent
            return NewApiKey(key, record)
        raise StoreError("could not store a new API key")  # pragma: no cover - loop returns

    async def list(self, owner: Principal) -> list[ApiKeyRecord]:
        """The owner's keys, newest first, revoked ones included (never a key or a hash is
        returned by the routes that show them)."""
        self._manager(owner)
        return await self.store.list_api_keys(owner.subject)

    async def revoke(self, owner: Principal, key_id: str) -> bool:
        """Revoke one of the owner's keys; False when there is no such key of theirs."""
        self._manager(owner)
        done = await self.store.revoke_api_key(
            key_id, owner_subject=owner.subject, now=self._clock()
        )
        if done:
            for prefix, (record, _) in list(self._cache.items()):
                if record is not None and record.id == key_id:
                    del self._cache[prefix]
        return done

    # --- checking (the api_key strategy) --------------------------------------------------------

    async def _record(self, prefix: str, now: float) -> ApiKeyRecord | None:
        # A known and an unknown prefix take the same path: with the cache on, both are
        # remembered (an absent key as None) and served from memory until the TTL passes;
        # without it, both ask the store every time.
        if self.cache_ttl > 0:
            hit = self._cache.get(prefix)
            if hit is not None and now - hit[1] < self.cache_ttl:
                return hit[0]
        record = await self.store.get_api_key(prefix)
        if self.cache_ttl > 0:
            self._cache[prefix] = (record, now)
            self._cache.move_to_end(prefix)
            while len(self._cache) > _CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return record

    async def _touch(self, record: ApiKeyRecord, now: float) -> None:
        last = max(self._touched.get(record.id, 0.0), record.last_used_at or 0.0)
        if now - last < self.touch_interval:
            return
        self._touched[record.id] = now
        if len(self._touched) > _CACHE_ENTRIES:
            self._touched.clear()
        try:
            await self.store.touch_api_key(record.id, now=now, min_interval=self.touch_interval)
        except StoreError as exc:  # the key was proven good; last_used_at can wait
            _log.warning("tokenward: cannot record an API key's last use: %s", exc)

    def _matches(self, key: str, stored: str) -> bool:
        """Whether ``key`` hashes to ``stored`` under the current secret or a previous one."""
        if self.hasher.matches(key, stored):
            return True
        found = False
        for old in self.previous:  # every one, whatever matches: a miss costs the same
            found = old.matches(key, stored) or found
        return found

    async def authenticate(self, key: str) -> Principal:
        """The principal of a valid key (its owner as at creation, the key's scopes and groups);
        :class:`~tokenward.InvalidApiKeyError` for a wrong, expired or revoked one."""
        if not ApiKeyHasher.is_api_key(key):
            raise InvalidApiKeyError("malformed", "not an API key")
        now = self._clock()
        record = await self._record(ApiKeyHasher.prefix_of(key), now)
        # An HMAC is computed and compared even when the prefix is unknown (against a hash no
        # key has), so both cost the same; an empty hash would return before hashing. So is one
        # per previous secret (AUTH_SECRET_PREVIOUS) when the current one does not match.
        stored = record.key_hash if record is not None else _NO_HASH
        if not self._matches(key, stored) or record is None:
            raise InvalidApiKeyError("unknown", "the API key is not known")
        if record.revoked_at is not None:
            raise InvalidApiKeyError("revoked", "the API key was revoked")
        if record.expires_at is not None and now >= record.expires_at:
            raise InvalidApiKeyError("expired", "the API key has expired")
        await self._touch(record, now)
        found = self._principals.get(id(record))
        if found is not None and found[0] is record:
            return found[1]
        principal = Principal(
            subject=record.owner_subject,
            credential_type="api_key",
            email=record.owner_email,
            groups=record.groups,
            scopes=record.scopes,
            provider="api_key",
            credential_id=record.id,
        )
        if self.cache_ttl > 0:  # the record is served again until the TTL passes
            object.__setattr__(principal, "shared", True)
            remember(self._principals, id(record), (record, principal), _CACHE_ENTRIES)
        return principal
