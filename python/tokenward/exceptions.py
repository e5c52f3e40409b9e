"""The tokenward exception tree.

Everything tokenward raises on purpose derives from :class:`TokenwardError`.

* :class:`InvalidTokenError` (also a :class:`ValueError`) and its subclasses mean the token was
  at fault: answer 401. Messages say what was wrong and never echo key material.
* :class:`InvalidKeyError` and :class:`ConfigurationError` sit outside that branch: they mean the
  caller's keys or settings are unusable, which no client can fix, so they must not become a 401.
* :class:`KeySetUnavailableError` sits outside it too: the keys to check a token with cannot be
  had right now (a remote key set is unreachable), so the answer is 503, not 401.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DecryptionError",
    "ExpiredTokenError",
    "ImmatureTokenError",
    "InvalidAudienceError",
    "InvalidClaimError",
    "InvalidIssuerError",
    "InvalidKeyError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "KeyNotFoundError",
    "KeySetUnavailableError",
    "MalformedTokenError",
    "MissingClaimError",
    "TokenwardError",
    "UnsupportedAlgorithmError",
]


class TokenwardError(Exception):
    """Base class of every error tokenward raises."""


class InvalidTokenError(TokenwardError, ValueError):
    """The token must be refused. Subclasses say why."""


class MalformedTokenError(InvalidTokenError):
    """Not a well-formed compact JWS/JWT: bad base64url, JSON, header, size or nesting."""


class InvalidSignatureError(InvalidTokenError):
    """The signature does not verify with the selected key."""


class ExpiredTokenError(InvalidTokenError):
    """The ``exp`` claim has passed (after leeway)."""


class ImmatureTokenError(InvalidTokenError):
    """The ``nbf`` or ``iat`` claim lies in the future (after leeway)."""


class InvalidIssuerError(InvalidTokenError):
    """The ``iss`` claim is not one of the accepted issuers."""


class InvalidAudienceError(InvalidTokenError):
    """The ``aud`` claim names no accepted audience, or names one where none is expected."""


class MissingClaimError(InvalidTokenError):
    """A required claim is absent."""


class InvalidClaimError(InvalidTokenError):
    """A claim or header value has the wrong type or value."""


class KeyNotFoundError(InvalidTokenError):
    """No key (or more than one) in the key set matches the token."""


class UnsupportedAlgorithmError(InvalidTokenError):
    """The token's algorithm is unknown, ``none``, not allowed, or does not fit the key."""


class DecryptionError(InvalidTokenError):
    """An encrypted field did not decrypt: tampered, truncated, or under a key the cipher lacks.

    The message is the same for every cause, so it reveals nothing about the plaintext or the key.
    """


class InvalidKeyError(TokenwardError):
    """Key material is unusable: malformed, too weak, or not permitted for the operation."""


class ConfigurationError(TokenwardError):
    """tokenward was set up inconsistently (arguments, settings, environment)."""


class KeySetUnavailableError(TokenwardError):
    """No usable verification keys: the key set could not be fetched (or only garbage came back)
    and no earlier good keys are left within their stale bound.

    Not the token's fault, so not an :class:`InvalidTokenError`: a server answers 503, never
    401 (which would tell a client to sign in again) and never 200.
    """
