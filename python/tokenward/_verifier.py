"""``tokenward.Verifier``: the native verifier over fixed keys or a key source.

``verify`` is the C++ method itself, with no Python frame in between, whatever the keys:

* fixed keys (a :class:`~tokenward.JWK` or :class:`~tokenward.JWKSet`): checked in C++;
* a built-in key source (:class:`~tokenward.RemoteJWKS`, :class:`~tokenward.KeyRing`): the C++
  verifier reads the source's native cache directly; while its keys are fresh and hold the
  token's kid nothing calls Python. Otherwise (a refresh is due, an unknown kid) it calls
  :meth:`Verifier._verify_slow`, which asks the source (:mod:`tokenward.keysource`);
* any other :class:`~tokenward.KeySource`: asked through ``_verify_slow`` for each token.

``verify_async`` first tries the native fast path (the keys at hand decide) and awaits the key
source only when it must.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tokenward import _core
from tokenward._core import JWK, FieldCipher, JWKSet
from tokenward.exceptions import KeyNotFoundError
from tokenward.keysource import KeySource, _native_cache

__all__ = ["Verifier"]


class Verifier(_core.Verifier):
    """A compiled verification policy, safe to share between threads and event loops.

    ``keys`` is a JWK, a JWKSet, or a :class:`~tokenward.KeySource` (a
    :class:`~tokenward.RemoteJWKS`, a :class:`~tokenward.KeyRing`, your own). Other arguments are
    those of the native verifier: ``algorithms`` (required), ``issuer``, ``audience``,
    ``leeway``, ``require``, ``typ``, ``max_token_size``, ``field_cipher``, ``cache_size``, and
    ``access_token`` (check the claims rules of tokenward's own access tokens, in the native core:
    ``token_use`` "access", ``sub``, ``jti``, ``email``, ``scope``, ``cognito:groups``).
    ``verify`` releases the GIL while it checks a token; ``verify_async`` never blocks the event
    loop on I/O.
    """

    _source: KeySource | None

    def __init__(
        self,
        keys: JWK | JWKSet | KeySource,
        *,
        algorithms: Sequence[str],
        issuer: str | Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        leeway: float = 0,
        require: Sequence[str] = (),
        typ: str | None = None,
        max_token_size: int = 65536,
        field_cipher: FieldCipher | None = None,
        cache_size: int = 0,
        access_token: bool = False,
    ) -> None:
        native: JWK | JWKSet | _core.JWKSCache | None
        if isinstance(keys, JWK | JWKSet):
            native, self._source = keys, None
        elif isinstance(keys, KeySource):
            native, self._source = _native_cache(keys), keys
        else:
            raise TypeError(
                "keys must be a JWK, a JWKSet or a key source (get_keys, get_keys_async, "
                f"keys_for_kid, keys_for_kid_async); not {type(keys).__name__}"
            )
        super().__init__(
            native,
            algorithms=algorithms,
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            require=require,
            typ=typ,
            max_token_size=max_token_size,
            field_cipher=field_cipher,
            cache_size=cache_size,
            access_token=access_token,
        )

    @property
    def source(self) -> KeySource | None:
        """The key source this verifier asks, or None for fixed keys."""
        return self._source

    async def verify_async(self, token: str | bytes, *, now: float | None = None) -> dict[str, Any]:
        """``verify`` for coroutines. With keys at hand the check runs inline (it takes
        microseconds and releases the GIL); only a key fetch is awaited."""
        claims = self._try_verify(token, now)
        if claims is not None:
            return claims
        return await self._verify_slow_async(token, now)

    async def check_async(self, token: str | bytes, *, now: float | None = None) -> None:
        """:meth:`verify_async` without the claims: None for a valid token, the same errors
        otherwise. A token in the verified-token cache costs a look-up and its times only (for
        a caller that kept what it made of the claims the first time)."""
        if not self._try_check(token, now):
            await self._verify_slow_async(token, now)

    # --- the slow path: ask the key source ----------------------------------------------------

    def _verify_slow(self, token: str | bytes, now: float | None) -> dict[str, Any]:
        """Called by the native ``verify`` when its keys cannot decide alone."""
        source = self._require_source()
        keys = source.get_keys()
        try:
            return self._verify_with(keys, token, now)
        except KeyNotFoundError:
            newer = source.keys_for_kid(_kid_of(token))
            if newer is None:
                raise
        return self._verify_with(newer, token, now)

    async def _verify_slow_async(self, token: str | bytes, now: float | None) -> dict[str, Any]:
        source = self._require_source()
        keys = await source.get_keys_async()
        try:
            return self._verify_with(keys, token, now)
        except KeyNotFoundError:
            newer = await source.keys_for_kid_async(_kid_of(token))
            if newer is None:
                raise
        return self._verify_with(newer, token, now)

    def _require_source(self) -> KeySource:
        if self._source is None:  # pragma: no cover - the native side never asks then
            raise RuntimeError("a verifier with fixed keys has no key source")
        return self._source

    def __repr__(self) -> str:
        if self._source is None:
            return f"<Verifier algorithms={self.algorithms!r}>"
        return f"<Verifier keys={self._source!r}>"


def _kid_of(token: str | bytes) -> str | None:
    kid = _core.unverified_header(token).get("kid")
    return kid if isinstance(kid, str) else None
