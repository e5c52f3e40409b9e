"""The custom provider's token services, built from the settings in one place.

:class:`~tokenward.fastapi.Auth` and the command line (``tokenward debug-token``, ``jwks``,
``keys rotate``) both build them here, so that a token the CLI mints is one the app accepts:
the same secret, issuer, leeway, ``TOKEN_ALGORITHM`` and signing keys.

* :func:`signing_keys`: the native ``DebugTokens`` (HS256 access tokens, refresh tokens and their
  hashes) and the access-token issuer ``TOKEN_ALGORITHM`` asks for (:mod:`tokenward.issuer`);
* :func:`token_service`: the :class:`~tokenward.tokens.TokenService` over a store, signing its
  access tokens with those keys.

Framework-free: nothing here imports FastAPI.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tokenward._core import DebugTokens
from tokenward.issuer import SigningKeys, build_signing_keys
from tokenward.sessions import SessionLifecycle
from tokenward.settings import AuthSettings
from tokenward.stores import Store
from tokenward.tokens import ExtraClaims, TokenService

__all__ = ["previous_tokens", "signing_keys", "token_service"]


def signing_keys(settings: AuthSettings, secret: bytes | str) -> tuple[DebugTokens, SigningKeys]:
    """The native tokens under ``secret`` (``AUTH_SECRET``) and the access-token issuer of
    ``TOKEN_ALGORITHM``, with ``TOKEN_ISSUER``, ``LEEWAY`` and ``TOKEN_CACHE_SIZE``.
    ConfigurationError naming the variable when the signing keys cannot be had."""
    tokens = DebugTokens(
        secret,
        issuer=settings.token_issuer,
        leeway=settings.leeway,
        cache_size=settings.token_cache_size,
    )
    return tokens, build_signing_keys(settings, tokens, previous_tokens(settings))


def previous_tokens(settings: AuthSettings) -> tuple[DebugTokens, ...]:
    """A ``DebugTokens`` under each ``AUTH_SECRET_PREVIOUS`` (a secret rotation), which check
    the HS256 access tokens and find the refresh tokens made before it."""
    return tuple(
        DebugTokens(old, issuer=settings.token_issuer, leeway=settings.leeway)
        for old in settings.previous_secrets
    )


def token_service(
    settings: AuthSettings,
    store: Store,
    secret: bytes | str,
    clock: Callable[[], float] = time.time,
    *,
    lifecycle: SessionLifecycle | None = None,
    extra_claims: ExtraClaims | None = None,
) -> tuple[TokenService, SigningKeys]:
    """The custom provider's :class:`TokenService` on ``store`` (lifetimes, reuse grace and
    session limit from the settings) and the signing keys its access tokens use; ``lifecycle``
    is the one every session ends through (the app's, which its session check listens to; a
    new one on ``store`` when None); ``extra_claims`` adds claims to its access tokens (the
    access set of ``ACCESS_SET_IN_TOKEN``)."""
    tokens, keys = signing_keys(settings, secret)
    service = TokenService(
        tokens,
        store,
        access=keys.access,
        access_lifetime=int(settings.access_token_lifetime.total_seconds()),
        refresh_lifetime=int(settings.refresh_token_lifetime.total_seconds()),
        reuse_grace=settings.refresh_reuse_grace.total_seconds(),
        max_sessions=settings.max_sessions_per_user,
        lifecycle=lifecycle,
        clock=clock,
        previous=previous_tokens(settings),
        extra_claims=extra_claims,
    )
    return service, keys
