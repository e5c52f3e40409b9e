"""The custom provider's signing keys, from the settings: which :class:`AccessTokenIssuer` signs
the access tokens, and the :class:`~tokenward.KeyRing` behind it.

* ``TOKEN_ALGORITHM=HS256`` (the default): HS256 under ``AUTH_SECRET`` (the native
  ``DebugTokens``), no ring, nothing to publish.
* ``RS256``, ``PS256``, ``ES256``, ``EdDSA``: a ring from ``SIGNING_KEY_FILE`` (a JWK set or PEM,
  the current key first). Unset, in development only (the settings check refuses it elsewhere),
  the ring is kept in ``.tokenward/signing-keys.json`` under the working directory (mode 0600,
  replaced by a new key when the algorithm changes), so tokens survive a restart.

:func:`rotate` makes the next (or a new) key current and writes the ring back to its file, except
to a PEM file (PEM has no room for the previous keys' retirement times).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tokenward._core import DebugTokens, FieldCipher
from tokenward.exceptions import ConfigurationError, TokenwardError
from tokenward.keyring import KeyRing
from tokenward.tokens import AccessTokenIssuer, DebugAccessTokens, RingAccessTokens

if TYPE_CHECKING:
    from tokenward.settings import AuthSettings

__all__ = ["DEV_KEY_DIR", "DEV_KEY_FILE", "SigningKeys", "build_signing_keys", "rotate"]

DEV_KEY_DIR = ".tokenward"
DEV_KEY_FILE = "signing-keys.json"

_log = logging.getLogger("tokenward")


@dataclass
class SigningKeys:
    """What signs the access tokens: the issuer, and its ring and file (None for HS256)."""

    access: AccessTokenIssuer
    ring: KeyRing | None = None
    path: Path | None = None


def build_signing_keys(
    settings: AuthSettings, tokens: DebugTokens, previous: Sequence[DebugTokens] = ()
) -> SigningKeys:
    """The access-token issuer the settings ask for; ConfigurationError naming the variable when
    the keys cannot be had. ``previous`` check HS256 tokens signed under older secrets."""
    algorithm = settings.token_algorithm
    if algorithm == "HS256":
        return SigningKeys(DebugAccessTokens(tokens, previous))
    lifetime = settings.access_token_lifetime.total_seconds()
    if settings.signing_key_file is not None:
        path = Path(settings.signing_key_file)
        ring = _load(settings, path)
    else:
        path = Path(DEV_KEY_DIR) / DEV_KEY_FILE
        ring = _dev_ring(settings, path)
    cipher = None
    if settings.field_encryption_secret is not None:
        try:
            cipher = FieldCipher(settings.field_encryption_secret.get_secret_value())
        except TokenwardError as exc:
            raise ConfigurationError(f"{settings.var('field_encryption_secret')}: {exc}") from None
    access = RingAccessTokens(
        ring,
        issuer=settings.token_issuer,
        leeway=settings.leeway,
        cache_size=settings.token_cache_size,
        field_cipher=cipher,
    )
    _log.info(
        "tokenward: access tokens signed with %s, key %s (max lifetime %.0f s)",
        algorithm,
        ring.current_kid,
        lifetime,
    )
    return SigningKeys(access, ring, path)


def _load(settings: AuthSettings, path: Path) -> KeyRing:
    var = settings.var("signing_key_file")
    algorithm = settings.token_algorithm
    try:
        pem = path.read_bytes().lstrip().startswith(b"-----BEGIN")
        ring = KeyRing.load(
            path,
            algorithm=algorithm if pem else None,  # a JWK set says its own
            max_token_lifetime=settings.access_token_lifetime.total_seconds(),
            leeway=settings.leeway,
        )
    except OSError as exc:
        raise ConfigurationError(f"{var}: cannot read {path}: {exc.strerror or exc}") from None
    except (TokenwardError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"{var}: {path} holds no usable {algorithm} keys: {exc}") from None
    if ring.algorithm != algorithm:
        raise ConfigurationError(
            f"{var}: {path} holds {ring.algorithm} keys, but {settings.var('token_algorithm')}="
            f"{algorithm}"
        )
    return ring


def _dev_ring(settings: AuthSettings, path: Path) -> KeyRing:
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        ring = KeyRing.load_or_create(
            path,
            settings.token_algorithm,
            max_token_lifetime=settings.access_token_lifetime.total_seconds(),
            leeway=settings.leeway,
        )
    except OSError as exc:
        raise ConfigurationError(
            f"cannot keep the development signing key in {path} ({exc.strerror or exc}): set "
            f"{settings.var('signing_key_file')}"
        ) from None
    except (TokenwardError, ValueError) as exc:
        raise ConfigurationError(
            f"the development signing key {path} is unusable ({exc}): delete it, or set "
            f"{settings.var('signing_key_file')}"
        ) from None
    _log.warning(
        "tokenward: %s is not set: signing with the development key in %s (%s). Set it to "
        "your own keys for a deployment.",
        settings.var("signing_key_file"),
        os.path.abspath(path),
        settings.token_algorithm,
    )
    return ring


def rotate(keys: SigningKeys) -> str:
    """Rotate the ring and save it back to its file (not a PEM file); returns the new kid."""
    if keys.ring is None:
        raise ConfigurationError(
            "HS256 access tokens are signed with AUTH_SECRET: there is no key ring to rotate"
        )
    kid = keys.ring.rotate()
    if keys.path is not None and keys.path.suffix != ".pem":
        try:
            keys.ring.save(keys.path)
        except OSError as exc:
            _log.warning(
                "tokenward: rotated to key %s, but cannot save the ring to %s (%s): a restart "
                "goes back to the previous key",
                kid,
                keys.path,
                exc.strerror or exc,
            )
    return kid
