"""``tokenward.KeyRing``: the keys of an issuer (a service that signs its own tokens).

A ring holds

* the **current** key, which signs every new token;
* **previous** keys, which signed tokens that may still be live: they stay published (and
  accepted) until every token they signed has expired — ``max_token_lifetime + leeway`` after
  they stopped signing — and are dropped then;
* optionally a **next** key (:meth:`KeyRing.stage_next`), published before it signs anything, so
  that verifiers holding a cached copy of the set (for up to its ``max-age``) know it before its
  first token.

:meth:`KeyRing.rotate` makes the next key current (or a new one, when none is staged). Keys are
named by their RFC 7638 thumbprint and carry their algorithm: RS256, PS256, ES256, EdDSA, or
HS256 (a shared secret: such a ring verifies its own tokens and publishes nothing).

The ring is a :class:`~tokenward.KeySource`: ``Verifier(ring, algorithms=[ring.algorithm])`` (or
:meth:`KeyRing.verifier`) accepts tokens of every published key and sees a rotation at once.
:meth:`KeyRing.public_jwks` is the document to serve at ``/.well-known/jwks.json`` (see
``tokenward.fastapi.jwks_router``). The keys and the signing live in C++ (cpp/src/key_ring.cpp);
this module adds files and time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tokenward import _core
from tokenward._api import _numeric_dates
from tokenward._core import JWK, JWKSCache, JWKSet
from tokenward._verifier import Verifier
from tokenward.exceptions import ConfigurationError, InvalidKeyError

__all__ = ["RING_ALGORITHMS", "KeyRing"]

RING_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA", "HS256")
DEFAULT_MAX_TOKEN_LIFETIME = 3600.0

_log = logging.getLogger("tokenward.keyring")
_META = "tokenward_ring"  # our member of a saved JWK set: states and retirement times


def _algorithm(name: str) -> str:
    if name not in RING_ALGORITHMS:
        raise ConfigurationError(
            f"a key ring signs with one of {', '.join(RING_ALGORITHMS)}, not {name!r}"
        )
    return name


def _seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigurationError(f"{name} must be a number >= 0")
    if value == float("inf"):
        raise ConfigurationError(f"{name} must be finite")
    return float(value)


class KeyRing:
    """An issuer's signing keys; see the module docs.

    ``KeyRing.generate("ES256", max_token_lifetime=900)`` starts a ring with one new key;
    ``KeyRing(keys=[current, *previous], ...)`` takes existing private keys (current first);
    :meth:`load`/:meth:`save` read and write a JWK set file (or PEM); :meth:`load_or_create` is
    the development helper. ``max_token_lifetime`` is the longest lifetime of a token the ring
    signs and ``leeway`` the verifiers' clock leeway: a previous key stays published for their
    sum after it stopped signing. ``clock`` (seconds since the epoch) is for tests. Safe to share
    between threads.
    """

    def __init__(
        self,
        algorithm: str,
        keys: Sequence[JWK],
        *,
        next_key: JWK | None = None,
        max_token_lifetime: float = DEFAULT_MAX_TOKEN_LIFETIME,
        leeway: float = 0.0,
        clock: Callable[[], float] = time.time,
        _retired: Mapping[str, float] | None = None,
    ) -> None:
        self._clock = clock
        alg = _algorithm(algorithm)
        retain = _seconds("max_token_lifetime", max_token_lifetime) + _seconds("leeway", leeway)
        if not keys:
            raise ConfigurationError("a key ring needs at least its current key")
        now = clock()
        retired = _retired or {}
        entries: list[tuple[JWK, str, float]] = []
        for i, key in enumerate(keys):
            if not isinstance(key, JWK):
                raise TypeError("keys must be JWK objects")
            state = "current" if i == 0 else "previous"
            entries.append((key, state, float(retired.get(key.kid or "", now))))
        if next_key is not None:
            entries.append((next_key, "next", 0.0))
        self._ring = _core.KeyRing(alg, retain, entries)

    @classmethod
    def generate(
        cls,
        algorithm: str,
        *,
        with_next: bool = False,
        max_token_lifetime: float = DEFAULT_MAX_TOKEN_LIFETIME,
        leeway: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> KeyRing:
        """A ring with one new key (and a staged next key with ``with_next=True``)."""
        key = _core.KeyRing.new_key(_algorithm(algorithm))
        ring = cls(
            algorithm, [key], max_token_lifetime=max_token_lifetime, leeway=leeway, clock=clock
        )
        if with_next:
            ring.stage_next()
        return ring

    # --- what it holds ------------------------------------------------------------------------

    def __repr__(self) -> str:
        states = [state for _, state, _ in self._ring.keys]
        return f"<KeyRing {self.algorithm} current={self.current_kid!r} keys={states}>"

    @property
    def algorithm(self) -> str:
        return self._ring.algorithm

    @property
    def current_kid(self) -> str:
        return self._ring.current_kid

    @property
    def next_kid(self) -> str | None:
        return next((k.kid for k, state, _ in self._ring.keys if state == "next"), None)

    @property
    def kids(self) -> list[str]:
        """Every key's kid: current first, then the next key, then previous keys."""
        self._prune()
        return [k.kid or "" for k, _, _ in self._ring.keys]

    @property
    def retention(self) -> float:
        """Seconds a previous key stays published after it stopped signing."""
        return self._ring.retain

    @property
    def publishes(self) -> bool:
        """False for an HMAC ring: its keys are secrets, and there is nothing to publish."""
        return not self._ring.symmetric

    # --- issuing ------------------------------------------------------------------------------

    def sign(self, claims: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
        """A JWT of ``claims`` signed by the current key (header: ``alg``, ``typ: JWT``, ``kid``;
        ``headers`` may add members but not ``alg``, ``kid`` or ``crit``)."""
        return self._ring.sign(_numeric_dates(claims), headers)

    def rotate(self) -> str:
        """Make the next key (or a new one) current; the old current key becomes a previous key.
        Returns the new current kid."""
        kid = self._ring.rotate(self._clock())
        _log.info("key ring rotated: %s now signs", kid)
        return kid

    def stage_next(self) -> str:
        """Publish a next key ahead of its use (kept if one is staged already); returns its kid."""
        return self._ring.stage_next()

    def public_jwks(self) -> dict[str, Any]:
        """The published set, ``{"keys": [...]}``: public members only, each with ``kid``,
        ``alg`` and ``use: "sig"``. Empty for an HMAC ring."""
        self._prune()
        return self._ring.public_jwks()

    def verifier(self, **options: Any) -> Verifier:
        """A :class:`~tokenward.Verifier` of this ring's tokens (``algorithms`` defaults to the
        ring's); other keyword arguments go to the Verifier."""
        options.setdefault("algorithms", [self.algorithm])
        return Verifier(self, **options)

    def _prune(self) -> None:
        self._ring.prune(self._clock())

    # --- KeySource ----------------------------------------------------------------------------

    @property
    def _tokenward_cache(self) -> JWKSCache:
        return self._ring.cache

    def get_keys(self) -> JWKSet:
        keys = self._ring.cache.keys
        if keys is None:  # pragma: no cover - a ring always publishes its keys
            raise ConfigurationError("the key ring has no keys")
        return keys

    async def get_keys_async(self) -> JWKSet:
        return self.get_keys()

    def keys_for_kid(self, kid: str | None) -> JWKSet | None:
        return None  # the ring is the authority: a kid it does not hold is unknown

    async def keys_for_kid_async(self, kid: str | None) -> JWKSet | None:
        return None

    # --- files --------------------------------------------------------------------------------

    def to_json(self) -> str:
        """The ring as a JWK set with private members (current first), plus the states and
        retirement times under ``tokenward_ring``. Secret: store it as you store passwords."""
        keys = self._ring.keys
        doc = {
            "keys": [k.to_dict(private=True) for k, _, _ in keys],
            _META: {
                "algorithm": self.algorithm,
                "next": self.next_kid,
                "retired": {k.kid: at for k, state, at in keys if state == "previous"},
            },
        }
        return json.dumps(doc, indent=2)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the ring to ``path`` (file mode 0600, replaced atomically): a JWK set, or PEM
        blocks (current first, no states) when the name ends in ``.pem``."""
        target = Path(path)
        if target.suffix == ".pem":
            data = self._ring.private_pem()
        else:
            data = self.to_json().encode()
        _write_private(target, data)

    @classmethod
    def from_json(
        cls,
        data: str | bytes | Mapping[str, Any],
        *,
        algorithm: str | None = None,
        max_token_lifetime: float = DEFAULT_MAX_TOKEN_LIFETIME,
        leeway: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> KeyRing:
        """A ring from a JWK set of private keys, current first (a document :meth:`to_json`
        wrote keeps its next key and retirement times)."""
        try:
            doc = json.loads(data) if isinstance(data, str | bytes) else dict(data)
        except ValueError:
            raise InvalidKeyError("a key ring file must be a JWK set (JSON) or PEM") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
            raise InvalidKeyError('a key ring file must be a JWK set: {"keys": [...]}')
        found = doc.get(_META)
        meta: dict[str, Any] = found if isinstance(found, dict) else {}
        keys = [JWK.from_json(k) for k in doc["keys"]]
        alg = algorithm or meta.get("algorithm") or (keys[0].algorithm if keys else None)
        if not isinstance(alg, str):
            raise ConfigurationError("the ring's algorithm is not in the file: pass algorithm=")
        next_kid = meta.get("next")
        found_retired = meta.get("retired")
        retired: dict[str, Any] = found_retired if isinstance(found_retired, dict) else {}
        nxt = next((k for k in keys if next_kid is not None and k.kid == next_kid), None)
        rest = [k for k in keys if k is not nxt]
        return cls(
            alg,
            rest,
            next_key=nxt,
            max_token_lifetime=max_token_lifetime,
            leeway=leeway,
            clock=clock,
            _retired={str(k): float(v) for k, v in retired.items()},
        )

    @classmethod
    def from_pem(
        cls,
        data: str | bytes,
        algorithm: str,
        *,
        max_token_lifetime: float = DEFAULT_MAX_TOKEN_LIFETIME,
        leeway: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> KeyRing:
        """A ring from PEM private keys (PKCS#8, PKCS#1 or SEC1), the current one first."""
        text = data.decode() if isinstance(data, bytes) else data
        blocks = _pem_blocks(text)
        if not blocks:
            raise InvalidKeyError("no PEM private key found")
        alg = _algorithm(algorithm)
        keys = [JWK.from_pem(block, alg) for block in blocks]
        return cls(alg, keys, max_token_lifetime=max_token_lifetime, leeway=leeway, clock=clock)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        algorithm: str | None = None,
        max_token_lifetime: float = DEFAULT_MAX_TOKEN_LIFETIME,
        leeway: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> KeyRing:
        """Read a ring that :meth:`save` wrote (or any JWK set or PEM file of private keys)."""
        data = Path(path).read_bytes()
        options: dict[str, Any] = {
            "max_token_lifetime": max_token_lifetime,
            "leeway": leeway,
            "clock": clock,
        }
        if data.lstrip().startswith(b"-----BEGIN"):
            if algorithm is None:
                raise ConfigurationError("a PEM key ring needs algorithm= (PEM does not say it)")
            return cls.from_pem(data, algorithm, **options)
        return cls.from_json(data, algorithm=algorithm, **options)

    @classmethod
    def load_or_create(
        cls,
        path: str | os.PathLike[str],
        algorithm: str,
        *,
        max_token_lifetime: float = DEFAULT_MAX_TOKEN_LIFETIME,
        leeway: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> KeyRing:
        """For development: the ring saved at ``path``, or a new one saved there (mode 0600) when
        the file is missing or holds keys of another algorithm."""
        target = Path(path)
        options: dict[str, Any] = {
            "max_token_lifetime": max_token_lifetime,
            "leeway": leeway,
            "clock": clock,
        }
        _algorithm(algorithm)
        if target.exists():
            mode = stat.S_IMODE(target.stat().st_mode)
            if mode & 0o077:
                _log.warning("the key ring file %s is readable by others (mode %o)", target, mode)
            data = target.read_bytes()
            if data.lstrip().startswith(b"-----BEGIN"):
                # PEM does not say the algorithm: the first key's type and curve do.
                blocks = _pem_blocks(data.decode())
                if not blocks:
                    raise InvalidKeyError(f"{target} holds no PEM private key")
                first = JWK.from_pem(blocks[0])
                found = algorithm if _fits(first, algorithm) else f"a {first.key_type} key"
                if found == algorithm:
                    return cls.from_pem(data, algorithm, **options)
            else:
                ring = cls.from_json(data, **options)
                if ring.algorithm == algorithm:
                    return ring
                found = ring.algorithm
            _log.warning(
                "the key ring at %s holds %s, not %s: replacing it with a new key",
                target,
                found,
                algorithm,
            )
        ring = cls.generate(algorithm, **options)
        ring.save(target)
        return ring


def _fits(key: JWK, algorithm: str) -> bool:
    """Whether ``key``'s type (and curve) suit ``algorithm``; says nothing of its ``alg``."""
    if algorithm in ("RS256", "PS256"):
        return key.key_type == "RSA"
    if algorithm == "ES256":
        return key.key_type == "EC" and key.curve == "P-256"
    if algorithm == "EdDSA":
        return key.key_type == "OKP" and key.curve == "Ed25519"
    return key.key_type == "oct"


def _pem_blocks(text: str) -> list[str]:
    blocks: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("-----BEGIN "):
            current = [line]
        elif current is not None:
            current.append(line)
            if line.startswith("-----END "):
                blocks.append("\n".join(current) + "\n")
                current = None
    return blocks


def _write_private(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` with mode 0600, atomically (a temporary file, then rename)."""
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
