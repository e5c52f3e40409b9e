"""``Auth``: one object that holds the settings, the provider, the store and the router."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter

from tokenward._core import DebugTokens
from tokenward.cognito import CognitoVerifier
from tokenward.exceptions import KeySetUnavailableError
from tokenward.fastapi.providers import AuthProvider, CognitoProvider, CustomProvider
from tokenward.fastapi.router import build_router
from tokenward.settings import DEFAULT_PREFIX, AuthSettings
from tokenward.stores import Store, open_store
from tokenward.tokens import TokenPair, TokenService

__all__ = ["Auth"]

_log = logging.getLogger("tokenward")


class Auth:
    """Authentication for one FastAPI app::

        auth = Auth.from_env()                  # or Auth.from_env(prefix="VEGA_")
        app = FastAPI(lifespan=auth.lifespan)
        app.include_router(auth.router)         # /v1/auth/login, /refresh, /logout, /me

    Building an Auth checks the settings (:meth:`AuthSettings.check`) and raises
    :class:`~tokenward.ConfigurationError` for any it refuses, so a misconfigured app does not
    start. ``store`` replaces the store named by ``STORE_URL``; ``clock`` is for tests.
    """

    def __init__(
        self,
        settings: AuthSettings | None = None,
        *,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        settings = AuthSettings.from_env() if settings is None else settings
        settings.check()
        self.settings = settings
        self._clock = clock
        secret = settings.auth_secret
        custom = settings.auth_provider == "custom"
        # The verified-token cache goes to whichever provider checks the access tokens.
        cache_size = settings.token_cache_size
        debug_cache = cache_size if custom else 0
        if secret is None:
            tokens = DebugTokens.with_random_secret(
                issuer=settings.token_issuer, cache_size=debug_cache
            )
            if custom:
                settings.warn_random_secret()
        else:
            tokens = DebugTokens(
                secret.get_secret_value(), issuer=settings.token_issuer, cache_size=debug_cache
            )
        self.store: Store = open_store(settings.store_url) if store is None else store
        self.tokens = TokenService(
            tokens,
            self.store,
            access_lifetime=int(settings.access_token_lifetime.total_seconds()),
            refresh_lifetime=int(settings.refresh_token_lifetime.total_seconds()),
            reuse_grace=settings.refresh_reuse_grace.total_seconds(),
            clock=clock,
        )
        self._custom = CustomProvider(self.tokens, settings)
        self.provider: AuthProvider = self._custom
        self.cognito: CognitoVerifier | None = None
        self.router: APIRouter = build_router(self)
        if settings.auth_provider == "cognito":
            self.cognito = CognitoVerifier(
                settings.cognito_region,
                settings.cognito_user_pool_id,
                client_ids=[
                    c for c in (settings.cognito_app_client_id or "").replace(",", " ").split() if c
                ],
                jwks_url=settings.cognito_jwks_url,
                cache_size=cache_size,
            )
            self.provider = CognitoProvider(self.cognito)
            # Cognito signs users in: the debug login, refresh and logout routes are not mounted.
            self.router.routes[:] = [
                r for r in self.router.routes if getattr(r, "path", "").endswith("/me")
            ]

    @classmethod
    def from_env(cls, prefix: str = DEFAULT_PREFIX, **kwargs: Any) -> Auth:
        """Settings from the environment variables ``<prefix>AUTH_PROVIDER``, ... ."""
        return cls(AuthSettings.from_env(prefix), **kwargs)

    def __repr__(self) -> str:
        return f"<Auth provider={self.provider.name!r} prefix={self.settings.env_prefix!r}>"

    # --- app wiring ---------------------------------------------------------------------------

    def install(self, app: Any) -> None:
        """Put this Auth on ``app.state`` (the lifespan does it; this is for apps without one)."""
        app.state.tokenward_auth = self

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """``FastAPI(lifespan=auth.lifespan)``: opens the store (failing start-up if it cannot),
        drops expired sessions, and closes the store at shutdown. To combine it with an app's own
        lifespan, nest it: ``async with auth.lifespan(app): yield``."""
        self.install(app)
        if self.cognito is not None:
            try:
                await self.cognito.prefetch_async()
            except KeySetUnavailableError as exc:  # start anyway: requests get 503 until it works
                _log.warning("tokenward: cannot prefetch the Cognito keys: %s", exc)
        await self.store.open()
        try:
            await self.store.purge_refresh_sessions(before=self._clock())
            yield
        finally:
            await self.store.close()

    # --- what the router calls ----------------------------------------------------------------

    async def login(self, email: str, password: str, scope: str | None = None) -> TokenPair | None:
        """A new token pair for valid debug credentials; None otherwise."""
        return await self._custom.login(email, password, scope)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token; raises :class:`tokenward.tokens.RefreshTokenError`."""
        return await self.tokens.refresh(refresh_token)

    async def logout(self, refresh_token: str) -> bool:
        """Revoke the family of a refresh token; False when the token is not known."""
        return await self.tokens.revoke(refresh_token)
