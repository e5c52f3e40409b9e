"""``Auth``: the app facade. It builds what the settings ask for and hands each part its
collaborators: the provider (custom or Cognito, never both), the store, the strategies, the
routers. Nothing below it knows it exists."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from fastapi import APIRouter
from starlette.requests import HTTPConnection

from tokenward._core import DebugTokens
from tokenward.authenticator import Authenticator
from tokenward.cognito import CognitoVerifier
from tokenward.exceptions import ConfigurationError, KeySetUnavailableError, TokenwardError
from tokenward.fastapi import errors, routes
from tokenward.fastapi.dependencies import STATE_ATTR, StrategySpec, require_current_user
from tokenward.fastapi.models import CurrentUser
from tokenward.fastapi.router import PREFIX, build_auth_router
from tokenward.principal import Principal
from tokenward.providers import AuthProvider, CognitoProvider, CustomProvider
from tokenward.rbac import Roles
from tokenward.settings import DEFAULT_PREFIX, AuthSettings
from tokenward.stores import Store, open_store
from tokenward.strategies import (
    AccessTokenStrategy,
    BasicCheck,
    BasicStrategy,
    Credentials,
    GatewayStrategy,
    Strategy,
)
from tokenward.tokens import TokenPair, TokenService

__all__ = ["Auth"]

_log = logging.getLogger("tokenward")
_NO_EVENT: Mapping[str, Any] = {}


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
    :class:`~tokenward.strategies.VerifierStrategy` for a third-party issuer).
    """

    def __init__(
        self,
        settings: AuthSettings | None = None,
        *,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
        basic: BasicCheck | None = None,
        strategies: Mapping[str, Strategy] | None = None,
    ) -> None:
        settings = AuthSettings.from_env() if settings is None else settings
        settings.check()
        self.settings = settings
        self._clock = clock
        self.store: Store = open_store(settings.store_url) if store is None else store
        self.tokens: TokenService | None = None
        self.cognito: CognitoVerifier | None = None
        self.provider: AuthProvider
        custom: CustomProvider | None = None
        if settings.auth_provider == "custom":
            self.tokens = self._token_service(settings, self.store, clock)
            custom = CustomProvider(self.tokens, settings)
            self.provider = custom
            self.login_path: str | None = PREFIX + "/login"
            hint = f"an access token (POST {self.login_path} returns one)"
        else:
            self.cognito = CognitoVerifier(
                settings.cognito_region,
                settings.cognito_user_pool_id,
                client_ids=settings.cognito_client_ids,
                jwks_url=settings.cognito_jwks_url,
                cache_size=settings.token_cache_size,
                trust_gateway=settings.trust_gateway_claims,
            )
            self.provider = CognitoProvider(self.cognito)
            self.login_path = None
            hint = "a Cognito access token (Authorization: Bearer <token>)"
        self._custom = custom
        self.strategies: dict[str, Strategy] = {
            "jwt": AccessTokenStrategy(self.provider, hint=hint)
        }
        if basic is not None:
            self.strategies["basic"] = BasicStrategy(basic, realm=settings.basic_realm)
        if self.cognito is not None and settings.trust_gateway_claims:
            self.strategies["gateway"] = GatewayStrategy(self.cognito)
        for name, strategy in (strategies or {}).items():
            if name in self.strategies:
                raise ConfigurationError(f"a strategy named {name!r} exists already")
            self.strategies[name] = strategy
        self._authenticators: dict[StrategySpec, Authenticator] = {}
        self.default_strategies: tuple[str, ...] = tuple(
            n for n in settings.strategies if n in self.strategies or n != "api_key"
        )
        if "gateway" in self.strategies:  # TRUST_GATEWAY_CLAIMS: gateway first, then the others
            self.default_strategies = tuple(dict.fromkeys(("gateway", *self.default_strategies)))
        self.roles: Roles = settings.rbac()  # ROLES, SCOPES... (checked by settings.check())
        self._default = self._build(self.default_strategies, "any")
        self.router: APIRouter = build_auth_router(
            current_user=require_current_user,
            signin=custom,
            sessions=self.tokens,
        )

    @staticmethod
    def _token_service(
        settings: AuthSettings, store: Store, clock: Callable[[], float]
    ) -> TokenService:
        secret = settings.auth_secret
        if secret is None:
            tokens = DebugTokens.with_random_secret(
                issuer=settings.token_issuer, cache_size=settings.token_cache_size
            )
            settings.warn_random_secret()
        else:
            tokens = DebugTokens(
                secret.get_secret_value(),
                issuer=settings.token_issuer,
                cache_size=settings.token_cache_size,
            )
        return TokenService(
            tokens,
            store,
            access_lifetime=int(settings.access_token_lifetime.total_seconds()),
            refresh_lifetime=int(settings.refresh_token_lifetime.total_seconds()),
            reuse_grace=settings.refresh_reuse_grace.total_seconds(),
            clock=clock,
        )

    @classmethod
    def from_env(cls, prefix: str = DEFAULT_PREFIX, **collaborators: Any) -> Auth:
        """Settings from the environment variables ``<prefix>AUTH_PROVIDER``, ...; the keyword
        arguments (``store``, ``clock``, ``basic``, ``strategies``) go to :class:`Auth`."""
        return cls(AuthSettings.from_env(prefix), **collaborators)

    def __repr__(self) -> str:
        return f"<Auth provider={self.provider.name!r} prefix={self.settings.env_prefix!r}>"

    # --- what the dependencies ask for ----------------------------------------------------------

    def _build(self, names: tuple[str | Strategy, ...], mode: Any) -> Authenticator:
        chosen: list[Strategy] = []
        for item in names:
            if isinstance(item, str):
                strategy = self.strategies.get(item)
                if strategy is None:
                    raise ConfigurationError(self._missing(item))
                chosen.append(strategy)
            else:
                chosen.append(item)
        return Authenticator(chosen, mode)

    def _missing(self, name: str) -> str:
        how = {
            "basic": "pass Auth(settings, basic=check)",
            "gateway": f"set {self.settings.var('trust_gateway_claims')}=true (Cognito only)",
            "api_key": "API keys need the api_key strategy",
        }.get(name, "pass it in Auth(settings, strategies={...})")
        return f"the strategy {name!r} is not available in this app: {how}"

    def authenticator(self, spec: StrategySpec) -> Authenticator:
        """The authenticator for a dependency: the app's default, or ``authenticate(...)``'s."""
        if spec is None:
            return self._default
        found = self._authenticators.get(spec)
        if found is None:
            found = self._authenticators[spec] = self._build(spec[0], spec[1])
        return found

    def credentials(self, request: HTTPConnection) -> Credentials:
        """What the request presents: the Authorization header, the client's address, and the
        serverless event (API Gateway) when there is one."""
        scope = request.scope
        client = scope.get("client")
        return Credentials(
            request.headers.get("authorization"),
            client[0] if client else None,
            scope.get("aws.event") or _NO_EVENT,
        )

    def current_user(self, principal: Principal) -> CurrentUser:
        """The FastAPI view of ``principal``, holding its effective scopes (its credential's,
        then those its roles grant: :meth:`tokenward.rbac.Roles.effective_scopes`)."""
        return CurrentUser.from_principal(principal, self.roles.effective_scopes(principal))

    # --- app wiring ---------------------------------------------------------------------------

    def install(self, app: Any) -> None:
        """Attach this Auth to ``app``: dependencies find it on ``app.state``, OpenAPI shows the
        provider's sign-in flow and each protected route's 401/403/503 answers, and exceptions
        tokenward raises in application code (``AuthorizationError``...) get their HTTP answer.
        ``auth.lifespan`` does it at start-up; call it yourself right after creating the app to
        register the exception handler too (FastAPI takes handlers only before the app runs)."""
        setattr(app.state, STATE_ATTR, self)
        self.check_routes(app)
        if getattr(app, "middleware_stack", None) is None:
            app.add_exception_handler(TokenwardError, errors.exception_handler)
        elif TokenwardError not in getattr(app, "exception_handlers", {TokenwardError: None}):
            _log.info(
                "tokenward: the app was running before auth.install(app), so a TokenwardError "
                "raised by application code (AuthorizationError...) would be a 500: call "
                "auth.install(app) right after creating the app, or pass "
                "FastAPI(exception_handlers=auth.exception_handlers)"
            )
        openapi = getattr(app, "openapi", None)
        if openapi is not None and not getattr(openapi, "tokenward", False):
            app.openapi = self._openapi(app, openapi)

    @property
    def exception_handlers(self) -> dict[Any, Callable[..., Any]]:
        """``FastAPI(exception_handlers=auth.exception_handlers)``: the HTTP answer (401, 403,
        429, 503) for a TokenwardError application code raises, as :meth:`install` registers."""
        return {TokenwardError: errors.exception_handler}

    def check_routes(self, app: Any) -> None:
        """Fail start-up (ConfigurationError) for a route whose strategies this app lacks, or
        that asks for a scope the app does not declare (when ``SCOPES`` declares them)."""
        for _, info in routes.iter_routes(app):
            names = tuple(s for s in info.strategies if s != "default")
            for name in names:
                if name not in self.strategies and name in ("jwt", "api_key", "basic", "gateway"):
                    raise ConfigurationError(f"{info.path}: {self._missing(name)}")
        problem = routes.undeclared_scopes(app, self.roles)
        if problem:
            raise ConfigurationError(f"{problem}; declare it in {self.settings.var('scopes')}")

    def route_report(self, app: Any) -> list[routes.RouteInfo]:
        """Every API route of ``app`` and whether (and how) it is protected."""
        return routes.route_report(app)

    def _openapi(self, app: Any, original: Callable[[], dict[str, Any]]) -> Any:
        def openapi() -> dict[str, Any]:
            if app.openapi_schema:
                return app.openapi_schema  # type: ignore[no-any-return]
            schema = original()
            self._document(schema, app)
            return schema

        openapi.tokenward = True  # type: ignore[attr-defined]
        return openapi

    def _document(self, schema: dict[str, Any], app: Any) -> None:
        routes.document(schema, app)
        schemes = schema.get("components", {}).get("securitySchemes", {})
        if "tokenward" not in schemes:
            return
        var = self.settings.var
        if self.login_path is not None:
            schemes["tokenward"] = {
                "type": "oauth2",
                "description": (
                    f"Bearer access token, or an API key (Bearer vk_…). Authorize signs in "
                    f"through POST {self.login_path}: username is the email "
                    f"({var('debug_email')}), password is {var('debug_password')}."
                ),
                "flows": {
                    "password": {
                        "tokenUrl": self.login_path,
                        "refreshUrl": PREFIX + "/refresh",
                        "scopes": routes.scope_table(self.roles, self.settings.debug_user_scopes),
                    }
                },
            }
        else:
            schemes["tokenward"] = {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": (
                    "A Cognito access token of the user pool "
                    f"{self.settings.cognito_user_pool_id} ({var('cognito_user_pool_id')}), "
                    "or an API key (Bearer vk_…)."
                    + routes.scope_list(routes.scope_table(self.roles))
                ),
            }

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """``FastAPI(lifespan=auth.lifespan)``: installs this Auth on the app, fetches the
        Cognito keys, opens the store (failing start-up if it cannot), drops expired sessions,
        and closes the store at shutdown. To combine it with an app's own lifespan, nest it:
        ``async with auth.lifespan(app): yield``."""
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

    # --- the custom provider's operations, for apps and tests ---------------------------------

    def _require_custom(self) -> tuple[CustomProvider, TokenService]:
        if self._custom is None or self.tokens is None:
            raise ConfigurationError(
                f"{self.settings.var('auth_provider')}=cognito: sign-in happens at Cognito"
            )
        return self._custom, self.tokens

    async def login(self, email: str, password: str, scope: str | None = None) -> TokenPair | None:
        """A new token pair for valid debug credentials; None otherwise."""
        custom, _ = self._require_custom()
        return await custom.login(email, password, scope)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token; raises :class:`tokenward.RefreshTokenError`."""
        return await self._require_custom()[1].refresh(refresh_token)

    async def logout(self, refresh_token: str) -> bool:
        """Revoke the family of a refresh token; False when the token is not known."""
        return await self._require_custom()[1].revoke(refresh_token)
