"""The per-token caches of the request path, and the rules that tie them.

A request with a bearer token passes up to four caches, innermost first. Each saves work, never
a check: what a repeat skips is work whose result cannot differ from the first time, and every
check that can change its answer over time (expiry, the session check, the Cognito rules, the
scopes a route asks for) runs on every request.

1. **The verified-token cache** (C++, ``cpp/bindings/token_cache.*``; ``TOKEN_CACHE_SIZE``
   entries in the custom provider's ``DebugTokens`` and in each Cognito pool's ``Verifier``).
   Keeps the claims of a token that passed every check, keyed by the exact token text (its
   SHA-256). A repeat skips parsing and the signature check; it still checks ``exp`` (and
   ``nbf``, ``iat``) against the clock with the leeway, and drops the entry when the token is
   no longer valid. Safe because the signature and the claims are facts of the token text, and
   the keys that checked it do not change (``DebugTokens``) or empty the cache when they do
   (``replace_keys``). Rejections and tokens without a numeric ``exp`` are never kept. Bounded,
   the least recently used leaving first. See docs/architecture.md, "The verified-token cache".

2. :class:`PrincipalMemo` (one per provider, ``TOKEN_CACHE_SIZE`` entries). Keeps the
   :class:`~tokenward.principal.Principal` made from a token, keyed by the token text. A
   repeat skips the claim mapping. The provider asks it only after the token verified again on
   this request (1. above, or a full check), and the mapper depends on the claims alone, which
   the token text fixes: the same text always maps to the same Principal. The kept Principal
   is marked ``shared`` and holds a frozen copy of the claims (:func:`~tokenward.principal.freeze`),
   so no request can change what the next one sees. Bounded, the oldest leaving first.
   The API-key service does the same for a key: while it serves the key's record from its
   cache (``API_KEY_CACHE_TTL``; the key's hash is checked on every request), the Principal
   made from that record object is kept with it and marked ``shared``; a record read again
   from the store makes a new one.

3. :class:`ViewMemo` (``Auth.current_user``; ``TOKEN_CACHE_SIZE`` entries). Keeps the view
   (the FastAPI ``CurrentUser``) made from a Principal, keyed by the Principal's identity and
   holding the Principal, so the id cannot be reused while the entry lives. A repeat skips
   building the view and computing the effective scopes. Only ``shared`` Principals are kept
   (the decision is that flag, set by 2.): a Principal made for one request would only churn
   the memo. Safe because a shared Principal is immutable, the view depends on nothing but the
   Principal and the roles (``ROLES``, fixed when the app starts), and the view is immutable
   all the way down. Bounded, the oldest leaving first.

4. **The per-request memo** (``tokenward.fastapi.dependencies``; the ASGI scope's
   :data:`REQUEST_MEMO_KEY`). Keeps, for one request, the user each strategy set (``None``:
   the app's default) proved, so that several dependencies of one route
   (``require_groups`` beside ``require_current_user``...) check the credentials once. It lives
   exactly as long as the request. A remembered "no credentials" (``None``) is handed only to
   a dependency that accepts it (``optional_current_user``); any other runs its own checks
   and refuses.

None of them is shared between processes; a session ended elsewhere reaches this one through
the store (the session check, ``REVOKE_ACCESS_TOKENS``), never through these caches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from tokenward.principal import Principal, freeze

__all__ = ["REQUEST_MEMO_KEY", "PrincipalMemo", "ViewMemo", "remember"]

REQUEST_MEMO_KEY = "tokenward.users"
"""The key of the per-request memo (4.) in the ASGI scope."""

K = TypeVar("K")
V = TypeVar("V")


def remember(entries: dict[K, V], key: K, value: V, capacity: int) -> None:
    """``entries[key] = value`` in a dict of at most ``capacity`` entries (0: none), the oldest
    leaving first. Safe beside other threads doing the same (the GIL keeps each step whole)."""
    if not capacity:
        return
    while len(entries) >= capacity:
        try:
            del entries[next(iter(entries))]
        except (KeyError, RuntimeError, StopIteration):  # another thread got there first
            break
    entries[key] = value


class PrincipalMemo:
    """The Principals already made from verified tokens, by token text, so that a token seen
    again skips the claim mapping (2. in the module's list).

    It saves work, never a check: a provider asks it only after the token verified again on this
    request (signature or verified-token cache, ``exp``, issuer...), and the same token text
    always maps to the same Principal. A memoised Principal is shared by every request that sends
    its token, so it is marked ``shared`` and its ``claims`` are frozen all the way down
    (:func:`~tokenward.principal.freeze`: they compare equal to the token's JSON, but cannot
    change). At most ``capacity`` tokens are kept (the oldest leaves first); ``capacity=0`` keeps
    none. The mapper must depend on the claims alone (the built-in ones do), which is why only
    the providers' own mappers use it.
    """

    __slots__ = ("_entries", "capacity", "get")

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError("capacity must be 0 or more")
        self.capacity = capacity
        self._entries: dict[str, Principal] = {}
        self.get: Callable[[str], Principal | None] = self._entries.get
        """``get(token)``: the Principal made before for ``token``, or None (a dict look-up,
        no Python frame: the provider asks it first on every request)."""

    def __len__(self) -> int:
        return len(self._entries)

    def principal(
        self,
        token: str,
        claims: Mapping[str, Any],
        mapper: Callable[[Mapping[str, Any]], Principal],
    ) -> Principal:
        """The Principal of ``token``, whose verified claims are ``claims``: the one made
        before, or ``mapper(claims)`` holding a frozen copy of them (and kept, when the memo
        keeps any: only a kept Principal is marked ``shared``)."""
        found = self._entries.get(token)
        if found is not None:
            return found
        principal = mapper(claims)
        # Shared from now on: the Principal keeps a frozen copy, never the caller's dict.
        object.__setattr__(principal, "claims", freeze(claims))
        if self.capacity:
            object.__setattr__(principal, "shared", True)
            remember(self._entries, token, principal, self.capacity)
        return principal

    def clear(self) -> None:
        self._entries.clear()


class ViewMemo(Generic[V]):
    """Views of shared Principals (3. in the module's list): :meth:`view` returns
    ``build(principal)``, made once per shared Principal and kept (up to ``capacity``, the
    oldest leaving first; 0 keeps none). ``build`` must depend on the Principal alone (and on
    what does not change while the app runs), and return an immutable view."""

    __slots__ = ("_build", "_entries", "capacity")

    def __init__(self, build: Callable[[Principal], V], capacity: int) -> None:
        if capacity < 0:
            raise ValueError("capacity must be 0 or more")
        self._build = build
        self.capacity = capacity
        self._entries: dict[int, tuple[Principal, V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def view(self, principal: Principal) -> V:
        """The view of ``principal``: the one made before for this very Principal, or a new
        one (kept when the Principal is ``shared``)."""
        found = self._entries.get(id(principal))
        if found is not None and found[0] is principal:
            return found[1]
        made = self._build(principal)
        if principal.shared:
            # Keyed by identity, holding the Principal: its id cannot be reused while it is here.
            remember(self._entries, id(principal), (principal, made), self.capacity)
        return made

    def clear(self) -> None:
        self._entries.clear()
