"""tokenward: strict JOSE tokens for Python services, with a C++ core on OpenSSL 3.

The public API is what ``__all__`` lists. ``tokenward._core`` is the native module behind it and
not part of the API.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from tokenward import exceptions
from tokenward._api import (
    decode,
    encode,
    is_token_expired,
    token_expiry,
    unverified_claims,
    unverified_header,
)
from tokenward._core import (
    JWK,
    FieldCipher,
    JWKSet,
    RecoveryCodeHasher,
    base32_decode,
    base32_encode,
    hotp_code,
    totp_code,
    totp_secret,
    totp_verify,
)
from tokenward._verifier import Verifier
from tokenward.cognito import CognitoPool, CognitoVerifier
from tokenward.exceptions import (
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    DecryptionError,
    DuplicateKeyError,
    ExpiredTokenError,
    ExternalProviderUnavailableError,
    ExternalSignInError,
    ExternalSignUpError,
    ImmatureTokenError,
    InvalidApiKeyError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidCredentialsError,
    InvalidIssuerError,
    InvalidKeyError,
    InvalidSignatureError,
    InvalidTokenError,
    KeyNotFoundError,
    KeySetUnavailableError,
    MailDeliveryError,
    MalformedTokenError,
    MissingClaimError,
    NotAuthenticatedError,
    PasswordHashError,
    RateLimitError,
    RefreshTokenError,
    StoreError,
    TokenUseError,
    TokenwardError,
    UnstorableValueError,
    UnsupportedAlgorithmError,
    WeakPasswordError,
)
from tokenward.jwks import RemoteJWKS
from tokenward.keyring import KeyRing
from tokenward.keysource import KeySource, StaticKeys
from tokenward.mfa import TotpVerifier, otpauth_uri
from tokenward.passwords import OneTimeTokens, PasswordHasher, PasswordPolicy
from tokenward.principal import Principal

try:
    __version__ = _version("tokenward")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"

ALGORITHMS: tuple[str, ...] = (
    "HS256", "HS384", "HS512",
    "RS256", "RS384", "RS512",
    "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512",
    "EdDSA",
)  # fmt: skip

__all__ = [
    "ALGORITHMS",
    "JWK",
    "AuthenticationError",
    "AuthorizationError",
    "CognitoPool",
    "CognitoVerifier",
    "ConfigurationError",
    "DecryptionError",
    "DuplicateKeyError",
    "ExpiredTokenError",
    "ExternalProviderUnavailableError",
    "ExternalSignInError",
    "ExternalSignUpError",
    "FieldCipher",
    "ImmatureTokenError",
    "InvalidApiKeyError",
    "InvalidAudienceError",
    "InvalidClaimError",
    "InvalidCredentialsError",
    "InvalidIssuerError",
    "InvalidKeyError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "JWKSet",
    "KeyNotFoundError",
    "KeyRing",
    "KeySetUnavailableError",
    "KeySource",
    "MailDeliveryError",
    "MalformedTokenError",
    "MissingClaimError",
    "NotAuthenticatedError",
    "OneTimeTokens",
    "PasswordHashError",
    "PasswordHasher",
    "PasswordPolicy",
    "Principal",
    "RateLimitError",
    "RecoveryCodeHasher",
    "RefreshTokenError",
    "RemoteJWKS",
    "StaticKeys",
    "StoreError",
    "TokenUseError",
    "TokenwardError",
    "TotpVerifier",
    "UnstorableValueError",
    "UnsupportedAlgorithmError",
    "Verifier",
    "WeakPasswordError",
    "__version__",
    "base32_decode",
    "base32_encode",
    "decode",
    "encode",
    "exceptions",
    "hotp_code",
    "is_token_expired",
    "otpauth_uri",
    "token_expiry",
    "totp_code",
    "totp_secret",
    "totp_verify",
    "unverified_claims",
    "unverified_header",
]
