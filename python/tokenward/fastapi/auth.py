"""``Auth``: the app facade. It builds what the settings ask for and hands each part its
collaborators: the provider (custom or Cognito, never both), the store, the strategies, the
routers. Nothing below it knows it exists."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from fastapi import APIRouter
from starlette.requests import HTTPConnection

from tokenward._core import ApiKeyHasher
from tokenward.access import AccessDefinition, access_set_claims
from tokenward.apikeys import ApiKeyService
from tokenward.authenticator import Authenticator
from tokenward.cognito import CognitoVerifier
from tokenward.exceptions import ConfigurationError, KeySetUnavailableError, TokenwardError
from tokenward.fastapi import errors, routes, transports
from tokenward.fastapi.api_keys import build_api_keys_router
from tokenward.fastapi.dependencies import StrategySpec, install_on_app, require_current_user
from tokenward.fastapi.jwks_router import build_jwks_router
from tokenward.fastapi.models import CurrentUser
from tokenward.fastapi.router import PREFIX, build_auth_router
from tokenward.issuer import SigningKeys, rotate
from tokenward.keyring import KeyRing
from tokenward.oidc import OidcProvider, OidcVerifier
from tokenward.principal import FrozenDict, Principal, remember
from tokenward.providers import AuthProvider, CognitoProvider, CustomProvider, SessionCheck
from tokenward.ratelimit import (
    UNVERIFIED,
    LoginLimiter,
    TrustedProxies,
    client_address,
    limiter_key,
)
from tokenward.rbac import Roles
from tokenward.services import token_service
from tokenward.sessions import SessionLifecycle
from tokenward.settings import DEFAULT_PREFIX, AuthSettings
from tokenward.stores import Store, open_store
from tokenward.strategies import (
    AccessTokenStrategy,
    ApiKeyStrategy,
    BasicCheck,
    BasicStrategy,
    Credentials,
    GatewayStrategy,
    IntrospectionStrategy,
    Strategy,
)
from tokenward.tokens import ClientInfo, TokenPair, TokenService

__all__ = ["Auth"]

_log = logging.getLogger("tokenward")
_COGNITO_SCOPES = ("openid", "email", "profile")  # what the hosted UI's Authorize asks for
_TOKEN_KINDS = {"access": "access token", "id": "ID token", "any": "access or ID token"}


def _required_scopes(schema: Mapping[str, Any]) -> list[str]:
    """Every scope an operation of ``schema`` requires under the ``tokenward`` scheme."""
    found: dict[str, None] = {}
    for item in schema.get("paths", {}).values():
        for operation in item.values() if isinstance(item, dict) else ():
            for requirement in operation.get("security", ()) if isinstance(operation, dict) else ():
                for scope in requirement.get("tokenward", ()):
                    found[scope] = None
    return list(found)


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
    :func:`~tokenward.access.define_access` definition ``require_entitlement`` checks against).
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
    ) -> None:
        settings = AuthSettings.from_env() if settings is None else settings
        settings.check()
        self.settings = settings
        self._clock = clock
        self.store: Store = open_store(settings.store_url) if store is None else store
        self.access = access  # entitlements (tokenward.access), for require_entitlement
        self.tokens: TokenService | None = None
        self.lifecycle: SessionLifecycle | None = None
        self.cognito: CognitoVerifier | None = None
        self.oidc: OidcVerifier | None = None
        self.provider: AuthProvider
        custom: CustomProvider | None = None
        self.session_check: SessionCheck | None = None
        self._signing: SigningKeys | None = None  # the custom provider's access-token keys
        self._jwks_router: APIRouter | None = None
        self._proxies = TrustedProxies(settings.proxies)
        # Where credentials are read: Authorization, X-API-Key, cookies, WebSocket handshakes.
        self.transports = transports.from_settings(settings, self.address, PREFIX)
        self._warned_unverified = False
        secret = self._secret(settings)
        self.limiter = LoginLimiter(
            self.store,
            key=limiter_key(secret),
            previous_keys=[limiter_key(old) for old in settings.previous_secrets],
            max_failures=settings.login_max_failures,
            failure_window=settings.login_failure_window.total_seconds(),
            max_per_address=settings.login_max_per_address,
            refresh_per_address=settings.refresh_max_per_address,
            clock=clock,
        )
        if settings.auth_provider == "custom":
            settings.warn_custom_auth()
            # Every way a session ends passes this one life cycle; the session check listens.
            self.lifecycle = SessionLifecycle(self.store, clock=clock)
            if settings.revoke_access_tokens:
                self.session_check = SessionCheck(
                    self.lifecycle, ttl=settings.session_check_cache_ttl, clock=clock
                )
            # TokenService and TOKEN_ALGORITHM's signing keys: the CLI builds them there too.
            self.tokens, self._signing = token_service(
                settings,
                self.store,
                secret,
                clock,
                lifecycle=self.lifecycle,
                extra_claims=(  # ACCESS_SET_IN_TOKEN: the access set in every access token
                    access_set_claims(access, self.store) if settings.access_set_in_token else None
                ),
            )
            custom = CustomProvider(
                self.tokens,
                settings,
                session_check=self.session_check,
                memo_size=settings.token_cache_size,
            )
            self.tokens.reidentify = custom.reidentify
            self.provider = custom
            self.login_path: str | None = PREFIX + "/login"
            hint = f"an access token (POST {self.login_path} returns one)"
        elif settings.auth_provider == "oidc":  # any OpenID Connect issuer (docs/oidc.md)
            self.oidc = OidcVerifier(
                issuers=settings.oidc_issuer_configs(),
                leeway=settings.leeway,
                cache_size=settings.token_cache_size,
            )
            self.provider = OidcProvider(self.oidc, memo_size=settings.token_cache_size)
            self.login_path = None
            hint = "an access token of " + " or ".join(self.oidc.issuers) + " (Bearer <token>)"
        else:
            use = settings.cognito_token_use  # COGNITO_TOKEN_USE: access, id or any
            self.cognito = CognitoVerifier(
                settings.cognito_region,
                settings.cognito_user_pool_id,
                client_ids=settings.cognito_client_ids,
                jwks_url=settings.cognito_jwks_url,
                issuer=settings.cognito_issuer,
                cache_size=settings.token_cache_size,
                trust_gateway=settings.trust_gateway_claims,
                leeway=settings.leeway,
                token_use=None if use == "any" else use,
            )
            self.provider = CognitoProvider(self.cognito, memo_size=settings.token_cache_size)
            self.login_path = None
            hint = f"a Cognito {_TOKEN_KINDS[use]} (Authorization: Bearer <token>)"
        self._custom = custom
        # What application code raises is answered as for this provider (no refresh route to
        # point at under Cognito).
        self._exception_handler = errors.exception_handler_for(self.login_path)
        self.api_keys = self._api_key_service(settings, secret, clock)
        self.strategies: dict[str, Strategy] = {
            "jwt": AccessTokenStrategy(self.provider, hint=hint)
        }
        if self.api_keys is not None:
            self.strategies["api_key"] = ApiKeyStrategy(self.api_keys)
        if basic is not None:
            self.strategies["basic"] = BasicStrategy(
                basic, realm=settings.basic_realm, guard=self.limiter
            )
        if self.cognito is not None and settings.trust_gateway_claims:
            self.strategies["gateway"] = GatewayStrategy(self.cognito)
        if settings.oidc_introspection_url and settings.oidc_client_secret is not None:
            self.strategies["introspection"] = IntrospectionStrategy(
                settings.oidc_introspection_url,
                client_id=settings.oidc_client_id or "",
                client_secret=settings.oidc_client_secret.get_secret_value(),
                audience=settings.oidc_audience_list or None,
                leeway=settings.leeway,
                max_cache_ttl=settings.oidc_introspection_cache_ttl,
                mapping=self.oidc.configs[0].mapping if self.oidc is not None else None,
            )
        for name, strategy in (strategies or {}).items():
            if name in self.strategies:
                raise ConfigurationError(f"a strategy named {name!r} exists already")
            self.strategies[name] = strategy
        self._authenticators: dict[StrategySpec, Authenticator] = {}
        self.default_strategies: tuple[str, ...] = tuple(
            n for n in settings.strategies if n != "api_key" or self.api_keys is not None
        )
        if "gateway" in self.strategies:  # TRUST_GATEWAY_CLAIMS: gateway first, then the others
            self.default_strategies = tuple(dict.fromkeys(("gateway", *self.default_strategies)))
        self.roles: Roles = settings.rbac()  # ROLES, SCOPES... (checked by settings.check())
        self._roles_grant = bool(self.roles.roles)
        self._users: dict[int, tuple[Principal, CurrentUser]] = {}
        self._users_capacity = settings.token_cache_size
        self.default_authenticator: Authenticator = self._build(self.default_strategies, "any")
        """The strategies of ``AUTH_STRATEGIES`` (``require_current_user``'s), in ``any`` mode."""
        self.router: APIRouter = build_auth_router(
            current_user=require_current_user,
            signin=custom,
            sessions=self.tokens,
            guard=self.limiter,
            client=self.client,
            cookies=self.transports.cookies,
        )
        self._api_keys_router: APIRouter | None = None

    @property
    def api_keys_router(self) -> APIRouter:
        """``/v1/api-keys``: ``app.include_router(auth.api_keys_router)``. ConfigurationError
        when API keys are off (Cognito without ``AUTH_SECRET``)."""
        if self.api_keys is None:
            raise ConfigurationError(
                f"API keys need {self.settings.var('auth_secret')} (32 bytes or more): their "
                "hashes are keyed with it, and every instance must share it"
            )
        if self._api_keys_router is None:
            self._api_keys_router = build_api_keys_router(
                service=self.api_keys,
                current_user=require_current_user,
                effective_scopes=self.effective_scopes,
            )
        return self._api_keys_router

    @staticmethod
    def _secret(settings: AuthSettings) -> bytes:
        """``AUTH_SECRET``; without it a random one for this process: under the custom provider
        (development only: the settings check refuses it elsewhere) with a warning that tokens
        will not survive a restart; under Cognito it keys only the limiter's counter names."""
        if settings.auth_secret is None:
            if settings.auth_provider == "custom":
                settings.warn_random_secret()
            return secrets.token_bytes(32)
        return settings.auth_secret.get_secret_value().encode("utf-8")

    def _api_key_service(
        self, settings: AuthSettings, secret: bytes, clock: Callable[[], float]
    ) -> ApiKeyService | None:
        """The API keys, or None under Cognito without ``AUTH_SECRET``: a random per-process
        key would make every key unusable on other instances and after a restart."""
        if settings.auth_secret is None and settings.auth_provider != "custom":
            if "auth_strategies" in settings.model_fields_set and "api_key" in settings.strategies:
                raise ConfigurationError(
                    f"{settings.var('auth_strategies')} names api_key, which needs "
                    f"{settings.var('auth_secret')} (32 bytes or more, the same on every instance)"
                )
            _log.warning(
                "tokenward: API keys are off: %s is not set (Bearer vk_… is refused)",
                settings.var("auth_secret"),
            )
            return None
        return ApiKeyService(
            ApiKeyHasher(secret),
            self.store,
            cache_ttl=settings.api_key_cache_ttl,
            clock=clock,
            check_secret=settings.auth_secret is not None,
            previous=[ApiKeyHasher(old) for old in settings.previous_secrets],
        )

    @classmethod
    def from_env(cls, prefix: str = DEFAULT_PREFIX, **collaborators: Any) -> Auth:
        """Settings from the environment variables ``<prefix>AUTH_PROVIDER``, ...; the keyword
        arguments (``store``, ``clock``, ``basic``, ``strategies``) go to :class:`Auth`."""
        return cls(AuthSettings.from_env(prefix), **collaborators)

    def __repr__(self) -> str:
        return f"<Auth provider={self.provider.name!r} prefix={self.settings.env_prefix!r}>"

    # --- the custom provider's signing keys (TOKEN_ALGORITHM, tokenward/issuer.py) ---------------

    @property
    def key_ring(self) -> KeyRing | None:
        """The ring that signs the custom provider's access tokens; None for HS256 (and for
        Cognito)."""
        return self._signing.ring if self._signing is not None else None

    @property
    def jwks_router(self) -> APIRouter:
        """An APIRouter serving :attr:`key_ring`'s public keys at ``JWKS_PATH`` with
        ``JWKS_CACHE_CONTROL``, an ETag and 304s. ConfigurationError when there is nothing to
        publish (HS256 or Cognito), so an app including it does not start."""
        if self._jwks_router is None:
            ring = self.key_ring
            var = self.settings.var
            if ring is None:
                if self._signing is None:
                    raise ConfigurationError(
                        f"{var('auth_provider')}=cognito: the user pool publishes its own keys; "
                        "auth.jwks_router serves the custom provider's"
                    )
                raise ConfigurationError(
                    f"{var('token_algorithm')}=HS256 signs with a shared secret: there is no "
                    f"public key to publish; set {var('token_algorithm')} to ES256, EdDSA, RS256 "
                    "or PS256 for a JWKS endpoint"
                )
            self._jwks_router = build_jwks_router(
                ring, path=self.settings.jwks_path, cache_control=self.settings.jwks_cache_control
            )
        return self._jwks_router

    def rotate_keys(self) -> str:
        """Rotate the signing keys: the next key (or a new one) signs from now on, the old one
        stays published until its tokens have expired. The ring is saved back to its file
        (``SIGNING_KEY_FILE`` unless PEM, or the development key). Returns the new kid."""
        if self._signing is None or self._signing.ring is None:
            raise ConfigurationError(
                f"no key ring to rotate: {self.settings.var('token_algorithm')} must be "
                "asymmetric (custom provider)"
            )
        return rotate(self._signing)

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
            return self.default_authenticator
        found = self._authenticators.get(spec)
        if found is None:
            found = self._authenticators[spec] = self._build(spec[0], spec[1])
        return found

    def address(self, request: HTTPConnection) -> str | None:
        """The client's address as the limits count it (:func:`tokenward.ratelimit.client_address`):
        the socket's peer, or behind a proxy listed in ``TRUSTED_PROXIES`` the right-most
        untrusted ``X-Forwarded-For`` entry, or ``"unverified"`` when the server took the peer
        from ``X-Forwarded-For`` with no trusted proxy vouching for it."""
        scope = request.scope
        client = scope.get("client")
        peer = client[0] if client else None
        forwarded = [
            v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"
        ]
        address = client_address(peer, forwarded, self._proxies)
        if address == UNVERIFIED and not self._warned_unverified:
            self._warned_unverified = True
            _log.warning(
                "tokenward: the server took a client address from X-Forwarded-For that no proxy "
                "in %s vouches for; such requests are counted together as %r. List your "
                "proxies in %s, and give uvicorn the same in --forwarded-allow-ips.",
                self.settings.var("trusted_proxies"),
                UNVERIFIED,
                self.settings.var("trusted_proxies"),
            )
        return address

    def client(self, request: HTTPConnection) -> ClientInfo:
        """Where a login comes from: the address and the user agent."""
        return ClientInfo(self.address(request), request.headers.get("user-agent"))

    def credentials(self, request: HTTPConnection) -> Credentials:
        """What the request presents, read by the app's transports (fastapi/transports.py)."""
        return self.transports.credentials(request)

    def effective_scopes(self, principal: Principal) -> tuple[str, ...]:
        """What ``principal`` may do: its credential's scopes, then those its roles grant
        (:meth:`tokenward.rbac.Roles.effective_scopes`). An API key's are exactly those it was
        given: its owner's roles do not widen a key made narrow on purpose."""
        if principal.credential_type == "api_key":
            return principal.scopes
        return tuple(self.roles.effective_scopes(principal))

    def current_user(self, principal: Principal) -> CurrentUser:
        """The FastAPI view of ``principal``, holding its effective scopes.

        A CurrentUser is immutable, so the view of a Principal the provider remembers for its
        token (one whose claims are a FrozenDict, see PrincipalMemo) is made once and handed to
        every request that proves the same Principal, up to ``TOKEN_CACHE_SIZE`` of them. The
        Principal was checked on this request already: this saves building, never checking."""
        found = self._users.get(id(principal))
        if found is not None and found[0] is principal:
            return found[1]
        # As effective_scopes(), without its calls when no role grants anything.
        if principal.credential_type == "api_key" or not self._roles_grant:
            user = CurrentUser.from_principal(principal, principal.scopes)
        else:
            user = CurrentUser.from_principal(principal, self.roles.effective_scopes(principal))
        if type(principal.claims) is FrozenDict:
            # Keyed by identity, holding the Principal: its id cannot be reused while it is here.
            remember(self._users, id(principal), (principal, user), self._users_capacity)
        return user

    # --- app wiring ---------------------------------------------------------------------------

    def install(self, app: Any) -> None:
        """Attach this Auth to ``app``: dependencies find it on ``app.state``, OpenAPI shows the
        provider's sign-in flow and each protected route's 401/403/503 answers, and exceptions
        tokenward raises in application code (``AuthorizationError``...) get their HTTP answer.
        ``auth.lifespan`` does it at start-up; call it yourself right after creating the app to
        register the exception handler too (FastAPI takes handlers only before the app runs)."""
        install_on_app(app, self)
        self.check_routes(app)
        if getattr(app, "middleware_stack", None) is None:
            app.add_exception_handler(TokenwardError, self._exception_handler)
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
        self._init_swagger_oauth(app)

    def _init_swagger_oauth(self, app: Any) -> None:
        """``COGNITO_DOMAIN``: Swagger UI's Authorize runs the authorization-code flow with PKCE
        as the first app client (set only when the app has no ``swagger_ui_init_oauth``)."""
        if self.cognito is None or not self.settings.cognito_domain:
            return
        if not hasattr(app, "swagger_ui_init_oauth") or app.swagger_ui_init_oauth is not None:
            return
        app.swagger_ui_init_oauth = {
            "clientId": self.settings.cognito_client_ids[0],
            "usePkceWithAuthorizationCodeGrant": True,
            "scopes": " ".join(_COGNITO_SCOPES),
        }

    @property
    def exception_handlers(self) -> dict[Any, Callable[..., Any]]:
        """``FastAPI(exception_handlers=auth.exception_handlers)``: the HTTP answer (401, 403,
        429, 503) for a TokenwardError application code raises, as :meth:`install` registers."""
        return {TokenwardError: self._exception_handler}

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
        elif self.settings.cognito_domain:
            hosted = f"https://{self.settings.cognito_domain.strip()}/oauth2"
            scopes = {s: s for s in _COGNITO_SCOPES}
            scopes.update((s, s) for s in _required_scopes(schema))
            schemes["tokenward"] = {
                "type": "oauth2",
                "description": (
                    "Signs in at the Cognito hosted UI of the user pool "
                    f"{self.settings.cognito_user_pool_id} ({var('cognito_domain')}): "
                    "authorization code with PKCE. Or an API key (Bearer vk_…)."
                ),
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": f"{hosted}/authorize",
                        "tokenUrl": f"{hosted}/token",
                        "refreshUrl": f"{hosted}/token",
                        "scopes": scopes,
                    }
                },
            }
        else:
            schemes["tokenward"] = {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": (
                    (
                        f"An access token of {' or '.join(self.oidc.issuers)} "
                        f"({var('oidc_issuer')}), "
                        if self.oidc is not None
                        else f"A Cognito {_TOKEN_KINDS[self.settings.cognito_token_use]} of the "
                        f"user pool {self.settings.cognito_user_pool_id} "
                        f"({var('cognito_user_pool_id')}), "
                    )
                    + "or an API key (Bearer vk_…)."
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
        if self.oidc is not None:
            try:
                await self.oidc.prefetch_async()
            except KeySetUnavailableError as exc:  # start anyway: requests get 503 until it works
                _log.warning("tokenward: cannot discover the OIDC issuer's keys: %s", exc)
        await self.store.open()
        try:
            now = self._clock()
            await self.store.purge_refresh_sessions(before=now)
            await self.store.purge_counters(before=now)
            if self.api_keys is not None and not await self.api_keys.verify_secret():
                _log.error(
                    "tokenward: %s is not the one the store's API keys were made with: every "
                    "key is refused here, and creating keys is refused (503)",
                    self.settings.var("auth_secret"),
                )
            yield
        finally:
            await self.store.close()

    # --- the custom provider's operations, for apps and tests ---------------------------------

    def _require_custom(self) -> tuple[CustomProvider, TokenService]:
        if self._custom is None or self.tokens is None:
            raise ConfigurationError(
                f"{self.settings.var('auth_provider')}={self.settings.auth_provider}: sign-in "
                "happens at the identity provider"
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
        """Revoke the family of a refresh token; False when the token is not known. As the
        logout route, it ends the session through the session life cycle, so with
        ``REVOKE_ACCESS_TOKENS`` its access tokens are refused here at once."""
        return await self._require_custom()[1].revoke(refresh_token)
