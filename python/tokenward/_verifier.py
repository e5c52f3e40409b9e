"""``tokenward.Verifier``: the native verifier, plus remote keys and ``verify_async``.

With a :class:`~tokenward.JWK` or :class:`~tokenward.JWKSet`, ``Verifier(...)`` is the native
class with one method added (``verify_async``): ``verify`` is the C++ method itself, with no Python
frame in between. With a :class:`~tokenward.RemoteJWKS` it is a :class:`_RemoteVerifier`, which asks
the remote set for keys before each verification (a lock-free read while the keys are fresh) and,
when a token names a key it does not hold, for one cooldown-limited refresh and a second try.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from tokenward import _core
from tokenward._core import JWK, FieldCipher, JWKSet
from tokenward.exceptions import KeyNotFoundError, KeySetUnavailableError
from tokenward.jwks import RemoteJWKS, _Snapshot

__all__ = ["Verifier"]


class Verifier(_core.Verifier):
    """A compiled verification policy, safe to share between threads and event loops.

    ``keys`` is a JWK, a JWKSet, or a :class:`~tokenward.RemoteJWKS` (fetched, cached, refreshed
    on an unknown kid). Other arguments are those of the native verifier: ``algorithms`` (required),
    ``issuer``, ``audience``, ``leeway``, ``require``, ``typ``, ``max_token_size``,
    ``field_cipher``, ``cache_size``. ``verify`` releases the GIL while it checks a token;
    ``verify_async`` never blocks the event loop on I/O.
    """

    def __new__(cls, keys: JWK | JWKSet | RemoteJWKS, **kwargs: Any) -> Verifier:
        if isinstance(keys, RemoteJWKS) and not issubclass(cls, _RemoteVerifier):
            cls = _RemoteVerifier
        return _core.Verifier.__new__(cls)

    async def verify_async(self, token: str | bytes, *, now: float | None = None) -> dict[str, Any]:
        """``verify`` for coroutines. The check takes microseconds and releases the GIL, so it runs
        inline; only a key fetch waits, and it awaits (see :class:`_RemoteVerifier`)."""
        return self.verify(token, now=now)


class _RemoteVerifier(Verifier):
    """A Verifier whose keys come from a RemoteJWKS."""

    def __init__(
        self,
        keys: JWK | JWKSet | RemoteJWKS,
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
    ) -> None:
        if not isinstance(keys, RemoteJWKS):
            raise TypeError("_RemoteVerifier needs a RemoteJWKS")
        snap = keys._snapshot
        initial = snap.keys if snap.keys is not None else JWKSet([])
        super().__init__(
            initial,
            algorithms=algorithms,
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            require=require,
            typ=typ,
            max_token_size=max_token_size,
            field_cipher=field_cipher,
            cache_size=cache_size,
        )
        self._remote = keys
        self._generation = snap.generation if snap.keys is not None else 0
        self._swap_lock = threading.Lock()

    @property
    def remote(self) -> RemoteJWKS:
        """The remote key set this verifier reads."""
        return self._remote

    def _install(self, snap: _Snapshot) -> bool:
        """Swap in the keys of ``snap`` if they are newer than ours; True if they are."""
        if snap.generation <= self._generation or snap.keys is None:
            return False
        with self._swap_lock:
            if snap.generation > self._generation:  # never go back to an older set
                self.replace_keys(snap.keys)
                self._generation = snap.generation
        return True

    def verify(self, token: str | bytes, *, now: float | None = None) -> dict[str, Any]:
        remote = self._remote
        remote._keys_of(snap := remote._current())  # KeySetUnavailableError: none usable
        self._install(snap)
        try:
            return super().verify(token, now=now)
        except KeyNotFoundError:
            if not self._install(remote._refreshed()):
                self._unknown_key()
                raise  # no newer keys: the cooldown holds, or the fetch brought the same kids
        return super().verify(token, now=now)

    async def verify_async(self, token: str | bytes, *, now: float | None = None) -> dict[str, Any]:
        remote = self._remote
        remote._keys_of(snap := await remote._current_async())
        self._install(snap)
        try:
            return super().verify(token, now=now)
        except KeyNotFoundError:
            if not self._install(await remote._refreshed_async()):
                self._unknown_key()
                raise
        return super().verify(token, now=now)

    def _unknown_key(self) -> None:
        """A token names a key we lack while the key set cannot be refreshed: we cannot tell a
        rotated key from a forged kid, so we cannot decide (503), rather than refuse (401)."""
        error = self._remote.last_error
        if error is not None:
            raise KeySetUnavailableError(
                f"the token names a key that is not cached, and {self._remote.url} "
                f"cannot be fetched: {error}"
            )

    def __repr__(self) -> str:
        return f"<Verifier keys={self._remote!r}>"
