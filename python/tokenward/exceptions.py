"""The tokenward exception tree.

Everything tokenward raises on purpose derives from :class:`TokenwardError`.

* :class:`InvalidTokenError` (also a :class:`ValueError`) and its subclasses mean the token was
  at fault: answer 401. Messages say what was wrong and never echo key material.
* :class:`InvalidKeyError` and :class:`ConfigurationError` sit outside that branch: they mean the
  caller's keys or settings are unusable, which no client can fix, so they must not become a 401.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "ExpiredTokenError",
    "ImmatureTokenError",
    "InvalidAudienceError",
    "InvalidClaimError",
    "InvalidIssuerError",
    "InvalidKeyError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "KeyNotFoundError",
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


class InvalidKeyError(TokenwardError):
    """Key material is unusable: malformed, too weak, or not permitted for the operation."""


class ConfigurationError(TokenwardError):
    """tokenward was set up inconsistently (arguments, settings, environment)."""
