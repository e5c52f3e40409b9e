"""Key sources: where a :class:`~tokenward.Verifier` gets its keys.

A verifier is given either fixed keys (a :class:`~tokenward.JWK` or :class:`~tokenward.JWKSet`)
or a *key source*: any object with the four methods of :class:`KeySource`. tokenward ships three:
:class:`StaticKeys` (a fixed set behind the protocol), :class:`~tokenward.RemoteJWKS` (a JWKS
fetched over HTTPS and cached) and :class:`~tokenward.KeyRing` (the keys of an issuer, rotated).

The verifier's side of the contract, for each token:

1. ``get_keys()`` (``await get_keys_async()`` in ``verify_async``): the keys to check it with.
   The source may do I/O here (fetch keys that are missing or due for a refresh); it raises
   :class:`~tokenward.KeySetUnavailableError` when no usable keys can be had (a 503, never a 401).
2. If the token names a key those keys lack, ``keys_for_kid(kid)`` (``kid`` from the token's
   header, None when it has none): return keys that should hold it (after a refresh, if the
   source's policy allows one now) and the verifier tries once more; return None when there is
   nothing newer (the token is refused with :class:`~tokenward.KeyNotFoundError`); raise
   KeySetUnavailableError when the source cannot tell a rotated key from a forged kid (its keys
   cannot be refreshed).

A source must be safe to call from several threads and event loops at once. The async methods must
not block the loop. A source that has nothing to wait for implements them by calling the sync
ones.

Built-in sources also carry ``_tokenward_cache``: a native cache (``tokenward._core.JWKSCache``)
that the verifier reads in C++ without calling Python while the keys are fresh; a custom source
leaves it out and is asked on every verification.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tokenward._core import JWK, JWKSet

if TYPE_CHECKING:
    from tokenward._core import JWKSCache

__all__ = ["KeySource", "StaticKeys"]


@runtime_checkable
class KeySource(Protocol):
    """What a :class:`~tokenward.Verifier` asks for keys; see the module docs for the contract."""

    def get_keys(self) -> JWKSet:
        """The keys to verify with now (may do I/O); KeySetUnavailableError if none."""
        ...

    async def get_keys_async(self) -> JWKSet:
        """:meth:`get_keys` without blocking the event loop."""
        ...

    def keys_for_kid(self, kid: str | None) -> JWKSet | None:
        """Keys that may hold ``kid`` (the token's key is not in :meth:`get_keys`'s set), or None
        when there are none newer; KeySetUnavailableError when the source cannot tell."""
        ...

    async def keys_for_kid_async(self, kid: str | None) -> JWKSet | None:
        """:meth:`keys_for_kid` without blocking the event loop."""
        ...


class StaticKeys:
    """A fixed key set as a :class:`KeySource` (for code written against the protocol).

    A :class:`~tokenward.Verifier` given a ``JWKSet`` directly is faster: use this only where a
    key source is expected.
    """

    def __init__(self, keys: JWK | JWKSet) -> None:
        self._keys = JWKSet([keys]) if isinstance(keys, JWK) else keys
        if not isinstance(self._keys, JWKSet):
            raise TypeError("StaticKeys needs a JWK or a JWKSet")

    def __repr__(self) -> str:
        return f"<StaticKeys of {len(self._keys)} keys>"

    def get_keys(self) -> JWKSet:
        return self._keys

    async def get_keys_async(self) -> JWKSet:
        return self._keys

    def keys_for_kid(self, kid: str | None) -> JWKSet | None:
        return None  # fixed: nothing newer ever comes

    async def keys_for_kid_async(self, kid: str | None) -> JWKSet | None:
        return None


def _native_cache(source: object) -> JWKSCache | None:
    """The native cache a built-in source shares with the verifier, or None (a custom source)."""
    from tokenward._core import JWKSCache

    cache = getattr(source, "_tokenward_cache", None)
    return cache if isinstance(cache, JWKSCache) else None
