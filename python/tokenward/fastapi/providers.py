"""Auth providers: what turns a bearer token into a :class:`CurrentUser`.

A provider is anything with a ``name`` and ``async def authenticate(token) -> CurrentUser`` that
raises :class:`tokenward.InvalidTokenError` for a token it refuses (answered with 401) and any other
:class:`tokenward.TokenwardError` when it cannot decide (answered with 503). The custom provider
signs its own tokens; the Cognito provider checks a user pool's tokens with a CognitoVerifier.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any, Protocol, runtime_checkable

from tokenward.cognito import CognitoVerifier
from tokenward.fastapi.models import CurrentUser
from tokenward.settings import AuthSettings
from tokenward.tokens import Identity, TokenPair, TokenService, split_scopes

__all__ = ["AuthProvider", "CognitoProvider", "CustomProvider", "user_from_claims"]


@runtime_checkable
class AuthProvider(Protocol):
    """Turns an access token into the user it was issued to."""

    @property
    def name(self) -> str: ...

    async def authenticate(self, token: str) -> CurrentUser: ...


def user_from_claims(claims: dict[str, Any], provider: str) -> CurrentUser:
    """A CurrentUser from verified claims (Cognito-style ``cognito:groups`` and ``scope``)."""
    groups = claims.get("cognito:groups")
    email = claims.get("email")
    scope = claims.get("scope")
    return CurrentUser(
        sub=str(claims["sub"]),
        email=email if isinstance(email, str) else None,
        groups=[g for g in groups if isinstance(g, str)] if isinstance(groups, list) else [],
        scopes=list(split_scopes(scope if isinstance(scope, str) else None)),
        provider=provider,
        claims=claims,
    )


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class CognitoProvider:
    """Access (or ID) tokens of a Cognito user pool, checked by a :class:`CognitoVerifier`.

    Key fetches await; a key set that cannot be had raises KeySetUnavailableError (503)."""

    name = "cognito"

    def __init__(self, verifier: CognitoVerifier) -> None:
        self.verifier = verifier

    async def authenticate(self, token: str) -> CurrentUser:
        return user_from_claims(await self.verifier.verify_async(token), self.name)


class CustomProvider:
    """tokenward's own tokens, and one debug user whose credentials come from the settings."""

    name = "custom"

    def __init__(self, service: TokenService, settings: AuthSettings) -> None:
        self.service = service
        self._email = settings.debug_email
        self._email_digest = _digest(settings.debug_email.strip().casefold())
        self._password_digest = _digest(settings.debug_password.get_secret_value())
        self._groups = settings.groups
        self._scopes = settings.scopes
        self._sub = str(uuid.uuid5(uuid.NAMESPACE_URL, "tokenward:debug:" + self._email.lower()))

    async def authenticate(self, token: str) -> CurrentUser:
        return user_from_claims(self.service.verify_access(token), self.name)

    def check_credentials(self, email: str, password: str) -> bool:
        """Constant time, and both comparisons always run: the answer and its timing do not say
        which of the two was wrong."""
        email_ok = hmac.compare_digest(_digest(email.strip().casefold()), self._email_digest)
        password_ok = hmac.compare_digest(_digest(password), self._password_digest)
        return email_ok & password_ok

    def identity(self, requested_scope: str | None) -> Identity:
        """The debug user, with the requested scopes it may have (all of them when none asked)."""
        requested = split_scopes(requested_scope)
        scopes = self._scopes if not requested else tuple(s for s in requested if s in self._scopes)
        return Identity(sub=self._sub, email=self._email, groups=self._groups, scopes=scopes)

    async def login(self, email: str, password: str, scope: str | None = None) -> TokenPair | None:
        """A new session for the debug user, or None when the credentials are wrong."""
        if not self.check_credentials(email, password):
            return None
        return await self.service.start(self.identity(scope))
