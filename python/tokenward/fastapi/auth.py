"""``Auth``: the app facade. The services come from the service graph
(:func:`tokenward.services.build_services`, which the CLI uses too); Auth hands them to the
routers and dependencies, installs itself on the app (OpenAPI: :mod:`tokenward.fastapi.openapi`;
route checks: :mod:`tokenward.fastapi.routes`) and runs the lifespan. Nothing below it knows it
exists."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from fastapi import APIRouter
from starlette.requests import HTTPConnection

from tokenward.access import AccessDefinition
from tokenward.accounts import Accounts, LoginResult, OnSend, UserClaims
from tokenward.authenticator import Authenticator
from tokenward.caches import ViewMemo
from tokenward.exceptions import TokenwardError
from tokenward.fastapi import errors, routes, transports
from tokenward.fastapi.accounts_router import add_account_routes
from tokenward.fastapi.api_keys import build_api_keys_router
from tokenward.fastapi.dependencies import StrategySpec, install_on_app, require_current_user
from tokenward.fastapi.jwks_router import build_jwks_router
from tokenward.fastapi.mfa_router import add_mfa_routes
from tokenward.fastapi.models import CurrentUser
from tokenward.fastapi.oauth_router import add_oauth_routes
from tokenward.fastapi.openapi import install_openapi
from tokenward.fastapi.passkeys_router import add_passkey_routes
from tokenward.fastapi.router import PREFIX, build_auth_router
from tokenward.keyring import KeyRing
from tokenward.principal import Principal
from tokenward.services import Services, build_services
from tokenward.settings import DEFAULT_PREFIX, AuthSettings
from tokenward.stores import Store
from tokenward.strategies import BasicCheck, Credentials, Strategy
from tokenward.tokens import ClientInfo, TokenPair, TokenService

__all__ = ["Auth"]

_log = logging.getLogger("tokenward")


class Auth:
    """Authentication for one FastAPI app::

        auth = Auth.from_env()                  # or Auth.from_env(prefix="VEGA_")
        app = FastAPI(lifespan=auth.lifespan)
        app.include_router(auth.router)         # /v1/auth/login, /refresh, /logout, /me

    Building an Auth checks the settings (:meth:`AuthSettings.check`) and raises
    :class:`~tokenward.ConfigurationError` for any it refuses, so a misconfigured app does not
    start. Collaborators an app plugs in: ``store`` (replaces the one ``STORE_URL`` names),
    ``clock`` (tests), ``basic`` (``async def check(username, password) -> Principal | None``,
    which turns on the ``"basic"`` strategy), ``strategies`` (more named strategies, e.g. a
    :class:`~tokenward.strategies.VerifierStrategy` for a third-party issuer), ``access`` (the
    :func:`~tokenward.access.define_access` definition ``require_entitlement`` checks against),
    ``on_send`` and ``claims`` (accounts' mail, access-token claims: docs/accounts.md). Its
    services (``tokens``, ``provider``, ``limiter``...) are the graph's (:attr:`services`).
    """

    def __init__(
        self,
        settings: AuthSettings | None = None,
        *,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
        basic: BasicCheck | None = None,
        strategies: Mapping[str, Strategy] | None = None,
        access: AccessDefinition | None = None,
        on_send: OnSend | None = None,
        claims: UserClaims | None = None,
    ) -> None:
        settings = AuthSettings.from_env() if settings is None else settings
        self.services: Services = build_services(
            settings,
            store=store,
            clock=clock,
            basic=basic,
            strategies=strategies,
            login_path=PREFIX + "/login",
            access=access,
            on_send=on_send,
            claims=claims,
        )
        graph = self.services
        self.settings = settings
        self.access = access  # entitlements (tokenward.access), for require_entitlement
        self.store: Store = graph.store
        self.tokens: TokenService | None = graph.tokens
        self.lifecycle = graph.lifecycle
        self.session_check = graph.session_check
        self.cognito = graph.cognito
        self.oidc = graph.oidc
        self.provider = graph.provider
        self.limiter = graph.limiter
        self.api_keys = graph.api_keys
        self.api: Accounts | None = graph.accounts  # sign_up, sign_in, change_password, create_user
        self.strategies = graph.strategies
        self.default_strategies = graph.default_strategies
        self.roles = graph.roles
        self.login_path: str | None = graph.login_path
        self.transports = transports.from_settings(settings, PREFIX)
        self.address: Callable[[HTTPConnection], str | None] = self.transports.address
        """The client's address as the limits count it (TRUSTED_PROXIES; transports.py)."""
        # What application code raises is answered as for this provider (Cognito: no refresh).
        self._exception_handler = errors.exception_handler_for(self.login_path)
        self.effective_scopes = graph.effective_scopes  # its credential's, then its roles'
        self.views = ViewMemo(self._view, settings.token_cache_size)
        self.current_user: Callable[[Principal], CurrentUser] = self.views.view
        """The FastAPI view of a Principal, holding its effective scopes: made once per shared
        Principal and handed to every request that proves it (:mod:`tokenward.caches`, 3.)."""
        self.default_authenticator = graph.authenticator(self.default_strategies, "any")
        """The strategies of ``AUTH_STRATEGIES`` (``require_current_user``'s), in ``any`` mode."""
        self.router: APIRouter = build_auth_router(
            current_user=require_current_user,
            signin=graph.password_login,
            sessions=self.tokens,
            guard=self.limiter,
            client=self.client,
            cookies=(cookies := self.transports.cookies),
        )
        add_mfa_routes(self.router, graph.second_factors, self.client, cookies)
        add_passkey_routes(self.router, graph.passkeys, self.client, cookies)
        add_oauth_routes(self.router, graph.oauth, settings, client=self.client, cookies=cookies)
        add_account_routes(self.router, graph.accounts, require_current_user, self.client, cookies)
        self._api_keys_router: APIRouter | None = None
        self._jwks_router: APIRouter | None = None

    @property
    def api_keys_router(self) -> APIRouter:
        """``/v1/api-keys``: ``app.include_router(auth.api_keys_router)``. ConfigurationError
        when API keys are off (Cognito without ``AUTH_SECRET``)."""
        if self._api_keys_router is None:
            self._api_keys_router = build_api_keys_router(
                service=self.services.require_api_keys(),
                current_user=require_current_user,
                effective_scopes=self.effective_scopes,
            )
        return self._api_keys_router

    @classmethod
    def from_env(cls, prefix: str = DEFAULT_PREFIX, **collaborators: Any) -> Auth:
        """Settings from the environment variables ``<prefix>AUTH_PROVIDER``, ...; the keyword
        arguments (``store``, ``clock``, ``basic``, ``strategies``) go to :class:`Auth`."""
        return cls(AuthSettings.from_env(prefix), **collaborators)

    def __repr__(self) -> str:
        return f"<Auth provider={self.provider.name!r} prefix={self.settings.env_prefix!r}>"

    @property
    def key_ring(self) -> KeyRing | None:
        """The ring that signs the custom provider's access tokens; None for HS256 or Cognito."""
        return self.services.key_ring

    @property
    def jwks_router(self) -> APIRouter:
        """:attr:`key_ring`'s public keys at ``JWKS_PATH`` (``JWKS_CACHE_CONTROL``, ETag, 304s);
        ConfigurationError when there is nothing to publish (HS256, Cognito): it does not start."""
        if self._jwks_router is None:
            self._jwks_router = build_jwks_router(
                self.services.published_ring(),
                path=self.settings.jwks_path,
                cache_control=self.settings.jwks_cache_control,
            )
        return self._jwks_router

    def rotate_keys(self) -> str:
        """Rotate the signing keys (the old one stays published until its tokens expire), save
        the ring (``SIGNING_KEY_FILE`` unless PEM, or the development key); the new kid back."""
        return self.services.rotate_keys()

    # --- what the dependencies ask for ----------------------------------------------------------

    def authenticator(self, spec: StrategySpec) -> Authenticator:
        """The authenticator for a dependency: the app's default, or ``authenticate(...)``'s."""
        if spec is None:
            return self.default_authenticator
        return self.services.authenticator(*spec)

    def client(self, request: HTTPConnection) -> ClientInfo:
        """Where a login comes from: the address and the user agent."""
        return ClientInfo(self.address(request), request.headers.get("user-agent"))

    def credentials(self, request: HTTPConnection) -> Credentials:
        """What the request presents, read by the app's transports (fastapi/transports.py)."""
        return self.transports.credentials(request)

    # --- app wiring ---------------------------------------------------------------------------

    def install(self, app: Any) -> None:
        """Attach this Auth to ``app``: dependencies find it on ``app.state``, OpenAPI shows the
        provider's sign-in flow and each protected route's 401/403/503 answers, and exceptions
        tokenward raises in application code (``AuthorizationError``...) get their HTTP answer.
        ``auth.lifespan`` does it at start-up; call it yourself right after creating the app to
        register the exception handler too (FastAPI takes handlers only before the app runs)."""
        install_on_app(app, self)
        self.check_routes(app)
        errors.register_exception_handler(app, self._exception_handler)
        install_openapi(app, self.settings, self.roles, self.login_path)

    @property
    def exception_handlers(self) -> dict[Any, Callable[..., Any]]:
        """``FastAPI(exception_handlers=auth.exception_handlers)``: the HTTP answer (401, 403,
        429, 503) for a TokenwardError application code raises, as :meth:`install` registers."""
        return {TokenwardError: self._exception_handler}

    def check_routes(self, app: Any) -> None:
        """Fail start-up (ConfigurationError) for a route whose strategies this app lacks, or
        that asks for a scope the app does not declare (when ``SCOPES`` declares them)."""
        scopes_var = self.settings.var("scopes")
        routes.check_routes(app, self.strategies, self.services.missing, self.roles, scopes_var)

    def _view(self, principal: Principal) -> CurrentUser:
        return CurrentUser.from_principal(principal, self.effective_scopes(principal))

    def route_report(self, app: Any) -> list[routes.RouteInfo]:
        """Every API route of ``app`` and whether (and how) it is protected."""
        return routes.route_report(app)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """``FastAPI(lifespan=auth.lifespan)``: installs this Auth on the app, fetches the
        Cognito keys, opens the store (failing start-up if it cannot), drops expired sessions,
        closes the store at shutdown. Nest it in an app's own: ``async with auth.lifespan(app)``."""
        self.install(app)
        await self.services.start()
        try:
            yield
        finally:
            await self.services.stop()

    # --- the custom provider's operations, for apps and tests ---------------------------------

    async def login(self, email: str, password: str, scope: str | None = None) -> LoginResult:
        """The login route without HTTP: accounts, the debug user in development only."""
        return await self.services.login(email, password, scope)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token; raises :class:`tokenward.RefreshTokenError`."""
        return await self.services.require_custom()[1].refresh(refresh_token)

    async def logout(self, refresh_token: str) -> bool:
        """Revoke the family of a refresh token; False when the token is not known. As the
        logout route, it ends the session through the session life cycle, so with
        ``REVOKE_ACCESS_TOKENS`` its access tokens are refused here at once."""
        return await self.services.require_custom()[1].revoke(refresh_token)
